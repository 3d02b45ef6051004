"""Where one lagwatch scrape spends its time, stage by stage, in a process of its own.

    python -m bench.stages --bootstrap 127.0.0.1:9092 [--scrapes 2] [--prefix bench]

Times, from the outside, the same functions the daemon's cycle calls (exporter/runtime/pipeline.py `_cycle`), one
after the other on the same data, with the cyclic GC paused as the pipeline pauses it:

- collect: `ClusterPipeline.scrape()` (Kafka requests and response decode, the snapshot). Within it, decode:
  kafka-python's `KafkaProtocol._process_response` (frames to its objects, or to bytes for the answers lagwatch
  reads itself) and lagwatch's decoders (each request family's `decode`), timed by wrappers (thread CPU; bytes
  and responses counted); broker wait: wall minus CPU minus run-queue wait (bench/procstat.py) of the collect;
- time lag: `lag.update_histories` (this scrape's point per partition), plus the estimates `build_report`
  makes per row (`timelag.estimate`, the same arguments, timed in a pass of its own);
- lag model: `lag.build_report` minus that estimate pass;
- statuses: `Alerting.evaluate` (app.alerting with the default config: statuses on, no rules, no store);
- floor: the OffsetFetch responses decoded once more after the cycle, straight from their bytes into tuples
  (bench/floor.py) and by kafka-python into its objects, against lagwatch's decode of them;
- bulk_bytes: the report's rows and statuses straight to `_bulk` request bodies (`encode.encode`: the batches
  the pipeline hands the sink, bytes the sink sends as they are); delivery is measured apart
  (bench/run.py measure_indexing).

Every stage has its wall time, CPU time and run-queue wait (time it was ready to run but other work on the
machine had the CPUs). The first scrape connects (fresh process); the next ones reuse the connection and carry the previous
snapshot, histories and status windows, like the daemon. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import sys
import time

from bench import procstat
from bench.scrape_once import vmhwm_kb

KEYS = ("wall_s", "cpu_s", "runq_s")


class DecodeMeter:
    """Time and bytes of every Kafka response this process decodes, in two steps: kafka-python's parser (a
    frame to its response objects, or to the body's bytes for what lagwatch reads itself:
    exporter/kafka/protocol/raw.py), then lagwatch's decoders (each request family's `decode`, to plain data).
    `decode_cpu_by_api` is both; `parser_cpu_by_api` the first alone."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu = 0.0
        self.bytes = 0
        self.by_api: collections.Counter[str] = collections.Counter()
        self.bytes_by_api: collections.Counter[str] = collections.Counter()
        self.cpu_by_api: collections.Counter[str] = collections.Counter()
        self.parser_cpu_by_api: collections.Counter[str] = collections.Counter()
        self.offset_fetch: list[tuple[int, bytes]] = []  # (version, whole response), for the floor (bench/floor.py)

    def install(self) -> None:
        from kafka.protocol import parser

        from exporter.kafka.protocol.raw import RawAnswer

        original = parser.KafkaProtocol._process_response
        meter = self

        def timed(protocol, read_buffer):
            size = len(read_buffer)
            started, cpu = time.perf_counter(), time.thread_time()
            result = original(protocol, read_buffer)
            spent = time.thread_time() - cpu
            answer = result[1]
            kind = answer.response_class if isinstance(answer, RawAnswer) else type(answer)
            name = kind.__name__.split("_v")[0].removesuffix("Response")
            meter.add(name, spent, time.perf_counter() - started)
            meter.parser_cpu_by_api[name] += spent
            meter.bytes += size
            meter.by_api[name] += 1
            meter.bytes_by_api[name] += size
            if name == "OffsetFetch" and isinstance(answer, RawAnswer):
                read_buffer.seek(0)
                meter.offset_fetch.append((answer.version, read_buffer.read()))
            return result

        parser.KafkaProtocol._process_response = timed
        self._wrap_decoders()

    def add(self, api: str, cpu: float, wall: float) -> None:
        self.cpu += cpu
        self.seconds += wall
        self.cpu_by_api[api] += cpu

    def _wrap_decoders(self) -> None:
        from exporter.kafka.protocol import (
            describe_configs, describe_groups, find_coordinator, list_groups, list_offsets, metadata, offset_fetch,
        )

        families = [(metadata.Metadata, "Metadata"), (list_groups.ListGroups, "ListGroups"),
                    (find_coordinator.FindCoordinators, "FindCoordinator"),
                    (describe_groups.DescribeGroups, None), (offset_fetch.FetchOffsets, None),
                    (list_offsets.ListOffsets, "ListOffsets"), (describe_configs.DescribeTopicConfigs, "DescribeConfigs")]
        meter = self
        for family, api in families:
            original = family.decode

            def timed(request, response, original=original, api=api):
                cpu, wall = time.thread_time(), time.perf_counter()
                try:
                    return original(request, response)
                finally:
                    name = api or (request.api if isinstance(request.api, str) else request.api.name)
                    meter.add(name, time.thread_time() - cpu, time.perf_counter() - wall)

            family.decode = timed

    def take(self) -> dict:
        taken = {"decode_s": self.seconds, "decode_cpu_s": self.cpu, "response_bytes": self.bytes,
                 "responses": dict(self.by_api), "bytes_by_api": dict(self.bytes_by_api),
                 "decode_cpu_by_api": dict(self.cpu_by_api), "parser_cpu_by_api": dict(self.parser_cpu_by_api),
                 "floor": self.floor()}
        self.seconds, self.cpu, self.bytes = 0.0, 0.0, 0
        for counter in (self.by_api, self.bytes_by_api, self.cpu_by_api, self.parser_cpu_by_api):
            counter.clear()
        self.offset_fetch.clear()
        return taken

    def floor(self) -> dict:
        """The OffsetFetch responses decoded again: straight from their bytes into tuples (bench/floor.py), and
        by kafka-python into its objects (what every response cost before lagwatch read them itself)."""
        from kafka.protocol.consumer import OffsetFetchResponse

        from bench import floor

        cpu = time.process_time()
        rows = sum(len(floor.offset_fetch_rows(buf)) for _, buf in self.offset_fetch)
        direct = time.process_time() - cpu
        cpu = time.process_time()
        decoded = [OffsetFetchResponse[v].decode(buf[_header_size(buf):]) for v, buf in self.offset_fetch]
        kafka_python = time.process_time() - cpu
        return {"offset_fetch_direct_cpu_s": direct, "offset_fetch_rows": rows,
                "offset_fetch_kafka_python_cpu_s": kafka_python,
                "offset_fetch_rows_kafka_python": sum(len(t.partitions) for r in decoded for g in r.groups for t in g.topics),
                "offset_fetch_bytes": sum(len(b) for _, b in self.offset_fetch)}


def _header_size(buf: bytes) -> int:
    """A flexible response header: correlation id, then tagged fields (empty: one byte)."""
    from exporter.kafka.protocol.raw import skip_tags

    return skip_tags(buf, 4)


class Clock:
    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}

    def add(self, stage: str, wall: float, cpu: float, runq: float) -> None:
        got = self.stages.setdefault(stage, {"wall_s": 0.0, "cpu_s": 0.0, "runq_s": 0.0})
        got["wall_s"] += wall
        got["cpu_s"] += cpu
        got["runq_s"] += runq

    def timed(self, stage: str, call, *args, **kwargs):
        wall, cpu, (_, runq) = time.perf_counter(), time.process_time(), procstat.times()
        result = call(*args, **kwargs)
        self.add(stage, time.perf_counter() - wall, time.process_time() - cpu, procstat.times()[1] - runq)
        return result


def staged_cycle(pipeline, alerting, meter: DecodeMeter) -> dict:
    from exporter.output import encode
    from exporter.runtime import gcpause
    from exporter.lag import report as lag
    from exporter.lag import timelag

    clock = Clock()
    with gcpause.paused():
        meter.take()
        snapshot = clock.timed("collect", pipeline.scrape)
        histories = clock.timed("time_lag_histories", lag.update_histories, pipeline.prober.histories, snapshot,
                                pipeline.previous, pipeline.prober.max_points)
        report = clock.timed("build_report", lag.build_report, snapshot, pipeline.previous, histories,
                             pipeline.items_per_record)

        def estimates():
            # The estimates build_report makes: one per row, or one per partition and committed offset when
            # it shares them (more groups than partitions, exporter/lag/report.py).
            now = snapshot.taken_at
            share, seen = len(snapshot.groups) > len(snapshot.partitions), set()
            for row in report.partitions:
                if share:
                    key = (row.topic, row.partition, row.committed_offset)
                    if key in seen:
                        continue
                    seen.add(key)
                timelag.estimate(histories.get((row.topic, row.partition), ()), row.committed_offset,
                                 row.log_end_offset, now)

        clock.timed("time_lag_estimates", estimates)
        statuses = clock.timed("statuses", alerting.evaluate, report)
        made = {"documents": 0, "bodies": 0, "bytes": 0}

        def bulk_bytes():
            # Consumed one batch at a time, as the pipeline hands them to the sink; only their sizes are kept.
            for batch in encode.encode(report, pipeline.granularity, pipeline.interval_s, pipeline.instance,
                                       statuses, batch_documents=pipeline.batch_documents):
                made["documents"] += batch.documents
                made["bodies"] += 1
                made["bytes"] += batch.size

        clock.timed("bulk_bytes", bulk_bytes)
        count, bodies, body_bytes = made["documents"], made["bodies"], made["bytes"]
        pipeline.previous, pipeline.prober.histories = snapshot, histories
        collected = meter.take()  # with the floor: decoding the same OffsetFetch bytes into tuples, timed now
    stages = clock.stages
    # The estimates ran inside build_report too: the lag model is build_report without them.
    model = stages.pop("build_report")
    est = stages["time_lag_estimates"]
    stages["lag_model"] = {k: max(0.0, model[k] - est[k]) for k in KEYS}
    stages["time_lag"] = {k: stages["time_lag_histories"][k] + est[k] for k in KEYS}
    collect = stages["collect"]
    collect.update(collected)
    # Off CPU and not waiting for one: waiting for the broker's answers.
    collect["broker_wait_s"] = max(0.0, collect["wall_s"] - collect["cpu_s"] - collect["runq_s"])
    collect["requests"] = sum(snapshot.requests.values())
    order = ["collect", "lag_model", "time_lag", "statuses", "bulk_bytes"]
    total = {k: sum(stages[s][k] for s in order) for k in KEYS}
    return {
        "stages": {name: stages[name] for name in order},
        "detail": {"time_lag_histories": stages["time_lag_histories"], "time_lag_estimates": est},
        "total": total,
        "groups": len(snapshot.groups),
        "rows": len(report.partitions),
        "documents": count,
        "bulk_bodies": bodies,
        "bulk_bytes": body_bytes,
        "errors": len(snapshot.errors),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--scrapes", type=int, default=2)
    parser.add_argument("--granularity", default="partition")
    args = parser.parse_args(argv)

    meter = DecodeMeter()
    meter.install()
    from bench.scrape_once import make_pipeline
    from exporter.runtime import wiring as app

    config, collector, pipeline = make_pipeline(args.bootstrap, args.granularity, keep_documents=False)
    alerting = app.alerting(config, config.clusters[0].name, store=None)
    scrapes = [staged_cycle(pipeline, alerting, meter) for _ in range(args.scrapes)]
    collector.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"scrapes": scrapes, "peak_rss_kb": usage.ru_maxrss, "vmhwm_kb": vmhwm_kb()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
