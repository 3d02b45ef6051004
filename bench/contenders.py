"""The contenders, each measured in processes of its own: lagwatch's scrape (bench/scrape_once.py), the staged
scrape (bench/stages.py), the seeds' per-partition routine and Kafka's own ConsumerGroupCommand."""

from __future__ import annotations

import json
from pathlib import Path

from bench.estate_spec import EstateSpec
from bench.measure import PYTHON, log, run_child, spread


def lagwatch_once(bootstrap: str, prefix: str, dump_docs: Path | None = None, timeout: float = 900) -> dict:
    """One fresh process: the first scrape (connect included) and a second one on the same connection (what
    the daemon does every interval: collect to `_bulk` bytes, bench/scrape_once.py). Peak RSS is the whole
    process's."""
    cmd = [PYTHON, "-m", "bench.scrape_once", "--bootstrap", bootstrap, "--scrapes", "2", "--prefix", prefix]
    if dump_docs is not None:
        cmd += ["--dump-docs", str(dump_docs)]
    child = run_child(cmd, timeout)
    if child.returncode != 0:
        raise RuntimeError(f"lagwatch scrape failed:\n{child.stderr[-3000:]}")
    data = json.loads(child.stdout.strip().splitlines()[-1])
    first, second = data["scrapes"][0], data["scrapes"][-1]
    row = {
        "wall_s": first["wall_s"],
        "cpu_s": first["cpu_s"],
        "warm_wall_s": second["wall_s"],
        "warm_cpu_s": second["cpu_s"],
        "runq_s": first["runq_s"],
        "warm_runq_s": second["runq_s"],
        "process_wall_s": child.wall_s,
        "peak_rss_mb": child.peak_rss_mb,
        "requests": first["requests"],
        "requests_by_api": first["requests_by_api"],
        "warm_requests": second["requests"],
        "documents": first["documents"],
        "groups": first["groups"],
        "pairs": first["pairs"],
        "errors": first["errors"],
        "lag": first["lag_prefixed"],
    }
    log(f"lagwatch: scrape {first['wall_s']:.2f}s (next {second['wall_s']:.2f}s) cpu {first['cpu_s']:.2f}s "
        f"rss {child.peak_rss_mb:.0f} MB requests {first['requests']} (next {second['requests']}) "
        f"docs {first['documents']:,} rows {first['pairs']:,} errors {first['errors']}")
    return row


def lagwatch_steady(bootstrap: str, scrapes: int, timeout: float = 1800) -> dict:
    """One fresh process scraping `scrapes` times in a row, as the daemon does interval after interval: the
    next scrapes' (all but the first) median and worst, with the garbage collector's share, so the periodic
    full collection (exporter/runtime/gcpause.py) that two scrapes never reach is in the figures."""
    child = run_child([PYTHON, "-m", "bench.scrape_once", "--bootstrap", bootstrap, "--scrapes", str(scrapes)],
                      timeout)
    if child.returncode != 0:
        raise RuntimeError(f"lagwatch steady run failed:\n{child.stderr[-3000:]}")
    data = json.loads(child.stdout.strip().splitlines()[-1])
    following = data["scrapes"][1:]
    worst = max(range(len(following)), key=lambda i: following[i]["wall_s"])
    row = {
        "scrapes": len(data["scrapes"]),
        "wall_s": spread([s["wall_s"] for s in following]),
        "cpu_s": spread([s["cpu_s"] for s in following]),
        "runq_s": spread([s["runq_s"] for s in following]),
        "gc_s": spread([s["gc_s"] for s in following]),
        "worst": {"scrape": worst + 2, **{k: following[worst][k] for k in ("wall_s", "cpu_s", "runq_s", "gc_s")}},
        "full_gc_scrapes": [i + 2 for i, s in enumerate(following) if s["gc_full"]],
        "per_scrape_wall_s": [round(s["wall_s"], 4) for s in data["scrapes"]],
        "peak_rss_mb": child.peak_rss_mb,
    }
    log(f"lagwatch, {row['scrapes']} scrapes in one process: next median {row['wall_s']['median']:.2f}s, worst "
        f"{row['worst']['wall_s']:.2f}s (scrape {row['worst']['scrape']}), rss {child.peak_rss_mb:.0f} MB")
    return row


LAGWATCH_STATS = ("wall_s", "cpu_s", "runq_s", "warm_wall_s", "warm_cpu_s", "warm_runq_s", "process_wall_s",
                  "peak_rss_mb")


def summarize_lagwatch(rows: list[dict]) -> dict:
    result = {key: spread([r[key] for r in rows]) for key in LAGWATCH_STATS}
    last = rows[-1]
    result.update({k: last[k] for k in ("requests", "requests_by_api", "warm_requests", "documents", "groups",
                                        "pairs", "errors", "lag")})
    return result


def measure_lagwatch(bootstrap: str, runs: int, prefix: str) -> dict:
    return summarize_lagwatch([lagwatch_once(bootstrap, prefix) for _ in range(runs)])


def stages_once(bootstrap: str, timeout: float = 900) -> dict:
    """One fresh process timing each stage of a first and a next scrape (bench/stages.py)."""
    child = run_child([PYTHON, "-m", "bench.stages", "--bootstrap", bootstrap, "--scrapes", "2"], timeout)
    if child.returncode != 0:
        raise RuntimeError(f"staged scrape failed:\n{child.stderr[-3000:]}")
    data = json.loads(child.stdout.strip().splitlines()[-1])
    first, warm = data["scrapes"][0], data["scrapes"][-1]
    log("stages (next scrape): " + ", ".join(f"{k} {v['wall_s']:.2f}s" for k, v in warm["stages"].items())
        + f"; total {warm['total']['wall_s']:.2f}s, decode {warm['stages']['collect']['decode_s']:.2f}s of "
        f"{warm['stages']['collect']['response_bytes'] / 1e6:.1f} MB")
    return {"first": first, "warm": warm, "peak_rss_mb": child.peak_rss_mb}


STAGE_KEYS = ("wall_s", "cpu_s", "runq_s")


def summarize_stages(rows: list[dict]) -> dict:
    """Per scrape (first, warm) and stage: the spread of wall and CPU over the runs, plus the collect details."""
    out: dict = {"runs": len(rows), "peak_rss_mb": spread([r["peak_rss_mb"] for r in rows])}
    for which in ("first", "warm"):
        scrapes = [r[which] for r in rows]
        stages = {}
        for name in scrapes[0]["stages"]:
            stages[name] = {k: spread([s["stages"][name][k] for s in scrapes]) for k in STAGE_KEYS}
        collect = [s["stages"]["collect"] for s in scrapes]
        stages["collect"].update(
            decode_s=spread([c["decode_s"] for c in collect]),
            decode_cpu_s=spread([c["decode_cpu_s"] for c in collect]),
            broker_wait_s=spread([c["broker_wait_s"] for c in collect]),
            response_bytes=collect[-1]["response_bytes"],
            bytes_by_api=collect[-1]["bytes_by_api"],
            responses=collect[-1]["responses"],
            decode_cpu_by_api=collect[-1]["decode_cpu_by_api"],
            floor=collect[-1]["floor"],
            floor_cpu_s=spread([c["floor"]["offset_fetch_direct_cpu_s"] for c in collect]),
            offset_fetch_decode_cpu_s=spread([c["decode_cpu_by_api"].get("OffsetFetch", 0.0) for c in collect]),
            offset_fetch_kafka_python_cpu_s=spread([c["floor"]["offset_fetch_kafka_python_cpu_s"] for c in collect]),
            requests=collect[-1]["requests"],
        )
        detail = {name: {k: spread([s["detail"][name][k] for s in scrapes]) for k in STAGE_KEYS}
                  for name in scrapes[0]["detail"]}
        out[which] = {
            "stages": stages,
            "detail": detail,
            "total": {k: spread([s["total"][k] for s in scrapes]) for k in STAGE_KEYS},
            **{k: scrapes[-1][k] for k in ("groups", "rows", "documents", "bulk_bodies", "bulk_bytes", "errors")},
        }
    return out


SEEDS_CODE = r"""
import json, sys, time
from kafka import KafkaConsumer, TopicPartition
bootstrap, plan = sys.argv[1], json.loads(sys.argv[2])
pairs = lag = 0
started = time.perf_counter()
for group, topic_list in plan:
    # The seeds' routine, as published: a consumer inside the monitored group, one partition at a time.
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                             client_id="bench-seeds")
    for topic in topic_list:
        for partition in consumer.partitions_for_topic(topic):
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            committed = consumer.committed(tp)
            consumer.seek_to_end(tp)
            last_offset = consumer.position(tp)
            if committed is not None:
                lag += last_offset - committed
            pairs += 1
    consumer.close(autocommit=False)
print(json.dumps({"seconds": time.perf_counter() - started, "pairs": pairs, "groups": len(plan), "lag": lag}))
"""


def seeds_plan(spec: EstateSpec, sample: int) -> list[tuple[str, list[str]]]:
    """`sample` groups spread evenly over the estate, each with the topics it has committed offsets on."""
    step = max(1, spec.groups // sample)
    plan = []
    for index, (group, tps) in enumerate(spec.assignments()):
        if index % step == 0 and len(plan) < sample:
            plan.append((group, sorted({t for t, _ in tps})))
    return plan


def measure_seeds(bootstrap: str, spec: EstateSpec, runs: int, sample: int, timeout: float = 900) -> dict:
    """The baseline on `sample` groups, extrapolated linearly to every group of the estate."""
    plan = seeds_plan(spec, sample)
    rows = []
    for index in range(runs):
        child = run_child([PYTHON, "-c", SEEDS_CODE, bootstrap, json.dumps(plan)], timeout)
        if child.returncode != 0:
            raise RuntimeError(f"seeds routine failed:\n{child.stderr[-3000:]}")
        data = json.loads(child.stdout.strip().splitlines()[-1])
        per_group = data["seconds"] / data["groups"]
        rows.append({"measured_s": data["seconds"], "extrapolated_s": per_group * spec.groups,
                     "peak_rss_mb": child.peak_rss_mb, "pairs": data["pairs"], "groups": data["groups"]})
        log(f"seeds run {index + 1}/{runs}: {data['groups']} groups / {data['pairs']} partitions in "
            f"{data['seconds']:.2f}s -> {per_group * spec.groups:,.0f}s extrapolated to {spec.groups:,} groups")
    return {
        "wall_s": spread([r["extrapolated_s"] for r in rows]),
        "measured_s": spread([r["measured_s"] for r in rows]),
        "peak_rss_mb": spread([r["peak_rss_mb"] for r in rows]),
        "sample_groups": rows[-1]["groups"],
        "sample_pairs": rows[-1]["pairs"],
        "extrapolated": rows[-1]["groups"] < spec.groups,
    }


def kafka_tool_cmd(args: list[str], heap: str = "-Xmx256m") -> list[str]:
    """Kafka's own kafka-consumer-groups (ConsumerGroupCommand) from the cached jars; 256 MB heap is what
    kafka-run-class.sh gives its tools by default."""
    from devstack.common import java_home
    from devstack.kafka import CONSUMER_GROUP_COMMAND
    from devstack.maven import kafka_libs
    from devstack.versions import KAFKA_VERSION

    libs = kafka_libs(KAFKA_VERSION, lambda m: log(f"kafka jars: {m}"))
    return [str(java_home() / "bin" / "java"), heap, "-cp", str(libs / "*"), CONSUMER_GROUP_COMMAND, *args]


def measure_kafka_tool(bootstrap: str, runs: int, budget_s: float, timeout: float = 900) -> dict:
    """`--describe --all-groups`, JVM start included (that is what a user waits for). Runs stop early once
    `budget_s` is spent (at least one run); the JVM's own start-up is measured apart with --version."""
    startup = [run_child(kafka_tool_cmd(["--version"]), 120).wall_s for _ in range(min(3, runs))]
    rows, spent = [], 0.0
    note = ""
    for index in range(runs):
        child = run_child(kafka_tool_cmd(["--bootstrap-server", bootstrap, "--describe", "--all-groups",
                                          "--timeout", "600000"]), timeout)
        spent += child.wall_s
        lines = [line for line in child.stdout.splitlines() if line.strip() and not line.startswith("GROUP ")]
        if child.returncode != 0:
            note = f"exit {child.returncode}: {child.stderr.strip().splitlines()[-1:] or child.stdout[-300:]}"
            log(f"kafka tool run {index + 1} failed after {child.wall_s:.1f}s: {note}")
            break
        rows.append({"wall_s": child.wall_s, "cpu_s": child.cpu_s, "peak_rss_mb": child.peak_rss_mb,
                     "rows": len(lines)})
        log(f"kafka tool run {index + 1}/{runs}: {child.wall_s:.2f}s, cpu {child.cpu_s:.1f}s, "
            f"rss {child.peak_rss_mb:.0f} MB, {len(lines):,} rows")
        if spent > budget_s and index + 1 < runs:
            note = f"stopped after {index + 1} runs: time budget of {budget_s:.0f}s spent"
            log(note)
            break
    return {
        "wall_s": spread([r["wall_s"] for r in rows]),
        "cpu_s": spread([r["cpu_s"] for r in rows]),
        "peak_rss_mb": spread([r["peak_rss_mb"] for r in rows]),
        "jvm_start_s": spread(startup),
        "rows": rows[-1]["rows"] if rows else 0,
        "note": note,
    }

