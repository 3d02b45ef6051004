"""The last known time lag each group document carries while its own is not known (exporter/lag/held.py):
what lets an alert on time lag hold through an outage instead of resolving on an unknown."""

from __future__ import annotations

import pytest

from exporter.alerts.engine import Alerting
from exporter.evaluator.rules import LAG_SECONDS, ThresholdRule
from exporter.lag import held
from exporter.lag import report as lag
from exporter.lag.model import ClusterSnapshot, GroupObservation, PartitionOffsets, TopicInfo
from exporter.output import encode

T0 = 1_700_000_010.0


def group(name: str, *, unread: bool = False, committed: int | None = 5, log_end: int = 100):
    """One report's GroupLag for `name`: 95 behind on orders/0, or unreadable there."""
    (row,) = report_of(name, unread=unread, committed=committed, log_end=log_end).groups
    return row


def report_of(name: str, *, unread: bool = False, committed: int | None = 5, log_end: int = 100):
    offsets = {} if committed is None else {("orders", 0): committed}
    observation = GroupObservation(name, "Empty", committed={} if unread else offsets,
                                   committed_unread=(("orders", 0),) if unread else ())
    snap = ClusterSnapshot(cluster="prod", taken_at=T0, topics={"orders": TopicInfo("orders", 1)},
                           partitions={("orders", 0): PartitionOffsets("orders", 0, log_end, leader=1)},
                           groups=(observation,), time_probes={("orders", 0): ((T0 - 600, 0),)})
    return lag.build_report(snap, None, lag.update_histories({}, snap, None))


@pytest.mark.parametrize(
    "previous, rows, up, expected",
    [
        ({}, [("a", False)], True, {"a": "now"}),  # known: this scrape's
        ({"a": 900.0}, [("a", False)], True, {"a": "now"}),  # known again: the new value replaces the old
        ({"a": 900.0}, [("a", True)], True, {"a": 900.0}),  # unknown: carried
        ({}, [("a", True)], True, {}),  # unknown and never known: nothing to carry
        ({"a": 900.0, "gone": 50.0}, [("a", True)], True, {"a": 900.0}),  # a group no longer reported: forgotten
        ({"a": 900.0}, [], False, {"a": 900.0}),  # the cluster could not be read at all: nothing changes
    ],
    ids=["known", "known-again", "carried", "never-known", "forgotten", "cluster-down"],
)
def test_the_last_known_time_lag_is_carried_only_while_the_group_is_unknown(previous, rows, up, expected):
    groups = [group(name, unread=unread) for name, unread in rows]
    carried = held.carry(previous, groups, up)
    now = {g.group: g.lag_seconds_max for g in groups if not g.partial}
    assert carried == {k: now[k] if v == "now" else v for k, v in expected.items()}


def test_a_group_document_carries_the_last_known_time_lag_only_while_its_own_is_not_known():
    known, unknown = report_of("a"), report_of("a", unread=True)
    carried = held.carry({}, known.groups, up=True)
    assert carried["a"] == known.groups[0].lag_seconds_max == pytest.approx(570.0)  # offset 5 of 100 over 600 s
    whole, partial = group_document(known, carried), group_document(unknown, carried)
    assert whole["lagwatch.lag.seconds"] == pytest.approx(570.0) and "lagwatch.lag.seconds_last_known" not in whole
    assert partial["lagwatch.lag.partial"] and partial["lagwatch.lag.seconds"] is None
    assert partial["lagwatch.lag.seconds_last_known"] == pytest.approx(570.0)


def group_document(report, carried) -> dict:
    """The report's one group document, as the pipeline encodes it."""
    (doc,) = next(encode.encode(report, "group", 60, carried=carried)).decode()
    return doc


def skewed_report(name: str, at: float, committed: int):
    """A report of `name` on orders/0 (log-end 100) whose record times are ahead of lagwatch's clock
    (TimeLagProber.skewed): only lagwatch's own point of this scrape, no broker point."""
    snap = ClusterSnapshot(cluster="prod", taken_at=at, topics={"orders": TopicInfo("orders", 1)},
                           partitions={("orders", 0): PartitionOffsets("orders", 0, 100, leader=1)},
                           groups=(GroupObservation(name, "Empty", committed={("orders", 0): committed}),))
    return lag.build_report(snap, None, lag.update_histories({}, snap, None), skewed={("orders", 0)})


def test_a_clock_skewed_time_lag_neither_fires_nor_resolves_and_the_last_known_is_carried():
    alerting = Alerting("prod", status_config=None, threshold_rules=[ThresholdRule("slow", metric=LAG_SECONDS, warn=300)])
    known = report_of("a")  # 570 s: fires
    alerting.alert(known, None)
    assert [s.evaluation.condition.active for s in alerting.alerts.values()] == [True]
    carried = held.carry({}, known.groups, up=True)
    for at in (T0 + 30, T0 + 60):  # two scrapes whose time lag cannot be known: nothing changes
        skewed = skewed_report("a", at, committed=5)
        (g,) = skewed.groups
        assert (g.lag_seconds_max, g.time_lag_quality.value, g.partial) == (None, "clock_skew", False)
        alerting.alert(skewed, None)
        assert [s.evaluation.condition.active for s in alerting.alerts.values()] == [True]
        carried = held.carry(carried, skewed.groups, up=True)
        doc = group_document(skewed, carried)
        assert (doc["lagwatch.lag.seconds"], doc["lagwatch.lag.seconds_quality"]) == (None, "clock_skew")
        assert doc["lagwatch.lag.seconds_last_known"] == pytest.approx(570.0)  # the Kibana rule holds too
    fresh = Alerting("prod", status_config=None, threshold_rules=[ThresholdRule("slow", metric=LAG_SECONDS, warn=300)])
    fresh.alert(skewed_report("a", T0, committed=5), None)
    assert not any(s.evaluation.condition.active for s in fresh.alerts.values())  # and never fires one


def two_partition_report(at: float, committed: dict[int, int], probes: bool = True):
    """Group `a` on orders (2 partitions, log-end 100 each) with the given commits; with `probes` the broker
    placed offset 0 at T0 - 600 on both, without them a partition's committed offset cannot be placed."""
    snap = ClusterSnapshot(
        cluster="prod", taken_at=at, topics={"orders": TopicInfo("orders", 2)},
        partitions={("orders", p): PartitionOffsets("orders", p, 100, leader=1) for p in (0, 1)},
        groups=(GroupObservation("a", "Empty", committed={("orders", p): c for p, c in committed.items()}),),
        time_probes={("orders", p): ((T0 - 600, 0),) for p in (0, 1) if probes or p == 0})
    return lag.build_report(snap, None, lag.update_histories({}, snap, None))


def test_a_time_lag_known_only_as_a_lower_bound_may_fire_but_never_resolves_an_alert():
    alerting = Alerting("prod", status_config=None, threshold_rules=[ThresholdRule("slow", metric=LAG_SECONDS, warn=300)])
    alerting.alert(two_partition_report(T0, {0: 5, 1: 5}), None)  # 570 s on both: fires
    assert [s.evaluation.condition.active for s in alerting.alerts.values()] == [True]
    # p0 caught up (exact 0), p1 still 95 behind but its committed offset cannot be placed in time: the group's
    # worst is "at least 0 s", quality unknown. Resolving on it would end a page while p1 may be hours behind.
    bound = two_partition_report(T0 + 30, {0: 100, 1: 5}, probes=False)
    (g,) = bound.groups
    assert (g.partial, g.time_lag_quality.value) == (False, "unknown") and g.lag_seconds_max is not None
    assert not held.time_lag_known(g)
    alerting.alert(bound, None)
    assert [s.evaluation.condition.active for s in alerting.alerts.values()] == [True]
    assert group_document(bound, held.carry({"a": 570.0}, bound.groups, up=True))[
        "lagwatch.lag.seconds_last_known"] == pytest.approx(570.0)  # the Kibana rule holds too
    alerting.alert(two_partition_report(T0 + 60, {0: 100, 1: 100}), None)  # measured: caught up everywhere
    assert not any(s.evaluation.condition.active for s in alerting.alerts.values())


@pytest.mark.parametrize(
    "committed, seconds, quality",
    [
        ({0: 5}, 570.0, "interpolated"),  # p1 never committed: no lag there, in seconds as in messages
        ({0: 5, 1: 5}, 570.0, "interpolated"),
    ],
    ids=["one-never-committed", "both-committed"],
)
def test_a_partition_never_committed_on_does_not_make_the_groups_time_lag_a_lower_bound(committed, seconds, quality):
    report = two_partition_report(T0, committed)
    (g,), (t,) = report.groups, report.group_topics
    assert (g.lag_seconds_max, g.time_lag_quality.value) == (seconds, quality)
    assert (t.lag_seconds_max, t.time_lag_quality.value) == (seconds, quality)
    assert g.partitions_without_commit == 2 - len(committed)


def test_a_lower_bound_above_the_last_measured_value_is_carried_through_the_next_partial_scrape():
    # p1's committed offset older than every point: at least 600 s, whole (quality at_least); the rule may
    # match it, so a partial scrape after it must carry at least that, not the older measured 570 s... or less.
    snap = ClusterSnapshot(cluster="prod", taken_at=T0 + 30, topics={"orders": TopicInfo("orders", 1)},
                           partitions={("orders", 0): PartitionOffsets("orders", 0, 100, leader=1)},
                           groups=(GroupObservation("a", "Empty", committed={("orders", 0): 10}),),
                           time_probes={("orders", 0): ((T0 - 600, 50),)})  # offset 10 is older than that
    bound = lag.build_report(snap, None, lag.update_histories({}, snap, None))
    (g,) = bound.groups
    assert (g.partial, g.time_lag_quality.value) == (False, "at_least") and g.lag_seconds_max == pytest.approx(630.0)
    carried = held.carry({"a": 100.0}, bound.groups, up=True)
    assert carried == {"a": pytest.approx(630.0)}
    assert held.carry({"a": 900.0}, bound.groups, up=True) == {"a": 900.0}  # never below what was carried
    partial = held.carry(carried, [group("a", unread=True)], up=True)
    assert partial == {"a": pytest.approx(630.0)}
