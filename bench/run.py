"""Side-by-side benchmark of lagwatch against the seeds' routine, Kafka's own tool, peers and raw _bulk.

    python -m bench.run                                # estates W and G, 5 runs each, prints the table
    python -m bench.run --write-results bench/RESULTS.md
    python -m bench.run --estates W --scale 0.01 --runs 2 --no-peers   # a smoke-size run
    python -m bench.run --peers kminion --no-seeds --no-kafka-tool      # issue #25's figures only

Everything runs in this one process tree, on this machine, against brokers and an Elasticsearch node that
the bench starts itself on 127.0.0.1 (or the ones given with --bootstrap / --es-url). Each estate gets a
fresh broker (2 GB heap, 50 __consumer_offsets partitions like production). See bench/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import estate_spec, peers
from bench.contenders import lagwatch_once, lagwatch_steady, measure_kafka_tool, measure_seeds
from bench.estate import build as build_estate
from bench.estate_spec import EstateSpec
from bench.indexing import measure_indexing
from bench.measure import LoadSampler, log, machine
from bench.procstat import vmhwm_mb
from bench.rounds import growth, rounds


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
        build = build_estate(bootstrap, spec, progress=lambda m: log(f"estate {spec.name}: {m}"))
        result: dict = {"spec": dataclasses.asdict(spec), "describe": spec.describe(), "build_s": build,
                        "expected_lag": estate_spec.expected_lag(spec)}
        docs_path = workdir / f"docs-{spec.name}.jsonl"
        log(f"== {spec.name}: documents for the indexing comparison")
        lagwatch_once(bootstrap, spec.prefix, dump_docs=docs_path)  # not measured: keeps its documents
        result.update(rounds(bootstrap, spec, args, peer_setup, result["expected_lag"]))
        if args.steady_scrapes:
            log(f"== {spec.name}: {args.steady_scrapes} scrapes in one process")
            result["steady"] = lagwatch_steady(bootstrap, args.steady_scrapes)
        if not args.no_seeds:
            log(f"== {spec.name}: seeds' routine")
            sample = args.seeds_sample or (10 if spec.pairs / spec.groups > 10 else 100)
            result["seeds"] = measure_seeds(bootstrap, spec, args.runs, min(sample, spec.groups))
        if not args.no_kafka_tool:
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



# --- the run ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--estates", default="W,G", help="comma-separated: W, G")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply topics and groups of each estate")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--steady-scrapes", type=int, default=20,
                        help="scrapes in a row in one lagwatch process per estate (median and worst; 0: none)")
    parser.add_argument("--seeds-sample", type=int, help="groups the seeds' routine measures (default 10 or 100)")
    parser.add_argument("--no-seeds", action="store_true", help="skip the seeds' routine (issue #7's baseline)")
    parser.add_argument("--tool-budget-s", type=float, default=300, help="seconds for Kafka's tool per estate")
    parser.add_argument("--no-kafka-tool", action="store_true", help="skip Kafka's ConsumerGroupCommand (#7)")
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
        spec = dataclasses.replace(estate_spec.ESTATES[name], prefix=args.prefix)
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
