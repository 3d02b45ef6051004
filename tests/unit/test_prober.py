"""The time-lag prober: plans ladder and bisection rounds, keeps histories and probe times (no broker:
a fake log answers ListOffsets by timestamp from known record times)."""

import bisect

import msgspec
import pytest

from exporter.lag import prober, timelag
from exporter.lag.model import ClusterSnapshot, GroupObservation, PartitionOffsets, TimeLag, TimeLagQuality, TopicInfo
from exporter.lag.prober import TimeLagProber
from exporter.lag.report import build_report

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
    """Records of one partition stamped `stamps`: answers like the collector's `probe` does (the first
    offset at or after the time asked and that record's timestamp; -1 and None past the last record)."""

    def __init__(self, stamps):
        self.stamps = sorted(stamps)
        self.calls: list[list[dict]] = []

    def answer(self, at):
        offset = bisect.bisect_left(self.stamps, at)
        return (offset, self.stamps[offset]) if offset < len(self.stamps) else (-1, None)

    def probe(self, rounds):
        self.calls.append([dict(r) for r in rounds])
        return [{tp: self.answer(at) for tp, at in specs.items()} for specs in rounds]


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
    # Every time asked is a point, but the skew check's (after the scrape's time: no record found there).
    assert [at for at, _ in found[TP]] == [at for call in log.calls for r in call for at in r.values() if at <= NOW]
    got = timelag.estimate(time_lag.histories[TP], 20, 31, NOW)
    assert got.quality is TimeLagQuality.INTERPOLATED
    assert got.seconds == pytest.approx(NOW - stamps[20], rel=0.01)
    assert len(log.calls[0]) == len(AGES) + 1 and all(len(call) == 1 for call in log.calls[1:])
    assert log.calls[0][-1] == {TP: NOW + prober.SKEW_TOLERANCE_S} and time_lag.skewed == {}


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


# --- record times ahead of lagwatch's clock -------------------------------------------------------


@pytest.mark.parametrize(
    "asked_at, answer, points, ahead",
    [
        (NOW - 60, (7, NOW - 50), [(NOW - 60, 7)], {}),  # a record after the time asked: a point
        (NOW - 60, (-1, None), [(NOW - 60, 31)], {}),  # none at or after it: the log ended at today's end
        (NOW - 60, (7, None), [(NOW - 60, 7)], {}),  # a record without a timestamp proves nothing
        (NOW - 60, (0, NOW + 3600), [], {TP: 3590.0}),  # stamped an hour after the answer came: ahead, no point
        (NOW - 60, (0, NOW + 10 + 5), [(NOW - 60, 0)], {}),  # within the tolerance of when it came
        (NOW + 5, (-1, None), [], {}),  # the skew check's time makes no point
        (NOW + 5, (30, NOW + 6), [], {}),  # a record produced while the probe was under way
        (NOW + 5, (30, NOW + 3600), [], {TP: 3590.0}),
    ],
    ids=["found", "none-after", "no-timestamp", "ahead", "within-tolerance", "check-none", "check-fresh-record",
         "check-ahead"],
)
def test_read_answers(asked_at, answer, points, ahead):
    # The answer came 10 s after the snapshot was taken; the tolerance is 5 s.
    got = prober.read_answers(snapshot(NOW, {TP: 31}), [{TP: asked_at}], [{TP: answer}], NOW + 10, 5.0)
    assert got == ({TP: points} if points else {}, ahead)


def test_records_stamped_ahead_of_the_clock_make_no_points_and_a_clock_skew_time_lag():
    log = FakeLog([NOW + 3600 + i for i in range(500)])  # a producer whose clock runs an hour fast
    time_lag = TimeLagProber(AGES)
    snap = snapshot(NOW, {TP: 500}, {TP: 100})
    assert time_lag.observe(snap, None, log.probe) == {}
    assert time_lag.skewed == {TP: 3600.0} and time_lag.histories == {TP: ((NOW, 500),)}  # lagwatch's own point only
    assert len(log.calls) == 1  # the ladder and its skew check; nothing to bisect
    (row,) = build_report(snap, None, time_lag.histories, skewed=time_lag.skewed).partitions
    assert (row.lag, row.time_lag.seconds, row.time_lag.quality) == (400, None, TimeLagQuality.CLOCK_SKEW)


def test_a_record_produced_while_the_probe_is_under_way_is_not_taken_for_clock_skew():
    stamps = [NOW - 1000 + i * i for i in range(31)] + [NOW + 8]  # the last one produced after the snapshot
    time_lag = TimeLagProber(AGES, skew_tolerance_s=5)
    # The broker answers 10 s after the snapshot: NOW + 8 is in lagwatch's past by then.
    time_lag.observe(snapshot(NOW, {TP: 31}, {TP: 20}), None, FakeLog(stamps).probe, clock=lambda: NOW + 10)
    assert time_lag.skewed == {}
    assert timelag.estimate(time_lag.histories[TP], 20, 31, NOW).quality is TimeLagQuality.INTERPOLATED


def test_a_partition_stays_clock_skewed_until_a_later_probe_finds_no_record_ahead():
    log = FakeLog([NOW + 3600 + i for i in range(500)])
    time_lag = TimeLagProber(AGES, every_s=600)
    for at, skewed in [(NOW, {TP}), (NOW + 30, {TP}), (NOW + 600, {TP}), (NOW + 4200, set())]:
        time_lag.observe(snapshot(at, {TP: 500}, {TP: 100}), None, log.probe)
        assert set(time_lag.skewed) == skewed, at
    # By then lagwatch's clock is past every record time: the broker's points place the offset again.
    got = timelag.estimate(time_lag.histories[TP], 100, 500, NOW + 4200)
    assert got.quality is TimeLagQuality.INTERPOLATED and got.seconds == pytest.approx(500, rel=0.01)


def test_a_record_found_ahead_in_a_bisection_round_takes_the_ladders_points_of_its_partition_away():
    log = FakeLog([NOW - 1000 + i * i for i in range(31)])

    def late_skew(rounds):
        answers = log.probe(rounds)
        if len(log.calls) == 2:  # the first bisection round: a record stamped an hour ahead appeared
            return [{tp: (offset, NOW + 3600) for tp, (offset, _) in r.items()} for r in answers]
        return answers

    time_lag = TimeLagProber(AGES)
    assert time_lag.observe(snapshot(NOW, {TP: 31}, {TP: 20}), None, late_skew) == {}
    assert set(time_lag.skewed) == {TP} and time_lag.histories == {TP: ((NOW, 31),)}
    assert len(log.calls) == 2  # and no more bisection for it


def test_records_stamped_long_ago_give_at_least_the_ladders_oldest_age():
    log = FakeLog([NOW - 30 * 86400 + i for i in range(500)])  # replayed or late event-time data
    time_lag = TimeLagProber(AGES)
    time_lag.observe(snapshot(NOW, {TP: 500}, {TP: 100}), None, log.probe)
    assert time_lag.skewed == {}
    assert timelag.estimate(time_lag.histories[TP], 100, 500, NOW) == TimeLag(max(AGES), TimeLagQuality.AT_LEAST)
