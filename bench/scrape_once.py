"""lagwatch's scrapes in a process of its own, so the parent reads a clean peak RSS for them.

    python -m bench.scrape_once --bootstrap 127.0.0.1:9092 [--scrapes 2] [--dump-docs FILE]

A scrape is what the daemon does per cluster and interval, up to the bytes it hands the sink:
ClusterPipeline.run_once() (exporter/runtime/pipeline.py: collect, time lag, lag model, statuses with the
daemon's default alerting config, `_bulk` bytes a batch at a time, dropped once made: there is no sink), with
broker time probes off (the daemon runs them at most once per partition every 10 minutes). The first scrape
includes connecting to the cluster (a fresh process); later ones reuse the connection and carry the previous
snapshot, histories and status windows, like the daemon. Each scrape also reports the time the cyclic garbage
collector took during and right after it (exporter/runtime/gcpause.py runs a full collection every few
scrapes: a run of many scrapes shows it). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time


class GcMeter:
    """Wall time spent in the cyclic garbage collector, and full (generation 2) collections, since the last take."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        self.seconds += time.perf_counter() - self._started
        self.full += info["generation"] == 2

    def take(self) -> tuple[float, int]:
        taken = (self.seconds, self.full)
        self.seconds, self.full = 0.0, 0
        return taken


def make_pipeline(bootstrap: str, granularity: str = "partition", keep_documents: bool = False):
    """The daemon's pipeline for one cluster, without a sink, broker time probes off, statuses on (the
    daemon's default alerting config, no rules, no state store): (config, collector, pipeline)."""
    from exporter import logs
    from exporter.runtime import wiring as app
    from exporter.config import Config
    from exporter.runtime.pipeline import ClusterPipeline

    logs.configure("warning")  # stdout carries only the JSON result line
    config = Config.model_validate(
        {
            "clusters": [{"name": "bench", "bootstrap_servers": bootstrap, "request_timeout_s": 60}],
            "scrape": {"interval_s": 120, "granularity": granularity},
        }
    )
    collector = app.collector(config, config.clusters[0])
    alerting = app.alerting(config, config.clusters[0].name, store=None)
    pipeline = ClusterPipeline(
        collector,
        sink=None,
        granularity=config.scrape.granularity.value,
        interval_s=config.scrape.interval_s,
        items_per_record=config.items_per_record,
        probe_ages_s=(),
        instance="bench",
        keep_documents=keep_documents,  # the daemon keeps none once delivered
        evaluate=alerting.evaluate,
    )
    return config, collector, pipeline


def vmhwm_kb() -> int:
    """This process's own peak RSS since exec (ru_maxrss also counts the parent's, see bench/run.py)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--scrapes", type=int, default=2)
    parser.add_argument("--granularity", default="partition")
    parser.add_argument("--dump-docs", help="write the last scrape's documents here (JSON lines)")
    parser.add_argument("--prefix", default="", help="also sum the lag of the groups named <prefix>-*")
    args = parser.parse_args(argv)

    from bench import procstat

    imports_started = time.perf_counter()
    from exporter import logs
    from exporter.runtime import wiring as app  # noqa: F401 - the imports a daemon pays for, timed
    from exporter.runtime.pipeline import ClusterPipeline  # noqa: F401

    imports_s = time.perf_counter() - imports_started
    config, collector, pipeline = make_pipeline(args.bootstrap, args.granularity, bool(args.dump_docs))
    results = []
    result = None
    collections = GcMeter()
    for _ in range(args.scrapes):
        result = None  # like the daemon, nothing of the previous scrape but its snapshot and histories
        collections.take()
        wall, cpu, (_, runq) = time.perf_counter(), time.process_time(), procstat.times()
        result = pipeline.run_once()
        runq = procstat.times()[1] - runq
        gc_s, gc_full = collections.take()
        report = result.report
        snapshot = report.snapshot
        results.append(
            {
                "wall_s": time.perf_counter() - wall,
                "cpu_s": time.process_time() - cpu,
                "runq_s": runq,  # waiting for a CPU (other load on the machine)
                "gc_s": gc_s,  # in the cyclic collector, within wall_s
                "gc_full": gc_full,  # full collections (exporter/runtime/gcpause.py, every few scrapes)
                "collect_s": snapshot.duration_s,
                "requests": sum(snapshot.requests.values()),
                "requests_by_api": snapshot.requests,
                "groups": len(snapshot.groups),
                "pairs": len(report.partitions),
                "documents": result.document_count,
                "errors": len(snapshot.errors),
                "lag": sum(g.lag_known_sum for g in report.groups),
                "lag_prefixed": sum(g.lag_known_sum for g in report.groups if g.group.startswith(args.prefix + "-"))
                if args.prefix else None,
            }
        )
    collector.close()
    if args.dump_docs:
        with open(args.dump_docs, "w") as out:
            for doc in result.documents:
                out.write(json.dumps(doc, separators=(",", ":")) + "\n")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "scrapes": results,
                "imports_s": imports_s,
                "process_cpu_s": usage.ru_utime + usage.ru_stime,
                "peak_rss_kb": usage.ru_maxrss, "vmhwm_kb": vmhwm_kb(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
