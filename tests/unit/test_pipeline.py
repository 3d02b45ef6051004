"""One scrape cycle's orchestration without a broker: a plain collector object hands the pipeline
snapshots; statuses are evaluated once and handed with the report to alerting; broker time probes join
the snapshot."""

from __future__ import annotations

import bisect

from structlog.testing import capture_logs

from exporter.evaluator.status import StatusConfig, Statuses, evaluate_report
from exporter.lag.model import ClusterSnapshot, GroupObservation, PartitionOffsets, TimeLagQuality, TopicInfo
from exporter.output.table import as_table
from exporter.runtime.pipeline import ClusterPipeline

TP = ("orders", 0)


class PlainCollector:
    """Snapshots at 1000, 1030, ... of one partition (log-end 31) that group g has read up to 20;
    `probe` answers from record times like the real collector does."""

    cluster = "prod"

    def __init__(self, stamps=(), fail_probe=False):
        self.at = 970.0
        self.stamps = sorted(stamps)
        self.fail_probe = fail_probe
        self.probes = 0

    def collect(self) -> ClusterSnapshot:
        self.at += 30
        return ClusterSnapshot(
            cluster="prod", taken_at=self.at, topics={"orders": TopicInfo("orders", 1, topic_id="v1")},
            partitions={TP: PartitionOffsets("orders", 0, 31, log_start_offset=0, leader=1)},
            groups=(GroupObservation("g", "Empty", committed={TP: 20}),), requests={"Metadata": 1},
        )

    def probe(self, snapshot, rounds):
        self.probes += 1
        if self.fail_probe:
            raise OSError("leader gone")
        found = [{tp: bisect.bisect_left(self.stamps, at) for tp, at in r.items()} for r in rounds]
        return [{tp: (i, self.stamps[i]) if i < len(self.stamps) else (-1, None) for tp, i in r.items()} for r in found]

    def take_request_counts(self):
        return {"ListOffsets": self.probes}


class Recorder:
    """Alerting's two steps, recorded: evaluate (the real window upkeep) and alert."""

    def __init__(self, fail=False):
        self.windows, self.fail = {}, fail
        self.evaluated, self.alerted = [], []

    def evaluate(self, report) -> Statuses | None:
        self.evaluated.append(report)
        if self.fail:
            raise ValueError("bug")
        self.windows, statuses = evaluate_report(self.windows, report, report.snapshot.taken_at, StatusConfig(window=3))
        return statuses

    def alert(self, report, statuses) -> None:
        self.alerted.append((report, statuses))


def test_statuses_are_evaluated_once_per_scrape_and_handed_to_alerting_with_the_report():
    engine = Recorder()
    pipeline = ClusterPipeline(PlainCollector(), None, probe_ages_s=(), evaluate=engine.evaluate, alert=engine.alert)
    results = [pipeline.run_once() for _ in range(3)]
    assert engine.evaluated == [r.report for r in results]
    assert engine.alerted == [(r.report, r.statuses) for r in results]
    assert all(r.statuses is not None for r in results)
    assert len(engine.windows[("g", "orders", 0)].samples) == 3  # one sample a scrape, not two


def test_a_failing_evaluation_leaves_statuses_unknown_and_still_reports_lag_and_runs_alerting():
    engine = Recorder(fail=True)
    pipeline = ClusterPipeline(PlainCollector(), None, probe_ages_s=(), evaluate=engine.evaluate, alert=engine.alert)
    result = pipeline.run_once()
    assert result.statuses is None and result.document_count > 0
    assert engine.alerted == [(result.report, None)]


def test_broker_probes_join_the_snapshot_and_place_the_committed_offset_on_the_first_scrape():
    stamps = [i * i for i in range(31)]  # records bunch up unevenly; the scrape is at 1000
    collector = PlainCollector(stamps)
    result = ClusterPipeline(collector, None, probe_ages_s=(60, 300, 900, 3600)).run_once()
    snapshot = result.report.snapshot
    assert snapshot.time_probes[TP] and snapshot.requests == {"Metadata": 1, "ListOffsets": collector.probes}
    (row,) = result.report.partitions
    assert row.time_lag.quality is TimeLagQuality.INTERPOLATED
    assert abs(row.time_lag.seconds - (1000 - stamps[20])) <= 0.01 * (1000 - stamps[20])


def test_a_failing_probe_costs_only_time_lag_precision():
    result = ClusterPipeline(PlainCollector(fail_probe=True), None, probe_ages_s=(60,)).run_once()
    assert result.report.snapshot.up and result.report.snapshot.time_probes == {}
    assert result.report.partitions[0].lag == 11


def test_records_stamped_ahead_of_the_pipelines_clock_give_null_clock_skew_documents_that_carry_the_last_known():
    collector = PlainCollector([1000 + 3600 + i for i in range(31)])  # stamped an hour ahead of the scrape
    pipeline = ClusterPipeline(collector, None, probe_ages_s=(60, 300), clock=lambda: collector.at)
    pipeline.time_lag_carried = {"g": 42.0}  # what an earlier run knew
    with capture_logs() as logged:
        result = pipeline.run_once()
        pipeline.run_once()
    (said,) = [e for e in logged if e["event"] == "time_lag_clock_skew"]  # once, when found
    assert (said["partitions"], said["count"], said["ahead_s"]) == (["orders/0"], 1, 3600.0)
    (row,) = result.report.partitions
    assert (row.time_lag.seconds, row.time_lag.quality) == (None, TimeLagQuality.CLOCK_SKEW)
    (group_doc,) = [d for d in result.documents if d["lagwatch.doc_type"] == "group"]
    assert (group_doc["lagwatch.lag.seconds"], group_doc["lagwatch.lag.seconds_quality"]) == (None, "clock_skew")
    assert group_doc["lagwatch.lag.seconds_last_known"] == 42.0  # an alert on it holds: not resolved by skew
    assert group_doc["lagwatch.lag.messages"] == 11
    assert as_table(result.report).splitlines()[2].split()[6] == "skew"  # `lagwatch once`'s TIME-LAG column
