"""/readyz's decision, on real PipelineStatus and SinkHealth values (pure)."""

from dataclasses import replace

import pytest

from exporter.runtime.http import readiness
from exporter.lag.model import ClusterSnapshot, LagReport, ScrapeError
from exporter.runtime.pipeline import PipelineStatus
from exporter.sinks.spool import SinkHealth
from tests.unit.runtime_stubs import Pipeline, Sink

NOW = 10_000.0


def down_report(message: str) -> LagReport:
    snapshot = ClusterSnapshot("prod", NOW, {}, {}, (), errors=(ScrapeError("cluster", "prod", message),), up=False)
    return LagReport(snapshot, (), (), ())


HEALTHY = SinkHealth(True, 0, 0, 1000, 0, False, None)


@pytest.mark.parametrize(
    "last_success, ready",
    [(NOW - 10, True), (NOW - 90, True), (NOW - 91, False), (None, False)],
    ids=["fresh", "three-intervals-old", "older", "never"],
)
def test_a_cluster_is_ready_while_its_last_success_is_within_three_intervals(last_success, ready):
    status = PipelineStatus("prod", 30.0, last_success=last_success)
    ok, body = readiness([Pipeline(status)], Sink(HEALTHY), now=NOW)
    assert ok is ready and body["clusters"]["prod"]["ready"] is ready


def test_not_ready_says_why_from_the_last_scrape():
    status = PipelineStatus("prod", 30.0, last_report=down_report("no broker reachable (bootstrap k1:9092)"))
    ok, body = readiness([Pipeline(status)], None, now=NOW)
    assert not ok and "no broker reachable" in body["clusters"]["prod"]["reason"]


@pytest.mark.parametrize(
    "health, ready",
    [
        (HEALTHY, True),
        (replace(HEALTHY, reachable=False, spool_bytes=500, spool_documents=5), True),  # spooling below cap
        (replace(HEALTHY, reachable=False, spool_bytes=1000, dropping=True), False),  # at the cap, dropping
    ],
    ids=["reachable", "spooling", "dropping"],
)
def test_the_sink_is_ready_while_reachable_or_spooling_below_its_cap(health, ready):
    status = PipelineStatus("prod", 30.0, last_success=NOW)
    ok, body = readiness([Pipeline(status)], Sink(health), now=NOW)
    assert ok is ready and body["sink"]["ready"] is ready


def test_a_refusing_elasticsearch_is_not_ready_and_says_it_is_a_configuration_problem():
    status = PipelineStatus("prod", 30.0, last_success=NOW)
    refused = replace(HEALTHY, refused="Elasticsearch refused the bulk request (401): check elasticsearch.username")
    ok, body = readiness([Pipeline(status)], Sink(refused), now=NOW)
    assert not ok and body["sink"]["ready"] is False
    assert body["sink"]["reason"].startswith("configuration problem") and "401" in body["sink"]["reason"]


def test_readiness_shows_where_documents_went():
    status = PipelineStatus("prod", 30.0, last_success=NOW)
    health = replace(HEALTHY, dropped_documents=4, rejected_documents=3, dead_lettered_documents=2, deferred_segments=1,
                     dead_letter_dir="/var/lib/lagwatch/spool/dead-letter")
    ok, body = readiness([Pipeline(status)], Sink(health), now=NOW)
    assert ok and {k: body["sink"][k] for k in ("dropped_documents", "rejected_documents", "dead_lettered_documents",
                                               "deferred_segments", "dead_letter_dir")} == {
        "dropped_documents": 4, "rejected_documents": 3, "dead_lettered_documents": 2, "deferred_segments": 1,
        "dead_letter_dir": "/var/lib/lagwatch/spool/dead-letter"}
