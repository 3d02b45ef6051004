"""The time-lag prober: plans ladder and bisection rounds, keeps histories and probe times (no broker:
a fake log answers ListOffsets by timestamp from known record times)."""

import bisect

import msgspec
import pytest

from exporter.lag import prober, timelag
from exporter.lag.model import ClusterSnapshot, GroupObservation, PartitionOffsets, TimeLagQuality, TopicInfo
from exporter.lag.prober import TimeLagProber

NOW = 100_000.0
TP = ("t", 0)
AGES = (60, 300, 900, 3600)


def snapshot(at, log_ends, committed=None, topic_id="t-v1"):
    """log_ends: {tp: log_end}; committed: {tp: offset} of one group "g"."""
    groups = (GroupObservation(group="g", state="Stable", committed=committed),) if committed else ()
    return ClusterSnapshot(
        cluster="c1",
        taken_at=at,
        topics={"t": TopicInfo("t", len(log_ends), topic_id=topic_id)},
        partitions={tp: PartitionOffsets(tp[0], tp[1], end, leader=1) for tp, end in log_ends.items()},
        groups=groups,
    )


class FakeLog:
    """Records of one partition produced at `stamps`: answers like the collector's `probe` does."""

    def __init__(self, stamps):
        self.stamps = sorted(stamps)
        self.calls: list[list[dict]] = []

    def probe(self, rounds):
        self.calls.append([dict(r) for r in rounds])
        found = []
        for specs in rounds:
            points = {}
            for tp, at in specs.items():
                offset = bisect.bisect_left(self.stamps, at)  # first record at or after `at`
                points[tp] = (at, offset)  # past the last record: the log-end, as the collector says
            found.append(points)
        return found


# --- pure planning ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "histories, probed_at, committed, log_end, expected",
    [
        ({}, {}, 10, 100, {TP: {10}}),  # no history at all
        ({TP: ((NOW, 100),)}, {}, 10, 100, {TP: {10}}),  # only today's point: older than every point
        ({TP: ((NOW - 60, 5), (NOW, 100))}, {}, 10, 100, {}),  # the history places it
        ({}, {}, 100, 100, {}),  # caught up: nothing to place
        ({}, {TP: NOW - 599}, 10, 100, {}),  # probed within every_s
        ({}, {TP: NOW - 600}, 10, 100, {TP: {10}}),  # every_s has passed
        ({}, {}, 10, None, {}),  # log-end unknown
    ],
    ids=["no-history", "only-today", "placed", "caught-up", "probed-recently", "probe-due", "log-end-unknown"],
)
def test_probe_targets(histories, probed_at, committed, log_end, expected):
    snap = snapshot(NOW, {TP: log_end}, {TP: committed})
    assert prober.probe_targets(snap, histories, probed_at, every_s=600) == expected


def test_probe_targets_collects_every_group_committed_offset_of_a_partition():
    snap = snapshot(NOW, {TP: 100})
    snap = msgspec.structs.replace(snap, groups=(
        GroupObservation(group="a", state="Stable", committed={TP: 10}),
        GroupObservation(group="b", state="Stable", committed={TP: 20}),
    ))
    assert prober.probe_targets(snap, {}, {}, every_s=600) == {TP: {10, 20}}


def test_ladder_asks_every_partition_about_every_age():
    assert prober.ladder([TP, ("t", 1)], (60, 3600), NOW) == [
        {TP: NOW - 60, ("t", 1): NOW - 60},
        {TP: NOW - 3600, ("t", 1): NOW - 3600},
    ]


@pytest.mark.parametrize(
    "history, expected",
    [
        (((NOW - 1000, 0), (NOW - 200, 50), (NOW, 100)), {TP: NOW - 600}),  # middle of the gap around 20
        (((NOW - 1000, 0), (NOW - 999.5, 50), (NOW, 100)), {}),  # already within 1 s
        (((NOW, 100),), {}),  # older than every point: the ladder's job, not bisection's
    ],
    ids=["wide-gap", "precise", "unbracketed"],
)
def test_bisection_round(history, expected):
    assert prober.bisection_round({TP: history}, {TP: {20}}, NOW) == expected


# --- observe --------------------------------------------------------------------------------------


def test_observe_places_a_committed_offset_within_one_percent_on_the_first_scrape():
    stamps = [NOW - 1000 + i * i for i in range(31)]  # records bunch up unevenly
    log = FakeLog(stamps)
    time_lag = TimeLagProber(AGES)
    found = time_lag.observe(snapshot(NOW, {TP: 31}, {TP: 20}), None, log.probe)
    assert [at for at, _ in found[TP]] == [at for call in log.calls for r in call for at in r.values()]
    got = timelag.estimate(time_lag.histories[TP], 20, 31, NOW)
    assert got.quality is TimeLagQuality.INTERPOLATED
    assert got.seconds == pytest.approx(NOW - stamps[20], rel=0.01)
    assert len(log.calls[0]) == len(AGES) and all(len(call) == 1 for call in log.calls[1:])


def test_observe_without_ages_never_asks_and_still_keeps_this_scrapes_point():
    log = FakeLog([NOW - 10])
    time_lag = TimeLagProber(())
    assert time_lag.observe(snapshot(NOW, {TP: 1}, {TP: 0}), None, log.probe) is None
    assert log.calls == [] and time_lag.histories == {TP: ((NOW, 1),)}


def test_observe_asks_again_only_after_every_s():
    log = FakeLog([NOW - 5000 + i for i in range(10)])  # all older than the ladder: still unplaced after
    time_lag = TimeLagProber(AGES, every_s=600)
    for at, asked in [(NOW, True), (NOW + 30, False), (NOW + 599, False), (NOW + 600, True)]:
        before = len(log.calls)
        time_lag.observe(snapshot(at, {TP: 10}, {TP: 3}), None, log.probe)
        assert (len(log.calls) > before) is asked, at


def test_observe_stops_bisecting_when_out_of_time():
    log = FakeLog([NOW - 1000 + i * i for i in range(31)])
    found = TimeLagProber(AGES).observe(snapshot(NOW, {TP: 31}, {TP: 20}), None, log.probe, lambda: True)
    assert len(log.calls) == 1 and len(found[TP]) == len(AGES)  # the ladder only


def test_observe_bisects_at_most_refine_rounds():
    log = FakeLog([NOW - 1000 + i * i for i in range(31)])
    TimeLagProber(AGES, refine_rounds=2).observe(snapshot(NOW, {TP: 31}, {TP: 20}), None, log.probe)
    assert len(log.calls) == 3


def test_observe_keeps_the_points_got_before_a_failing_probe():
    log = FakeLog([NOW - 1000 + i * i for i in range(31)])

    def flaky(rounds):
        if log.calls:
            raise OSError("broker gone")
        return log.probe(rounds)

    time_lag = TimeLagProber(AGES)
    with pytest.raises(OSError):
        time_lag.observe(snapshot(NOW, {TP: 31}, {TP: 20}), None, flaky)
    assert len(time_lag.histories[TP]) > 1  # the ladder's points are kept
    assert time_lag.probed_at == {}  # and the partition is asked again next scrape


def test_observe_forgets_probe_times_and_histories_of_vanished_partitions():
    log = FakeLog([NOW - 5000])
    time_lag = TimeLagProber(AGES)
    time_lag.observe(snapshot(NOW, {TP: 1, ("t", 1): 1}, {TP: 0, ("t", 1): 0}), None, log.probe)
    assert set(time_lag.probed_at) == {TP, ("t", 1)}
    time_lag.observe(snapshot(NOW + 30, {TP: 1}, {TP: 0}), None, log.probe)
    assert set(time_lag.probed_at) == {TP} and set(time_lag.histories) == {TP}


def test_observe_starts_a_fresh_history_for_a_recreated_topic():
    time_lag = TimeLagProber(())
    first = snapshot(NOW, {TP: 50})
    time_lag.observe(first, None, FakeLog([]).probe)
    time_lag.observe(snapshot(NOW + 30, {TP: 5}, topic_id="t-v2"), first, FakeLog([]).probe)
    assert time_lag.histories == {TP: ((NOW + 30, 5),)}


def test_observe_caps_each_history_at_max_points():
    time_lag = TimeLagProber((), max_points=3)
    for i in range(6):
        time_lag.observe(snapshot(NOW + 30 * i, {TP: 10 * i}), None, FakeLog([]).probe)
    assert len(time_lag.histories[TP]) == 3
