"""Side-by-side benchmark of lagwatch against the seeds' routine, Kafka's own tool, peers and raw _bulk.

    python -m bench.run                                # estates W and G, 5 runs each, prints the table
    python -m bench.run --write-results bench/RESULTS.md
    python -m bench.run --estates W --scale 0.01 --runs 2 --no-peers   # a smoke-size run

Everything runs in this one process tree, on this machine, against brokers and an Elasticsearch node that
the bench starts itself on 127.0.0.1 (or the ones given with --bootstrap / --es-url). Each estate gets a
fresh broker (2 GB heap, 50 __consumer_offsets partitions like production). See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import estate as estates
from bench import peers
from bench.estate import EstateSpec

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


# --- measuring child processes ---------------------------------------------------------------------


@dataclasses.dataclass
class Child:
    wall_s: float
    cpu_s: float  # user+system of the child process, from wait4
    peak_rss_mb: float  # the child's own VmHWM (see run_child)
    returncode: int
    stdout: str
    stderr: str
    ru_maxrss_mb: float = float("nan")  # what wait4 says: not the child's own peak (see run_child)


def run_child(cmd: list[str], timeout: float, env: dict | None = None) -> Child:
    """Run a command; wall time, CPU time and peak RSS of that process alone.

    Peak RSS is the child's VmHWM (/proc/<pid>/status: the high-water mark of its own address space since
    exec), read every 10 ms while it runs; a child that reports its own at exit (scrape_once, stages) is
    read from its output instead. Not `ru_maxrss`: Linux carries the maximum RSS over exec, and Python
    starts children with vfork, so a child's ru_maxrss is never below this bench process's own peak (once
    the indexing comparison has loaded its 52,001 documents, every child "peaked" at 321 MB)."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    started = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
    deadline = started + timeout
    hwm = 0.0
    while True:
        hwm = max(hwm, vmhwm_mb(process.pid))
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            status = -9
            break
        time.sleep(0.01)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status) if status != -9 else -9
    out.seek(0), err.seek(0)
    stdout = out.read().decode(errors="replace")
    reported = _reported_vmhwm_mb(stdout)
    return Child(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=reported if reported is not None else hwm,
        returncode=process.returncode,
        stdout=stdout,
        stderr=err.read().decode(errors="replace"),
        ru_maxrss_mb=usage.ru_maxrss / 1024,
    )


def vmhwm_mb(pid: int | str = "self") -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def _reported_vmhwm_mb(stdout: str) -> float | None:
    lines = stdout.strip().splitlines()
    try:
        value = json.loads(lines[-1]).get("vmhwm_kb") if lines else None
    except (ValueError, AttributeError):
        return None
    return value / 1024 if value else None


def spread(values: list[float]) -> dict[str, float]:
    values = [v for v in values if v is not None]
    if not values:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


# --- the contenders ----------------------------------------------------------------------------------


def lagwatch_once(bootstrap: str, prefix: str, dump_docs: Path | None = None, timeout: float = 900) -> dict:
    """One fresh process: the first scrape (connect included) and a second one on the same connection (what
    the daemon does every interval). Peak RSS is the whole process's."""
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


# --- Elasticsearch: lagwatch's sink against a raw _bulk loop ----------------------------------------


def measure_indexing(es_url: str, docs_path: Path, runs: int, chunk: int = 1000) -> dict:
    """Same documents, same batch size, same index template; fresh indices per run, order rotated per round.
    Contenders: lagwatch's `ElasticsearchSink.deliver`, and the raw `_bulk` loop with the standard library's
    json (the loop issue #7 defined) and with orjson (the same serializer lagwatch uses: the stricter floor)."""
    from elasticsearch import Elasticsearch

    from exporter.sinks.elasticsearch import ElasticsearchSink

    docs = [json.loads(line) for line in docs_path.read_text().splitlines()]
    client = Elasticsearch(es_url, request_timeout=120)
    host = es_url.split("://", 1)[-1].rstrip("/")
    who_all = ("lagwatch", "raw", "raw_orjson")
    rates: dict[str, list[float]] = {w: [] for w in who_all}
    cpus: dict[str, list[float]] = {w: [] for w in who_all}
    walls: dict[str, list[float]] = {w: [] for w in who_all}
    try:
        for index in range(runs):
            order = who_all[index % 3:] + who_all[: index % 3]
            for who in order:
                sink = ElasticsearchSink(client, prefix=f"bench{index}{who.replace('_', '')}",
                                         storage="daily_indices", chunk_size=chunk)
                sink.setup()
                # Index creation (about a second here) is not what is compared: all write into indices
                # that already exist, as the daemon does on every scrape but the first of the day.
                for name in sorted({sink.index_for(doc) for doc in docs}):
                    client.indices.create(index=name)
                client.cluster.health(wait_for_status="yellow", timeout="60s")
                cpu = time.process_time()
                started = time.perf_counter()
                if who == "lagwatch":
                    result = sink.deliver(docs)
                    indexed = result.indexed + result.duplicates
                else:
                    indexed = _raw_bulk(host, docs, sink.index_for, chunk, orjson_dumps=who == "raw_orjson")
                seconds = time.perf_counter() - started
                cpus[who].append(time.process_time() - cpu)
                walls[who].append(seconds)
                rates[who].append(len(docs) / seconds)
                if indexed != len(docs):
                    raise RuntimeError(f"{who}: indexed {indexed} of {len(docs)} documents")
                log(f"indexing round {index + 1}/{runs} {who}: {len(docs):,} docs in {seconds:.2f}s "
                    f"= {len(docs) / seconds:,.0f} docs/s, client cpu {cpus[who][-1]:.2f}s")
                client.indices.delete(index=",".join(client.indices.get(index=f"{sink.name}-*")))
                client.indices.delete_index_template(name=sink.name)
    finally:
        client.close()
    share = [ours / raw for ours, raw in zip(rates["lagwatch"], rates["raw"])]
    share_orjson = [ours / raw for ours, raw in zip(rates["lagwatch"], rates["raw_orjson"])]
    return {"lagwatch_docs_s": spread(rates["lagwatch"]), "raw_docs_s": spread(rates["raw"]),
            "raw_orjson_docs_s": spread(rates["raw_orjson"]), "documents": len(docs), "chunk": chunk,
            "lagwatch_client_cpu_s": spread(cpus["lagwatch"]), "raw_client_cpu_s": spread(cpus["raw"]),
            "raw_orjson_client_cpu_s": spread(cpus["raw_orjson"]), "lagwatch_wall_s": spread(walls["lagwatch"]),
            "share_rounds": share, "share": spread(share), "share_orjson_rounds": share_orjson,
            "share_orjson": spread(share_orjson)}


def _raw_bulk(host: str, docs: list[dict], index_for: Callable[[dict], str], chunk: int,
              orjson_dumps: bool = False) -> int:
    """The floor: NDJSON built by hand and POSTed to /_bulk over one kept-alive connection."""
    if orjson_dumps:
        import orjson

        dumps, loads = orjson.dumps, orjson.loads
    else:
        dumps, loads = (lambda value: json.dumps(value).encode()), json.loads
    connection = http.client.HTTPConnection(host, timeout=120)
    indexed = 0
    try:
        for start in range(0, len(docs), chunk):
            lines = []
            for doc in docs[start : start + chunk]:
                source = {k: v for k, v in doc.items() if k != "_id"}
                lines.append(dumps({"index": {"_index": index_for(doc), "_id": doc["_id"]}}))
                lines.append(dumps(source))
            body = b"\n".join(lines) + b"\n"
            connection.request("POST", "/_bulk", body, {"Content-Type": "application/x-ndjson"})
            response = loads(connection.getresponse().read())
            indexed += sum(1 for item in response["items"] if item["index"].get("status", 500) < 300)
    finally:
        connection.close()
    return indexed


# --- the services ---------------------------------------------------------------------------------


def start_broker():
    from devstack import KafkaBroker

    return KafkaBroker(
        jvm_options=["-Xms1g", "-Xmx2g"],
        extra_properties={"offsets.topic.num.partitions": "50", "auto.create.topics.enable": "false"},
        progress=lambda m: log(f"kafka: {m}"),
    ).start()


def start_es():
    from devstack import ElasticsearchNode

    return ElasticsearchNode(progress=lambda m: log(f"elasticsearch: {m}")).start()


# --- one estate ----------------------------------------------------------------------------------


def bench_estate(spec: EstateSpec, args, es_url: str | None, workdir: Path, peer_setup: dict) -> dict:
    broker = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        broker = start_broker()
        bootstrap = broker.bootstrap
    try:
        build = estates.build(bootstrap, spec, progress=lambda m: log(f"estate {spec.name}: {m}"))
        result: dict = {"spec": dataclasses.asdict(spec), "describe": spec.describe(), "build_s": build,
                        "expected_lag": estates.expected_lag(spec)}
        docs_path = workdir / f"docs-{spec.name}.jsonl"
        log(f"== {spec.name}: documents for the indexing comparison")
        lagwatch_once(bootstrap, spec.prefix, dump_docs=docs_path)  # not measured: keeps its documents
        result.update(rounds(bootstrap, spec, args, peer_setup, result["expected_lag"]))
        log(f"== {spec.name}: seeds' routine")
        sample = args.seeds_sample or (10 if spec.pairs / spec.groups > 10 else 100)
        result["seeds"] = measure_seeds(bootstrap, spec, args.runs, min(sample, spec.groups))
        log(f"== {spec.name}: Kafka's ConsumerGroupCommand")
        result["kafka_tool"] = measure_kafka_tool(bootstrap, args.runs, args.tool_budget_s)
        if es_url and spec.name in args.index_estates:
            log(f"== {spec.name}: indexing into Elasticsearch")
            result["indexing"] = measure_indexing(es_url, docs_path, args.runs)
        if args.growth and spec.name in args.growth_estates:
            result["growth"] = growth(bootstrap, spec, args)
        return result
    finally:
        if broker is not None:
            broker.stop()


def rounds(bootstrap: str, spec: EstateSpec, args, peer_setup: dict, expected: int | None) -> dict:
    """Alternating rounds on one broker: each round runs lagwatch (a fresh process: first and next scrape),
    the staged scrape, and one steady-state full scrape of every running peer; odd rounds in reverse order.
    Ratios are taken within a round (peer time / lagwatch time), so load that changes between rounds cancels."""
    out: dict = {}
    running: dict[str, peers.Running] = {}
    for name in args.peers:
        state = peer_setup.get(name) or {"ok": False, "why": "not set up"}
        if not state["ok"]:
            out[name] = {"ran": False, "why": state["why"]}
            continue
        log(f"== {spec.name}: starting {name}")
        try:
            running[name] = peers.start(name, state, bootstrap, spec, args.peer_timeout_s, log, expected)
        except peers.PeerFailed as exc:
            out[name] = {"ran": False, "why": str(exc)}
            log(f"{name} did not run: {exc}")
    ready = {name: r.full_view_s for name, r in running.items()}
    lagwatch_rows, stage_rows, table = [], [], []
    peer_rows: dict[str, list[dict]] = {name: [] for name in running}
    try:
        for index in range(args.runs):
            order = ["lagwatch", "stages", *running]
            if index % 2:
                order.reverse()
            log(f"== {spec.name}: round {index + 1}/{args.runs} ({', '.join(order)})")
            row: dict = {"round": index + 1, "order": order, "load1": load1()}
            for who in order:
                if who == "lagwatch":
                    got = lagwatch_once(bootstrap, spec.prefix)
                    lagwatch_rows.append(got)
                    row.update(lagwatch_first_s=got["wall_s"], lagwatch_next_s=got["warm_wall_s"],
                               lagwatch_next_runq_s=got["warm_runq_s"], lagwatch_next_cpu_s=got["warm_cpu_s"])
                elif who == "stages":
                    got = stages_once(bootstrap)
                    stage_rows.append(got)
                    row["staged_next_s"] = got["warm"]["total"]["wall_s"]
                elif who in running:
                    try:
                        got = running[who].scrape(spec.prefix, args.peer_timeout_s)
                    except peers.PeerFailed as exc:
                        out[who] = {"ran": False, "why": f"round {index + 1}: {exc}"}
                        running.pop(who).stop()
                        log(f"{who} stopped: {exc}")
                        continue
                    peer_rows[who].append(got)
                    row[f"{who}_s"] = got["wall_s"]
                    row[f"{who}_cpu_s"] = got["cpu_s"]
                    log(f"{who}: {got['wall_s']:.2f}s, {got['rows']:,} rows, {got['groups']:,} groups, "
                        f"lag {got['lag']:,}")
            for name in peer_rows:
                if f"{name}_s" in row:
                    row[f"{name}_ratio_next"] = row[f"{name}_s"] / row["lagwatch_next_s"]
                    row[f"{name}_ratio_first"] = row[f"{name}_s"] / row["lagwatch_first_s"]
                    row[f"{name}_ratio_cpu"] = row[f"{name}_cpu_s"] / row["lagwatch_next_cpu_s"]
                    if "staged_next_s" in row:
                        row[f"{name}_ratio_staged"] = row[f"{name}_s"] / row["staged_next_s"]
            table.append(row)
    finally:
        rss = {name: r.stop() for name, r in running.items()}
    out["lagwatch"] = summarize_lagwatch(lagwatch_rows)
    out["stages"] = summarize_stages(stage_rows)
    out["rounds"] = table
    for name, got in peer_rows.items():
        if name in out:  # it failed in a later round: its row says why
            continue
        state = peer_setup[name]
        ratios = {k: spread([r[f"{name}_ratio_{k}"] for r in table if f"{name}_ratio_{k}" in r])
                  for k in ("next", "first", "staged", "cpu")}
        out[name] = {
            "ran": True, "version": state.get("version", ""), "how": state.get("how"),
            "what": "one full /metrics" + (" (from memory, once it holds the estate)" if name == "burrow" else ""),
            "wall_s": spread([g["wall_s"] for g in got]), "cpu_s": spread([g["cpu_s"] for g in got]),
            "peak_rss_mb": spread([rss.get(name, float("nan"))]),
            "rows": got[-1]["rows"], "groups_seen": got[-1]["groups"], "lag": got[-1]["lag"],
            "metrics_bytes": got[-1]["bytes"], "ratio": ratios,
            "ready_s": ready.get(name),  # start until /metrics first served the estate (Burrow: all of it)
        }
    return out


def growth(bootstrap: str, spec: EstateSpec, args) -> list[dict]:
    """lagwatch at 1x, 2x, 4x ... the estate's groups on the same broker: groups are added, the topics
    stay (partitions per broker are bounded by vm.max_map_count, see RESULTS.md). One staged scrape per size
    shows which stage grows."""
    points = []
    built = spec.groups
    for factor in args.growth:
        grown = dataclasses.replace(spec, name=f"{spec.name}x{factor:g}", groups=round(spec.groups * factor))
        if grown.groups > built:
            estates.build(bootstrap, grown, progress=lambda m: log(f"estate {grown.name}: {m}"),
                          groups_from=built)
            built = grown.groups
        log(f"== growth {grown.name}: {grown.describe()}")
        measured = measure_lagwatch(bootstrap, max(1, min(args.runs, args.growth_runs)), spec.prefix)
        staged = summarize_stages([stages_once(bootstrap)])
        points.append({"factor": factor, "describe": grown.describe(), "groups": grown.groups,
                       "pairs": grown.pairs, "lagwatch": measured, "stages": staged})
    return points


# --- the run ---------------------------------------------------------------------------------------


class LoadSampler:
    """The 1-minute load average every 10 s while the bench runs: the machine is shared."""

    def __init__(self, every_s: float = 10.0):
        import threading

        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s: float) -> None:
        while True:
            self.samples.append((time.time(), float(open("/proc/loadavg").read().split()[0])))
            if self._stop.wait(every_s):
                return

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(timeout=5)
        loads = [load for _, load in self.samples]
        return {"samples": len(loads), **spread(loads)}


def load1() -> float:
    return float(open("/proc/loadavg").read().split()[0])


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                           if line.startswith("model name"))
        info["memory_gb"] = round(int(next(line.split()[1] for line in open("/proc/meminfo")
                                           if line.startswith("MemTotal"))) / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    info["loadavg"] = open("/proc/loadavg").read().split()[:3]
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
        info["java"] = java
    except OSError:
        pass
    from devstack.versions import ELASTICSEARCH_VERSION, KAFKA_VERSION
    import kafka

    info.update(kafka=KAFKA_VERSION, elasticsearch=ELASTICSEARCH_VERSION, kafka_python=kafka.__version__)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--estates", default="W,G", help="comma-separated: W, G")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply topics and groups of each estate")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seeds-sample", type=int, help="groups the seeds' routine measures (default 10 or 100)")
    parser.add_argument("--tool-budget-s", type=float, default=300, help="seconds for Kafka's tool per estate")
    parser.add_argument("--peers", default="kafka_exporter,kminion,burrow", help="comma-separated, or ''")
    parser.add_argument("--no-peers", action="store_const", const="", dest="peers")
    parser.add_argument("--peers-src", help=f"directory with one source checkout per peer (default ${peers.SRC_ENV})")
    parser.add_argument("--peer-timeout-s", type=float, default=300,
                        help="seconds a peer may take to serve the estate, and for one full scrape")
    parser.add_argument("--index-estates", default="W", help="estates whose documents are indexed")
    parser.add_argument("--no-es", action="store_true")
    parser.add_argument("--growth", default="1,2,4", help="factors of the growth curve ('' for none)")
    parser.add_argument("--growth-estate", "--growth-estates", dest="growth_estates", default="W,G",
                        help="comma-separated estates that get a growth curve")
    parser.add_argument("--growth-runs", type=int, default=3)
    parser.add_argument("--bootstrap", help="use this broker instead of starting one per estate")
    parser.add_argument("--es-url", help="use this Elasticsearch instead of starting a node")
    parser.add_argument("--prefix", default="bench", help="name prefix of topics and groups")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--write-results", help="write the Markdown report here (e.g. bench/RESULTS.md)")
    args = parser.parse_args(argv)
    args.peers = [p for p in (args.peers or "").split(",") if p]
    args.growth = [float(f) for f in args.growth.split(",") if f]
    args.index_estates = set(args.index_estates.split(","))

    specs = []
    for name in args.estates.split(","):
        spec = dataclasses.replace(estates.ESTATES[name], prefix=args.prefix)
        specs.append(spec.scaled(args.scale) if args.scale != 1 else spec)
    wanted = [g for g in args.growth_estates.split(",") if g]
    args.growth_estates = {s.name for s in specs if s.name.split("x")[0] in wanted}
    args.index_estates = {s.name for s in specs if s.name.split("x")[0] in args.index_estates}

    started = time.time()
    results: dict = {"machine": machine(), "argv": sys.argv[1:], "started": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                                                        time.gmtime()),
                     "estates": {}}
    sampler = LoadSampler()
    peer_setup = peers.setup(args.peers, args.peers_src, log) if args.peers else {}
    results["peer_setup"] = peer_setup
    es_node = None
    es_url = args.es_url
    workdir = Path(tempfile.mkdtemp(prefix="lagwatch-bench-"))
    try:
        if not args.no_es and es_url is None and args.index_estates:
            es_node = start_es()
            es_url = es_node.url
        for spec in specs:
            results["estates"][spec.name] = bench_estate(spec, args, es_url, workdir, peer_setup)
    finally:
        results["load"] = sampler.stop()
        if es_node is not None:
            es_node.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    results["elapsed_s"] = time.time() - started
    results["bench_process_vmhwm_mb"] = vmhwm_mb()  # the parent; children's peaks are their own
    results["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    from bench import report

    print(report.tables(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    if args.write_results:
        Path(args.write_results).write_text(report.render(results))
        log(f"wrote {args.write_results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
