"""Lag arithmetic and build_report on hand-built snapshots (pure: no Kafka needed)."""

import gc

import pytest

from exporter.lag import aggregate
from exporter.lag import report as lag
from exporter.lag.model import (
    CatchUp,
    ClusterSnapshot,
    Counter,
    GroupObservation,
    Member,
    PartitionOffsets,
    TimeLag,
    TimeLagQuality,
    TopicInfo,
)

NONE = Counter.none()


# --- helpers ----------------------------------------------------------------------------------


def snapshot(at, log_ends, groups=(), topics=None, **kwargs):
    """log_ends: {(topic, partition): log_end}; topics default to one per topic seen, id "<name>-v1"."""
    if topics is None:
        names = sorted({t for t, _ in log_ends})
        topics = [TopicInfo(n, sum(1 for t, _ in log_ends if t == n), topic_id=f"{n}-v1") for n in names]
    return ClusterSnapshot(
        cluster="c1",
        taken_at=at,
        topics={t.name: t for t in topics},
        partitions={tp: PartitionOffsets(tp[0], tp[1], end, log_start_offset=0) for tp, end in log_ends.items()},
        groups=tuple(groups),
        **kwargs,
    )


def group(name, committed, members=(), state="Stable"):
    return GroupObservation(group=name, state=state, members=tuple(members), committed=committed)


def report(snap, previous=None, histories=None, **kwargs):
    histories = histories if histories is not None else lag.update_histories({}, snap, previous)
    return lag.build_report(snap, previous, histories, **kwargs)


def row(rep, group_name, topic, partition):
    return next(r for r in rep.partitions if (r.group, r.topic, r.partition) == (group_name, topic, partition))


# --- pure functions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "committed, log_end, expected",
    [
        (40, 100, 60),
        (100, 100, 0),
        (120, 100, 0),  # committed ahead of log end (stale metadata): clamps, never negative
        (None, 100, None),  # never committed: Kafka's tool prints "-"
        (-1, 100, None),  # Kafka's "no offset" sentinel
        (40, None, None),  # log end unknown
        (40, -1, None),
    ],
    ids=["behind", "caught-up", "ahead-clamps-0", "no-commit", "commit-sentinel", "no-log-end", "log-end-sentinel"],
)
def test_partition_lag(committed, log_end, expected):
    assert lag.partition_lag(committed, log_end) == expected


@pytest.mark.parametrize(
    "committed, log_start, expected",
    [(5, 10, True), (10, 10, False), (50, 10, False), (None, 10, False), (5, None, False), (-1, 10, False)],
    ids=["below", "at-start", "above", "no-commit", "no-start", "sentinel"],
)
def test_committed_below_log_start_is_flagged(committed, log_start, expected):
    assert lag.below_log_start(committed, log_start) is expected


@pytest.mark.parametrize(
    "previous, current, elapsed, same, expected",
    [
        (100, 160, 30.0, True, Counter(60, 2.0)),
        (100, 100, 30.0, True, Counter(0, 0.0)),
        (100, 160, 0.0, True, NONE),
        (100, 160, -5.0, True, NONE),
        (100, 40, 30.0, True, NONE),  # offset reset: never a negative count
        (100, 160, 30.0, False, NONE),  # another incarnation of the topic
        (None, 160, 30.0, True, NONE),
        (100, None, 30.0, True, NONE),
    ],
    ids=["normal", "idle", "zero-elapsed", "negative-elapsed", "backwards", "recreated", "no-previous", "no-current"],
)
def test_offset_delta(previous, current, elapsed, same, expected):
    assert lag.offset_delta(previous, current, elapsed, same_incarnation=same) == expected


@pytest.mark.parametrize(
    "counters, expected",
    [
        ([Counter(1, 0.5), Counter(2, 1.5)], Counter(3, 2.0)),
        ([Counter(1, 0.5), NONE], NONE),
        ([Counter(1, None)], NONE),
        ([], NONE),
    ],
    ids=["sum", "unknown-part", "unknown-rate", "empty"],
)
def test_sum_counters_never_undercounts(counters, expected):
    assert aggregate.sum_counters(counters) == expected


@pytest.mark.parametrize(
    "lags, expected",
    [
        ([TimeLag(0.0, TimeLagQuality.EXACT)], (0.0, TimeLagQuality.EXACT)),
        ([TimeLag(0.0, TimeLagQuality.EXACT), TimeLag(5.0, TimeLagQuality.INTERPOLATED)], (5.0, TimeLagQuality.INTERPOLATED)),
        ([TimeLag(9.0, TimeLagQuality.INTERPOLATED), TimeLag(5.0, TimeLagQuality.AT_LEAST)], (9.0, TimeLagQuality.AT_LEAST)),
        ([TimeLag(9.0, TimeLagQuality.AT_LEAST), TimeLag.unknown()], (9.0, TimeLagQuality.UNKNOWN)),
        ([TimeLag.unknown()], (None, TimeLagQuality.UNKNOWN)),
        ([], (None, TimeLagQuality.UNKNOWN)),
        ([TimeLag(9.0, TimeLagQuality.AT_LEAST), TimeLag(None, TimeLagQuality.CLOCK_SKEW), TimeLag.unknown()],
         (None, TimeLagQuality.CLOCK_SKEW)),  # the worst is not knowable: never the others' smaller max
    ],
    ids=["exact", "interpolated-wins", "at-least-wins", "unknown-wins", "all-unknown", "empty", "clock-skew-wins"],
)
def test_worst_time_lag_keeps_the_max_and_the_weakest_quality(lags, expected):
    assert aggregate.worst_time_lag(lags) == expected


@pytest.mark.parametrize(
    "lag_sum, consumed, produced, expected",
    [
        (0, NONE, NONE, (CatchUp.CAUGHT_UP, 0.0)),
        (1000, Counter(300, 30.0), Counter(100, 10.0), (CatchUp.CATCHING_UP, 50.0)),  # 1000 / (30 - 10)
        (1000, Counter(100, 10.0), Counter(100, 10.0), (CatchUp.STEADY, None)),
        (1000, Counter(0, 0.0), Counter(0, 0.0), (CatchUp.STEADY, None)),  # a stopped consumer, a quiet topic
        (1000, Counter(50, 5.0), Counter(100, 10.0), (CatchUp.FALLING_BEHIND, None)),
        (1000, NONE, Counter(100, 10.0), (CatchUp.UNKNOWN, None)),
        (1000, Counter(100, 10.0), NONE, (CatchUp.UNKNOWN, None)),
    ],
    ids=["caught-up", "catching-up-eta", "equal-rates", "nothing-moves", "slower", "consume-unknown", "produce-unknown"],
)
def test_catch_up(lag_sum, consumed, produced, expected):
    assert aggregate.catch_up(lag_sum, consumed, produced) == expected


@pytest.mark.parametrize(
    "seconds, retention_ms, expected",
    [(3600.0, 7_200_000, 0.5), (0.0, 1000, 0.0), (7200.0, 3_600_000, 2.0), (3600.0, -1, None), (3600.0, None, None),
     (None, 1000, None), (10.0, 0, None)],
    ids=["half", "zero", "past-retention", "unlimited", "unknown-retention", "unknown-lag", "zero-retention"],
)
def test_retention_used(seconds, retention_ms, expected):
    assert aggregate.retention_used(seconds, retention_ms) == expected


# --- build_report -----------------------------------------------------------------------------

T0, T1 = 1_700_000_000.0, 1_700_000_030.0
ORDERS = {("orders", 0): 100, ("orders", 1): 200}


def test_caught_up_group():
    rep = report(snapshot(T0, ORDERS, [group("g", {("orders", 0): 100, ("orders", 1): 200})]))
    assert [r.lag for r in rep.partitions] == [0, 0]
    assert all(r.time_lag == TimeLag(0.0, TimeLagQuality.EXACT) for r in rep.partitions)
    (g,) = rep.groups
    assert (g.lag_sum, g.lag_max, g.catch_up, g.catch_up_seconds) == (0, 0, CatchUp.CAUGHT_UP, 0.0)


def test_lagging_group_aggregates_per_topic_and_group():
    snap = snapshot(
        T0, {**ORDERS, ("pay", 0): 50},
        [group("g", {("orders", 0): 90, ("orders", 1): 150, ("pay", 0): 20})],
    )
    rep = report(snap)
    topics = {t.topic: t for t in rep.group_topics}
    assert (topics["orders"].lag_sum, topics["orders"].lag_max, topics["orders"].partitions) == (60, 50, 2)
    assert (topics["pay"].lag_sum, topics["pay"].lag_max, topics["pay"].partitions) == (30, 30, 1)
    (g,) = rep.groups
    assert (g.lag_sum, g.lag_max, g.topics, g.partitions, g.partitions_without_commit) == (90, 50, 2, 3, 0)
    assert g.catch_up is CatchUp.UNKNOWN  # first scrape: no rates yet


def test_empty_group_without_members_is_reported_like_any_other():
    rep = report(snapshot(T0, ORDERS, [group("idle", {("orders", 0): 10, ("orders", 1): 200}, state="Empty")]))
    (g,) = rep.groups
    assert (g.state, g.members, g.lag_sum, g.partitions) == ("Empty", 0, 90, 2)
    assert all(r.member is None for r in rep.partitions)


def test_never_committed_partitions_have_no_lag_and_are_counted():
    rep = report(snapshot(T0, {**ORDERS, ("orders", 2): 300}, [group("g", {("orders", 0): 40})]))
    assert [(r.partition, r.lag, r.committed_offset) for r in rep.partitions] == [(0, 60, 40), (1, None, None), (2, None, None)]
    assert all(r.lag_items is None and r.time_lag.quality is TimeLagQuality.UNKNOWN for r in rep.partitions[1:])
    (topic,) = rep.group_topics
    assert (topic.partitions, topic.partitions_without_commit, topic.lag_sum, topic.lag_max) == (3, 2, 60, 60)
    assert rep.groups[0].partitions_without_commit == 2


def test_committed_partition_of_deleted_topic_keeps_a_row_with_an_error():
    rep = report(snapshot(T0, ORDERS, [group("g", {("orders", 0): 100, ("gone", 3): 7})]))
    gone = row(rep, "g", "gone", 3)
    assert (gone.committed_offset, gone.log_end_offset, gone.lag) == (7, None, None)
    assert "gone" in gone.error and "not in topic metadata" in gone.error
    assert {t.topic for t in rep.group_topics} == {"orders", "gone"}


def test_assigned_partitions_without_commit_are_visible_with_their_member():
    member = Member("m-1", "app", "/10.0.0.1", assignment=(("orders", 0), ("orders", 1)))
    rep = report(snapshot(T0, ORDERS, [group("g", {}, members=[member])]))
    assert [(r.partition, r.committed_offset, r.member) for r in rep.partitions] == [(0, None, member), (1, None, member)]
    assert rep.groups[0].members == 1
    assert rep.groups[0].partitions_without_commit == 2


def test_records_per_message_scales_lag_items():
    snap = snapshot(T0, {("batched", 0): 100, ("plain", 0): 100}, [group("g", {("batched", 0): 90, ("plain", 0): 90})])
    rep = report(snap, records_per_message=lambda topic: 50 if topic == "batched" else 1)
    assert (row(rep, "g", "batched", 0).lag, row(rep, "g", "batched", 0).lag_items) == (10, 500)
    assert row(rep, "g", "plain", 0).lag_items == 10
    assert {t.topic: t.lag_items_sum for t in rep.group_topics} == {"batched": 500, "plain": 10}
    assert rep.groups[0].lag_items_sum == 510


def test_counts_and_rates_from_the_previous_snapshot():
    before = snapshot(T0, ORDERS, [group("g", {("orders", 0): 40, ("orders", 1): 100})])
    now = snapshot(T1, {("orders", 0): 160, ("orders", 1): 260}, [group("g", {("orders", 0): 100, ("orders", 1): 250})])
    rep = report(now, before)
    assert row(rep, "g", "orders", 0).produced == Counter(60, 2.0)
    assert row(rep, "g", "orders", 0).consumed == Counter(60, 2.0)
    assert row(rep, "g", "orders", 1).consumed == Counter(150, 5.0)
    (topic,) = rep.group_topics
    assert (topic.produced, topic.consumed) == (Counter(120, 4.0), Counter(210, 7.0))
    g = rep.groups[0]
    assert (g.lag_sum, g.catch_up) == (70, CatchUp.CATCHING_UP)
    assert g.catch_up_seconds == pytest.approx(70 / (7.0 - 4.0))


def test_first_scrape_has_unknown_counts():
    rep = report(snapshot(T0, ORDERS, [group("g", {("orders", 0): 40})]))
    assert all(r.produced == NONE and r.consumed == NONE for r in rep.partitions)


def test_offset_reset_gives_null_not_negative_consume():
    before = snapshot(T0, ORDERS, [group("g", {("orders", 0): 90})])
    now = snapshot(T1, ORDERS, [group("g", {("orders", 0): 10})])  # reset to earliest
    rep = report(now, before)
    assert row(rep, "g", "orders", 0).consumed == NONE
    assert rep.group_topics[0].consumed == NONE


def test_recreated_topic_gives_null_counts_even_when_offsets_grew():
    before = snapshot(T0, {("t", 0): 10}, [group("g", {("t", 0): 5})], topics=[TopicInfo("t", 1, topic_id="A")])
    now = snapshot(T1, {("t", 0): 50}, [group("g", {("t", 0): 20})], topics=[TopicInfo("t", 1, topic_id="B")])
    r = row(report(now, before), "g", "t", 0)
    assert (r.produced, r.consumed, r.lag) == (NONE, NONE, 30)


def test_log_end_going_backwards_gives_null_produce():
    before = snapshot(T0, {("t", 0): 100}, [group("g", {("t", 0): 5})])
    now = snapshot(T1, {("t", 0): 20}, [group("g", {("t", 0): 5})])
    assert row(report(now, before), "g", "t", 0).produced == NONE


def test_retention_used_per_group_topic_from_time_lag_and_retention():
    topics = [TopicInfo("t", 1, topic_id="A", retention_ms=1_000_000), TopicInfo("u", 1, topic_id="U", retention_ms=-1)]
    snap = snapshot(T0 + 1000, {("t", 0): 200, ("u", 0): 200}, [group("g", {("t", 0): 100, ("u", 0): 100})], topics=topics)
    histories = {("t", 0): ((T0, 0), (T0 + 1000, 200)), ("u", 0): ((T0, 0), (T0 + 1000, 200))}
    rep = report(snap, histories=histories)
    by_topic = {t.topic: t for t in rep.group_topics}
    # committed 100 is halfway between the two points: produced at T0 + 500, so 500 s behind
    assert by_topic["t"].lag_seconds_max == pytest.approx(500.0)
    assert by_topic["t"].time_lag_quality is TimeLagQuality.INTERPOLATED
    assert (by_topic["t"].retention_ms, by_topic["t"].retention_used) == (1_000_000, pytest.approx(0.5))
    assert by_topic["u"].retention_used is None  # unlimited retention
    assert rep.groups[0].retention_used_max == pytest.approx(0.5)


def test_a_partition_with_record_times_ahead_leaves_its_topic_and_group_time_lag_null_not_smaller():
    topics = [TopicInfo("t", 2, topic_id="A", retention_ms=1_000_000), TopicInfo("u", 1, topic_id="U")]
    log_ends = {("t", 0): 200, ("t", 1): 200, ("u", 0): 200}
    snap = snapshot(T0 + 1000, log_ends, [group("g", {tp: 100 for tp in log_ends})], topics=topics)
    histories = {tp: ((T0, 0), (T0 + 1000, 200)) for tp in log_ends}
    rep = report(snap, histories=histories, skewed={("t", 1)})
    assert row(rep, "g", "t", 0).time_lag.seconds == pytest.approx(500.0)  # its own points place it
    assert row(rep, "g", "t", 1).time_lag.seconds == pytest.approx(500.0)  # so do they on the skewed one
    rep = report(snap, histories={**histories, ("t", 1): ((T0 + 1000, 200),)}, skewed={("t", 1)})
    assert row(rep, "g", "t", 1).time_lag == TimeLag(None, TimeLagQuality.CLOCK_SKEW)
    by_topic = {t.topic: t for t in rep.group_topics}
    assert (by_topic["t"].lag_seconds_max, by_topic["t"].time_lag_quality) == (None, TimeLagQuality.CLOCK_SKEW)
    assert by_topic["t"].retention_used is None and by_topic["t"].lag_sum == 200  # the lag in messages is whole
    assert by_topic["u"].lag_seconds_max == pytest.approx(500.0)
    (g,) = rep.groups
    assert (g.lag_seconds_max, g.time_lag_quality, g.lag_sum, g.partial) == (None, TimeLagQuality.CLOCK_SKEW, 300, False)


def test_groups_are_reported_separately():
    snap = snapshot(T0, ORDERS, [group("a", {("orders", 0): 0}), group("b", {("orders", 1): 150})])
    rep = report(snap)
    assert {g.group: g.lag_sum for g in rep.groups} == {"a": 100, "b": 50}
    assert {(t.group, t.topic) for t in rep.group_topics} == {("a", "orders"), ("b", "orders")}
    assert len(rep.partitions) == 4  # each group sees both partitions of the topic it reads


def test_group_with_nothing_committed_or_assigned_has_no_rows_and_unknown_state():
    rep = report(snapshot(T0, ORDERS, [group("new", {})]))
    assert rep.partitions == () and rep.group_topics == ()
    (g,) = rep.groups
    assert (g.topics, g.lag_sum, g.catch_up, g.lag_seconds_max) == (0, 0, CatchUp.UNKNOWN, None)


# --- update_histories -------------------------------------------------------------------------


def test_update_histories_appends_this_scrape_and_broker_probes():
    snap = snapshot(T1, {("t", 0): 100}, time_probes={("t", 0): ((T0, 40),)})
    assert lag.update_histories({}, snap, None) == {("t", 0): ((T0, 40), (T1, 100))}


def test_update_histories_resets_on_recreated_topic():
    before = snapshot(T0, {("t", 0): 10}, topics=[TopicInfo("t", 1, topic_id="A")])
    now = snapshot(T1, {("t", 0): 50}, topics=[TopicInfo("t", 1, topic_id="B")])
    assert lag.update_histories({("t", 0): ((T0 - 30, 0), (T0, 10))}, now, before) == {("t", 0): ((T1, 50),)}


def test_update_histories_resets_when_log_end_goes_backwards():
    now = snapshot(T1, {("t", 0): 5})
    assert lag.update_histories({("t", 0): ((T0, 100),)}, now, snapshot(T0, {("t", 0): 100})) == {("t", 0): ((T1, 5),)}


def test_update_histories_keeps_history_when_log_end_unknown_and_forgets_vanished_partitions():
    snap = ClusterSnapshot("c1", T1, {}, {("t", 0): PartitionOffsets("t", 0, None, error="NOT_LEADER")}, ())
    old = {("t", 0): ((T0, 10),), ("gone", 0): ((T0, 10),)}
    assert lag.update_histories(old, snap, None) == {("t", 0): ((T0, 10),)}


@pytest.mark.parametrize(
    "committed",
    [{}, {("gone", 0): 7}],
    ids=["assigned-never-committed", "only-a-deleted-topic"],
)
def test_group_with_no_known_lag_is_not_reported_caught_up(committed):
    member = Member("m-1", "app", "/10.0.0.1", assignment=(("orders", 0), ("orders", 1)) if not committed else ())
    rep = report(snapshot(T0, ORDERS, [group("g", committed, members=[member])]))
    assert all(r.lag is None for r in rep.partitions)
    assert rep.groups[0].catch_up is CatchUp.UNKNOWN
    assert rep.groups[0].catch_up_seconds is None


def test_catch_up_ignores_traffic_into_partitions_the_group_never_committed():
    before = snapshot(0.0, {("t", 0): 100, ("t", 1): 0}, [group("g", {("t", 0): 0})])
    after = snapshot(10.0, {("t", 0): 150, ("t", 1): 1000}, [group("g", {("t", 0): 100})])
    (g,) = report(after, previous=before).groups
    # lag 50, consumed 10/s, 5/s produced into p0: 50 / (10 - 5) = 10 s; p1's 100/s never counts
    # (counting it would say falling_behind)
    assert g.catch_up is CatchUp.CATCHING_UP
    assert g.catch_up_seconds == pytest.approx(10.0)


# --- honest aggregates and offset anomalies -----------------------------------------------------


def test_a_partition_whose_log_end_could_not_be_read_makes_its_sums_null_not_smaller():
    snap = snapshot(100.0, {("t", 0): 50, ("t", 1): 80}, [group("g", {("t", 0): 10, ("t", 1): 20})])
    unreadable = PartitionOffsets("t", 1, None, error="ListOffsets to broker 2 failed")
    snap = ClusterSnapshot(snap.cluster, snap.taken_at, snap.topics, {**snap.partitions, ("t", 1): unreadable},
                           snap.groups)
    rep = report(snap)
    assert row(rep, "g", "t", 1).lag_unknown and row(rep, "g", "t", 1).lag is None
    (topic,), (g,) = rep.group_topics, rep.groups
    assert (topic.lag_sum, topic.lag_max, topic.partitions_unknown, topic.lag_known_sum) == (None, None, 1, 40)
    assert (g.lag_sum, g.partial, g.partitions_unknown, g.lag_known_sum) == (None, True, 1, 40)
    assert g.catch_up is CatchUp.UNKNOWN


def test_a_group_whose_offsets_could_not_be_read_keeps_its_last_known_partitions_as_unknown():
    obs = GroupObservation("g", "Stable", committed={}, error="OffsetFetch failed", committed_read=False,
                           committed_unread=(("t", 0), ("t", 1)))
    rep = report(snapshot(100.0, {("t", 0): 50, ("t", 1): 80}, [obs]))
    assert {(r.partition, r.lag_unknown, r.error) for r in rep.partitions} == {
        (0, True, "OffsetFetch failed"), (1, True, "OffsetFetch failed")}
    (g,) = rep.groups
    assert (g.lag_sum, g.partitions_unknown, g.lag_known_sum) == (None, 2, 0)


def test_a_group_never_read_has_no_sum_even_without_known_partitions():
    obs = GroupObservation("g", "Unknown", committed={}, error="FindCoordinator failed", committed_read=False)
    (g,) = report(snapshot(100.0, {("t", 0): 50}, [obs])).groups
    assert g.lag_sum is None and g.partial


def test_never_committed_partitions_are_not_unknown():
    rep = report(snapshot(100.0, {("t", 0): 50, ("t", 1): 80}, [group("g", {("t", 0): 10})]))
    assert not row(rep, "g", "t", 1).lag_unknown
    assert rep.groups[0].lag_sum == 40 and not rep.groups[0].partial


def test_a_commit_on_a_deleted_topic_is_not_unknown():
    snap = snapshot(100.0, {("t", 0): 50}, [group("g", {("t", 0): 10, ("gone", 0): 5})])
    rep = report(snap)
    assert not row(rep, "g", "gone", 0).lag_unknown
    assert rep.groups[0].lag_sum == 40


def test_a_commit_beyond_the_log_end_is_flagged_and_never_subtracted():
    rep = report(snapshot(100.0, {("t", 0): 10, ("t", 1): 80}, [group("g", {("t", 0): 60, ("t", 1): 20})]))
    beyond = row(rep, "g", "t", 0)
    assert (beyond.lag, beyond.beyond_log_end) == (0, 50)
    assert rep.group_topics[0].partitions_beyond_log_end == 1
    assert (rep.groups[0].lag_sum, rep.groups[0].partitions_beyond_log_end) == (60, 1)


def test_building_a_report_leaves_no_reference_cycle_behind():
    # The daemon pauses the cyclic collector during a scrape and freezes what survives it (runtime/gcpause.py):
    # a cycle made while building the report would keep the whole scrape alive until the next full collection.
    before = snapshot(T0, {("t", 0): 10, ("t", 1): 20}, [group("g", {("t", 0): 5})])
    after = snapshot(T1, {("t", 0): 15, ("t", 1): 20}, [group("g", {("t", 0): 9, ("gone", 0): 3}), group("h", {})])
    gc.collect()
    gc.disable()
    try:
        built = report(after, before)
        assert built.partitions and gc.collect() == 0
    finally:
        gc.enable()
