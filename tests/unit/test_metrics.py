"""/metrics for the sink's ledger: rejected, dropped (a full disk included) and dead-lettered documents,
rendered by the real collector from a real SpoolingSink over a stand-in for Elasticsearch (pure)."""

from __future__ import annotations

import errno

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.output.metrics import LagCollector
from exporter.sinks import segments
from exporter.output.batch import from_documents
from exporter.sinks.interface import DeliveryResult, SinkRefused, SinkUnavailable
from exporter.sinks.spool import Spool, SpoolingSink
from tests.unit.runtime_stubs import Pipeline


class Refusing:
    name = "fake-lag"
    retention_refused = None

    def __init__(self):
        self.mode = "ok"

    def deliver(self, batch):
        if self.mode == "refuse":
            raise SinkRefused("Elasticsearch refused the bulk request (403): no privileges")
        if self.mode == "down":
            raise SinkUnavailable("connection refused")
        return DeliveryResult(indexed=batch.documents)

    def setup(self):
        return "daily_indices"

    def prune(self):
        return []


def samples(sink) -> dict[str, float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LagCollector(lambda: [], lambda: sink))
    text = generate_latest(registry).decode()
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


def docs(prefix, n):
    (batch,) = from_documents([{"_id": f"{prefix}-{i}", "lagwatch.slot": 0} for i in range(n)])
    return batch


def test_rejected_dropped_and_refused_documents_are_metrics(tmp_path, monkeypatch):
    inner = Refusing()
    sink = SpoolingSink(inner, Spool(tmp_path, max_bytes=10**6), retry_after_s=0)
    inner.mode = "refuse"
    sink.deliver(docs("r", 3))
    inner.mode = "down"

    def full(fd):  # failure injection: the kernel's answer on a full disk
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(segments.os, "fsync", full)
    sink.deliver(docs("d", 2))
    got = samples(sink)
    assert got["lagwatch_documents_rejected_total"] == 3
    assert got["lagwatch_spool_dropped_documents_total"] == 2  # a full disk counts too
    assert got["lagwatch_spool_dead_lettered_documents_total"] == 0
    assert got["lagwatch_sink_refused"] == 1


def test_a_refusing_sink_is_not_up_while_it_refuses(tmp_path):
    inner = Refusing()
    sink = SpoolingSink(inner, Spool(tmp_path, max_bytes=10**6), retry_after_s=0)
    inner.mode = "refuse"
    sink.deliver(docs("r", 2))  # Elasticsearch answered: reachable, and refusing
    assert sink.health().reachable and samples(sink)["lagwatch_sink_up"] == 0
    inner.mode = "ok"
    sink.deliver(docs("ok", 1))  # taken again: up
    assert samples(sink)["lagwatch_sink_up"] == 1 and samples(sink)["lagwatch_sink_refused"] == 0


def group_report():
    """Two groups on one cluster: `whole` with every partition read, `part` with one log-end offset unread."""
    from exporter.lag import report as lag
    from exporter.lag.model import ClusterSnapshot, GroupObservation, PartitionOffsets, TopicInfo

    snap = ClusterSnapshot(
        cluster="prod",
        taken_at=1_700_000_000.0,
        topics={"orders": TopicInfo("orders", 2)},
        partitions={("orders", 0): PartitionOffsets("orders", 0, 100)},  # ("orders", 1): its read failed
        groups=(
            GroupObservation("whole", "Stable", committed={("orders", 0): 40}),
            GroupObservation("part", "Stable", committed={("orders", 0): 90, ("orders", 1): 5}),
        ),
    )
    return lag.build_report(snap, None, lag.update_histories({}, snap, None))


def test_a_group_with_an_unread_partition_has_no_lag_series_and_says_why():
    from exporter.runtime.pipeline import PipelineStatus

    status = PipelineStatus("prod", 30.0).after(group_report(), last_success=1_700_000_000.0)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LagCollector(lambda: [Pipeline(status)], lambda: None))
    got = {
        (s.name, s.labels.get("group")): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    }
    assert got[("lagwatch_group_lag", "whole")] == 60
    assert ("lagwatch_group_lag", "part") not in got  # never the partial sum 10 as if it were the lag
    assert got[("lagwatch_group_lag_partial", "part")] == 1
    assert got[("lagwatch_group_lag_partial", "whole")] == 0
    assert got[("lagwatch_group_partitions_unknown", "part")] == 1
    assert got[("lagwatch_up", None)] == 1
