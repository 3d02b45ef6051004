"""The `_bulk` bytes written straight from the report (exporter/output/encode.py) hold exactly the documents and
ids of the dict documents serialized by the sink (exporter/output/documents.py + exporter/sinks/bulk.py), on the
bench's estates W and G (bench/model_cpu.py builds their snapshots, no broker), with and without the anomalies
the lag model must get right (unreadable partitions, unread commits, a group whose offsets could not be read:
partial groups), with statuses, over consecutive scrapes. Both outputs are parsed; documents compare as
values, field by field."""

from __future__ import annotations

import msgspec
import pytest

from bench.estate_spec import ESTATES
from bench.model_cpu import snapshots
from exporter.alerts.engine import Alerting
from exporter.lag import report as lag
from exporter.output import documents, encode
from exporter.sinks import bulk

# Scaled so the four cases take seconds, not minutes; the whole estates: python -m bench.model_cpu --digest.
CASES = [("W", 0.25, False), ("W", 0.25, True), ("G", 0.1, False), ("G", 0.1, True)]


def parsed(bodies) -> list[tuple[str, dict]]:
    """(id, source) per document of NDJSON `_bulk` bodies, in order."""
    out = []
    for body in bodies:
        lines = body.split(b"\n")
        assert lines[-1] == b"" and len(lines) % 2 == 1
        for action, source in zip(lines[0:-1:2], lines[1:-1:2]):
            ((_, target),) = msgspec.json.decode(action).items()
            out.append((target["_id"], msgspec.json.decode(source)))
    return out


@pytest.mark.parametrize(("estate", "scale", "anomalies"), CASES, ids=[f"{e}x{s}{'-anomalies' if a else ''}"
                                                                         for e, s, a in CASES])
def test_the_bytes_hold_the_same_documents_and_ids_as_the_dict_documents(estate, scale, anomalies):
    alerting = Alerting("bench")
    previous, histories, partial = None, {}, 0
    for snapshot in snapshots(ESTATES[estate].scaled(scale), 3, 120.0, anomalies):
        histories = lag.update_histories(histories, snapshot, previous)
        report = lag.build_report(snapshot, previous, histories)
        statuses = alerting.evaluate(report)
        old = list(documents.iterate(report, "partition", 120.0, "bench", statuses, delivery={"indexed": 7}))
        old_bodies = [body for body, _ in bulk.bodies(old, "index", lambda doc: "lag", 1000)]
        new = list(encode.encode(report, "partition", 120.0, "bench", statuses, delivery={"indexed": 7}))
        assert parsed([batch.body for batch in new]) == parsed(old_bodies)
        assert sum(batch.documents for batch in new) == len(old) == documents.count(report, "partition")
        partial += sum(1 for g in report.groups if g.partial)
        previous = snapshot
    assert (partial > 0) == anomalies  # the anomalies make partial groups, and only they do


@pytest.mark.parametrize("granularity", ["topic", "group"])
def test_coarser_granularities_hold_the_same_documents(granularity):
    (snapshot,) = snapshots(ESTATES["W"].scaled(0.05), 1, 120.0, True)
    report = lag.build_report(snapshot, None, lag.update_histories({}, snapshot, None))
    old = list(documents.iterate(report, granularity, 120.0, "pod-1"))
    new = list(encode.encode(report, granularity, 120.0, "pod-1"))
    assert parsed([batch.body for batch in new]) == parsed([body for body, _ in bulk.bodies(old, "index",
                                                                                              lambda doc: "i", 1000)])
