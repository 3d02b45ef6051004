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
    peak_rss_mb: float  # ru_maxrss of the child
    returncode: int
    stdout: str
    stderr: str


def run_child(cmd: list[str], timeout: float, env: dict | None = None) -> Child:
    """Run a command; wall time, CPU time and peak RSS of that process alone (os.wait4's rusage)."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    started = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
    deadline = started + timeout
    while True:
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
    return Child(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        returncode=process.returncode,
        stdout=out.read().decode(errors="replace"),
        stderr=err.read().decode(errors="replace"),
    )


def spread(values: list[float]) -> dict[str, float]:
    values = [v for v in values if v is not None]
    if not values:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


# --- the contenders ----------------------------------------------------------------------------------


def measure_lagwatch(bootstrap: str, runs: int, dump_docs: Path | None = None, timeout: float = 900) -> dict:
    """One fresh process per run: the first scrape (connect included) and a second one on the same
    connection (what the daemon does every interval). Peak RSS is the whole process's."""
    rows = []
    for index in range(runs):
        cmd = [PYTHON, "-m", "bench.scrape_once", "--bootstrap", bootstrap, "--scrapes", "2"]
        if dump_docs is not None and index == 0:
            cmd += ["--dump-docs", str(dump_docs)]
        child = run_child(cmd, timeout)
        if child.returncode != 0:
            raise RuntimeError(f"lagwatch scrape failed:\n{child.stderr[-3000:]}")
        data = json.loads(child.stdout.strip().splitlines()[-1])
        first, second = data["scrapes"][0], data["scrapes"][-1]
        rows.append(
            {
                "wall_s": first["wall_s"],
                "cpu_s": first["cpu_s"],
                "warm_wall_s": second["wall_s"],
                "warm_cpu_s": second["cpu_s"],
                "process_wall_s": child.wall_s,
                "peak_rss_mb": child.peak_rss_mb,
                "requests": first["requests"],
                "requests_by_api": first["requests_by_api"],
                "documents": first["documents"],
                "groups": first["groups"],
                "pairs": first["pairs"],
                "errors": first["errors"],
            }
        )
        log(
            f"lagwatch run {index + 1}/{runs}: scrape {first['wall_s']:.2f}s (warm {second['wall_s']:.2f}s) "
            f"cpu {first['cpu_s']:.2f}s rss {child.peak_rss_mb:.0f} MB requests {first['requests']} "
            f"docs {first['documents']:,} groups {first['groups']:,} errors {first['errors']}"
        )
    result = {key: spread([r[key] for r in rows]) for key in (
        "wall_s", "cpu_s", "warm_wall_s", "warm_cpu_s", "process_wall_s", "peak_rss_mb")}
    last = rows[-1]
    result.update(requests=last["requests"], requests_by_api=last["requests_by_api"], documents=last["documents"],
                  groups=last["groups"], pairs=last["pairs"], errors=last["errors"])
    return result


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
    from exporter.devstack.common import java_home
    from exporter.devstack.kafka import CONSUMER_GROUP_COMMAND
    from exporter.devstack.maven import kafka_libs
    from exporter.devstack.versions import KAFKA_VERSION

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
    """Same documents, same batch size, same index template; fresh indices per run, alternating order."""
    from elasticsearch import Elasticsearch

    from exporter.sinks.elasticsearch import ElasticsearchSink

    docs = [json.loads(line) for line in docs_path.read_text().splitlines()]
    client = Elasticsearch(es_url, request_timeout=120)
    host = es_url.split("://", 1)[-1].rstrip("/")
    ours, raw, ours_cpu, raw_cpu = [], [], [], []
    try:
        for index in range(runs):
            order = ("lagwatch", "raw") if index % 2 == 0 else ("raw", "lagwatch")
            for who in order:
                sink = ElasticsearchSink(client, prefix=f"bench{index}{who}", storage="daily_indices",
                                         chunk_size=chunk)
                sink.setup()
                # Index creation (about a second here) is not what is compared: both write into indices
                # that already exist, as the daemon does on every scrape but the first of the day.
                for name in sorted({sink.index_for(doc) for doc in docs}):
                    client.indices.create(index=name)
                client.cluster.health(wait_for_status="yellow", timeout="60s")
                cpu = time.process_time()
                if who == "lagwatch":
                    started = time.perf_counter()
                    result = sink.deliver(docs)
                    seconds = time.perf_counter() - started
                    indexed = result.indexed + result.duplicates
                    ours.append(len(docs) / seconds)
                    ours_cpu.append(time.process_time() - cpu)
                else:
                    started = time.perf_counter()
                    indexed = _raw_bulk(host, docs, sink.index_for, chunk)
                    seconds = time.perf_counter() - started
                    raw.append(len(docs) / seconds)
                    raw_cpu.append(time.process_time() - cpu)
                if indexed != len(docs):
                    raise RuntimeError(f"{who}: indexed {indexed} of {len(docs)} documents")
                log(f"indexing run {index + 1}/{runs} {who}: {len(docs):,} docs in {seconds:.2f}s "
                    f"= {len(docs) / seconds:,.0f} docs/s")
                client.indices.delete(index=",".join(client.indices.get(index=f"bench{index}{who}-lag-*")))
                client.indices.delete_index_template(name=sink.name)
    finally:
        client.close()
    return {"lagwatch_docs_s": spread(ours), "raw_docs_s": spread(raw), "documents": len(docs), "chunk": chunk,
            "lagwatch_client_cpu_s": spread(ours_cpu), "raw_client_cpu_s": spread(raw_cpu)}


def _raw_bulk(host: str, docs: list[dict], index_for: Callable[[dict], str], chunk: int) -> int:
    """The floor: NDJSON built by hand and POSTed to /_bulk over one kept-alive connection."""
    connection = http.client.HTTPConnection(host, timeout=120)
    indexed = 0
    try:
        for start in range(0, len(docs), chunk):
            lines = []
            for doc in docs[start : start + chunk]:
                source = {k: v for k, v in doc.items() if k != "_id"}
                lines.append(json.dumps({"index": {"_index": index_for(doc), "_id": doc["_id"]}}))
                lines.append(json.dumps(source))
            body = ("\n".join(lines) + "\n").encode()
            connection.request("POST", "/_bulk", body, {"Content-Type": "application/x-ndjson"})
            response = json.loads(connection.getresponse().read())
            indexed += sum(1 for item in response["items"] if item["index"].get("status", 500) < 300)
    finally:
        connection.close()
    return indexed


# --- the services ---------------------------------------------------------------------------------


def start_broker():
    from exporter.devstack import KafkaBroker

    return KafkaBroker(
        jvm_options=["-Xms1g", "-Xmx2g"],
        extra_properties={"offsets.topic.num.partitions": "50", "auto.create.topics.enable": "false"},
        progress=lambda m: log(f"kafka: {m}"),
    ).start()


def start_es():
    from exporter.devstack import ElasticsearchNode

    return ElasticsearchNode(progress=lambda m: log(f"elasticsearch: {m}")).start()


# --- one estate ----------------------------------------------------------------------------------


def bench_estate(spec: EstateSpec, args, es_url: str | None, workdir: Path) -> dict:
    broker = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        broker = start_broker()
        bootstrap = broker.bootstrap
    try:
        build = estates.build(bootstrap, spec, progress=lambda m: log(f"estate {spec.name}: {m}"))
        result: dict = {"spec": dataclasses.asdict(spec), "describe": spec.describe(), "build_s": build}
        docs_path = workdir / f"docs-{spec.name}.jsonl"
        log(f"== {spec.name}: lagwatch")
        result["lagwatch"] = measure_lagwatch(bootstrap, args.runs, dump_docs=docs_path)
        log(f"== {spec.name}: seeds' routine")
        sample = args.seeds_sample or (10 if spec.pairs / spec.groups > 10 else 100)
        result["seeds"] = measure_seeds(bootstrap, spec, args.runs, min(sample, spec.groups))
        log(f"== {spec.name}: Kafka's ConsumerGroupCommand")
        result["kafka_tool"] = measure_kafka_tool(bootstrap, args.runs, args.tool_budget_s)
        if args.peers:
            for name in args.peers:
                log(f"== {spec.name}: {name}")
                result[name] = peers.measure(name, bootstrap, spec, args.runs, log)
        if es_url and spec.name in args.index_estates:
            log(f"== {spec.name}: indexing into Elasticsearch")
            result["indexing"] = measure_indexing(es_url, docs_path, args.runs)
        if args.growth and spec.name == args.growth_estate:
            result["growth"] = growth(bootstrap, spec, args)
        return result
    finally:
        if broker is not None:
            broker.stop()


def growth(bootstrap: str, spec: EstateSpec, args) -> list[dict]:
    """lagwatch at 1x, 2x, 4x ... the estate's groups on the same broker: groups are added, the topics
    stay (partitions per broker are bounded by vm.max_map_count, see RESULTS.md)."""
    points = []
    built = spec.groups
    for factor in args.growth:
        grown = dataclasses.replace(spec, name=f"{spec.name}x{factor:g}", groups=round(spec.groups * factor))
        if grown.groups > built:
            estates.build(bootstrap, grown, progress=lambda m: log(f"estate {grown.name}: {m}"),
                          groups_from=built)
            built = grown.groups
        log(f"== growth {grown.name}: {grown.describe()}")
        measured = measure_lagwatch(bootstrap, max(1, min(args.runs, args.growth_runs)))
        points.append({"factor": factor, "describe": grown.describe(), "groups": grown.groups,
                       "pairs": grown.pairs, "lagwatch": measured})
    return points


# --- the report ----------------------------------------------------------------------------------


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def fmt_s(stat: dict) -> str:
    if not stat or not stat.get("n"):
        return "n/a"
    return f"{_num(stat['median'])} s ({_num(stat['min'])}-{_num(stat['max'])}, n={stat['n']})"


def fmt_mb(stat: dict) -> str:
    if not stat or not stat.get("n"):
        return "n/a"
    return f"{stat['median']:.0f} MB ({stat['min']:.0f}-{stat['max']:.0f})"


def ratio(theirs: dict, ours: dict) -> str:
    if not theirs or not ours or not theirs.get("n") or not ours.get("n"):
        return "n/a"
    return f"{theirs['median'] / ours['median']:.1f}x"


def table(results: dict) -> str:
    out = []
    for name, r in results["estates"].items():
        lw = r["lagwatch"]
        out.append(f"\n### Estate {name}: {r['describe']}\n")
        out.append("| tool | wall time, median (min-max, runs) | CPU | peak RSS | Kafka requests | "
                   "lagwatch faster by |")
        out.append("|---|---|---|---|---|---|")
        out.append(f"| **lagwatch**, first scrape of a fresh process | {fmt_s(lw['wall_s'])} | {fmt_s(lw['cpu_s'])} | "
                   f"{fmt_mb(lw['peak_rss_mb'])} | {lw['requests']} | - |")
        out.append(f"| **lagwatch**, next scrape (daemon steady state) | {fmt_s(lw['warm_wall_s'])} | "
                   f"{fmt_s(lw['warm_cpu_s'])} | (same process) | {lw['requests']} | - |")
        s = r["seeds"]
        label = (f"seeds' routine ({s['sample_groups']} of {r['spec']['groups']:,} groups measured, "
                 f"**extrapolated**)" if s["extrapolated"] else "seeds' routine")
        out.append(f"| {label} | {fmt_s(s['wall_s'])} | - | {fmt_mb(s['peak_rss_mb'])} | "
                   f"~3 per partition | {ratio(s['wall_s'], lw['wall_s'])} |")
        k = r["kafka_tool"]
        out.append(f"| Kafka `ConsumerGroupCommand --describe --all-groups` (JVM start {fmt_s(k['jvm_start_s'])} "
                   f"included) | {fmt_s(k['wall_s'])} | {fmt_s(k['cpu_s'])} | {fmt_mb(k['peak_rss_mb'])} | - | "
                   f"{ratio(k['wall_s'], lw['wall_s'])} |")
        for peer in ("kafka_exporter", "kminion", "burrow"):
            if peer in r:
                p = r[peer]
                if p.get("ran"):
                    out.append(f"| {peer} {p.get('version', '')} ({p.get('what', '')}) | {fmt_s(p['wall_s'])} | - | "
                               f"{fmt_mb(p['peak_rss_mb'])} | - | {ratio(p['wall_s'], lw['wall_s'])} |")
                else:
                    out.append(f"| {peer} | did not run: {p['why']} | | | | |")
        out.append(f"\nlagwatch: {lw['groups']:,} groups, {lw['pairs']:,} group-partition rows, "
                   f"{lw['documents']:,} documents, {lw['errors']} errors; requests by API: "
                   f"`{json.dumps(lw['requests_by_api'])}`. Estate built in "
                   + ", ".join(f"{k} {v:.0f}s" for k, v in r["build_s"].items()) + ".")
        if k.get("note"):
            out.append(f"\nKafka tool: {k['note']}")
        if "indexing" in r:
            ix = r["indexing"]
            share = ix["lagwatch_docs_s"]["median"] / ix["raw_docs_s"]["median"]
            out.append(f"\nIndexing {ix['documents']:,} documents in batches of {ix['chunk']}: lagwatch sink "
                       f"{ix['lagwatch_docs_s']['median']:,.0f} docs/s ({ix['lagwatch_docs_s']['min']:,.0f}-"
                       f"{ix['lagwatch_docs_s']['max']:,.0f}), raw `_bulk` loop {ix['raw_docs_s']['median']:,.0f} "
                       f"docs/s ({ix['raw_docs_s']['min']:,.0f}-{ix['raw_docs_s']['max']:,.0f}): "
                       f"**{100 * share:.0f}% of raw**. Client CPU for all documents (this process; the rest of "
                       f"the time is Elasticsearch's): lagwatch {fmt_s(ix['lagwatch_client_cpu_s'])}, raw "
                       f"{fmt_s(ix['raw_client_cpu_s'])}.")
        if "growth" in r:
            out.append("\nGrowth (lagwatch, first scrape of a fresh process):\n")
            out.append("| size | groups | group-partition pairs | wall | next scrape | peak RSS |")
            out.append("|---|---|---|---|---|---|")
            for point in r["growth"]:
                g = point["lagwatch"]
                out.append(f"| {point['factor']:g}x | {point['groups']:,} | {point['pairs']:,} | "
                           f"{fmt_s(g['wall_s'])} | {fmt_s(g['warm_wall_s'])} | {fmt_mb(g['peak_rss_mb'])} |")
    return "\n".join(out)


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
    from exporter.devstack.versions import ELASTICSEARCH_VERSION, KAFKA_VERSION
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
    parser.add_argument("--index-estates", default="W", help="estates whose documents are indexed")
    parser.add_argument("--no-es", action="store_true")
    parser.add_argument("--growth", default="1,2,4", help="factors of the growth curve ('' for none)")
    parser.add_argument("--growth-estate", default="G")
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
    args.growth_estate = next((s.name for s in specs if s.name.startswith(args.growth_estate)), None)
    args.index_estates = {s.name for s in specs if s.name.split("x")[0] in args.index_estates}

    started = time.time()
    results: dict = {"machine": machine(), "argv": sys.argv[1:], "started": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                                                        time.gmtime()),
                     "estates": {}}
    if args.peers:
        results["peer_setup"] = peers.setup(args.peers, log)
    es_node = None
    es_url = args.es_url
    workdir = Path(tempfile.mkdtemp(prefix="lagwatch-bench-"))
    try:
        if not args.no_es and es_url is None and args.index_estates:
            es_node = start_es()
            es_url = es_node.url
        for spec in specs:
            results["estates"][spec.name] = bench_estate(spec, args, es_url, workdir)
    finally:
        if es_node is not None:
            es_node.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    results["elapsed_s"] = time.time() - started
    results["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    if args.write_results:
        from bench import report

        Path(args.write_results).write_text(report.render(results, table(results)))
        log(f"wrote {args.write_results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
