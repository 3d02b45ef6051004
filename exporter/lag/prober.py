"""Time lag's state for one cluster: each partition's (time, log-end) history and when it was last probed.

Every scrape adds its own point per partition (`report.update_histories`). Where that history still cannot
place a committed offset in time (it is older than every point), the broker is asked: ListOffsets by
timestamp answers "the first offset produced at or after t", a history point of the same kind. First a
ladder of ages (1 min ... 7 days), all sent at once, brackets each committed offset; then bisection rounds
narrow the bracket to about 1% of the record's age while the scrape's time budget lasts. A partition is
probed at most every `every_s`. The I/O is the caller's (`probe`): everything here is plain data, with
time passed in (the snapshot's `taken_at`, and `clock` for when the broker answered).

The broker's times are the records' own timestamps, in the producers' clock; lagwatch's points are in its
own. Where a producer's clock runs ahead (or an application stamps event times), the two cannot be mixed:
every ladder time finds the log's first record (all stamped later), and interpolating up to this scrape's
point would make hundreds of unread records seconds old. So an answer whose record is stamped later than
lagwatch's clock when it arrived (beyond `skew_tolerance_s`) proves the partition's record times ahead: the
ladder round also asks about `clock() + skew_tolerance_s`, which finds such a record cheaply. Such a
partition keeps no broker point from that probe and is `skewed` until a later probe finds no record ahead;
its time lag is then known only where lagwatch's own points place the committed offset, else `clock_skew`
(timelag.estimate).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from exporter.lag import timelag
from exporter.lag.model import ClusterSnapshot, TopicPartition
from exporter.lag.report import update_histories
from exporter.lag.timelag import History, Point

Round = Mapping[TopicPartition, float]  # partition -> the time to ask about
# The broker's answer: the first offset at or after the time asked (-1: none), and that record's timestamp
# (epoch seconds; None when it has none).
Answer = tuple[int, float | None]
# One call to the broker: every round sent at once, an answer per partition (failures left out).
ProbeFn = Callable[[Sequence[Round]], Sequence[Mapping[TopicPartition, Answer]]]
SKEW_TOLERANCE_S = 5.0  # the default of time_lag.clock_skew_tolerance_s


def probe_targets(
    snapshot: ClusterSnapshot,
    histories: Mapping[TopicPartition, History],
    probed_at: Mapping[TopicPartition, float],
    every_s: float,
) -> dict[TopicPartition, set[int]]:
    """The committed offsets, per partition, that its history cannot place and that were not probed
    within `every_s` of the snapshot."""
    now = snapshot.taken_at
    targets: dict[TopicPartition, set[int]] = defaultdict(set)
    for group in snapshot.groups:
        for tp, committed in group.committed.items():
            if now - probed_at.get(tp, -1e18) < every_s:
                continue
            offsets = snapshot.partitions.get(tp)
            log_end = offsets.log_end_offset if offsets else None
            if timelag.needs_probe(histories.get(tp, ()), committed, log_end):
                targets[tp].add(committed)
    return dict(targets)


def ladder(
    partitions: Iterable[TopicPartition], ages_s: Sequence[float], now: float
) -> list[dict[TopicPartition, float]]:
    """One round per age: every partition asked about `now - age`."""
    partitions = list(partitions)
    return [{tp: now - age for tp in partitions} for age in ages_s]


def read_answers(
    snapshot: ClusterSnapshot,
    rounds: Sequence[Round],
    answers: Sequence[Mapping[TopicPartition, Answer]],
    answered_at: float,
    skew_tolerance_s: float,
) -> tuple[dict[TopicPartition, list[Point]], dict[TopicPartition, float]]:
    """The history points the answers make, per partition, and the partitions whose record times they prove
    ahead of lagwatch's clock, with how far (a record stamped later than `answered_at` + `skew_tolerance_s`:
    no record can be produced after the broker answered). "No record at or after t" is the point (t, today's
    log-end): the log already ended there then. A time after the snapshot's (the skew check) makes no point."""
    points: dict[TopicPartition, list[Point]] = defaultdict(list)
    ahead: dict[TopicPartition, float] = {}
    for asked, answered in zip(rounds, answers):
        for tp, (offset, record_time) in answered.items():
            if record_time is not None and record_time > answered_at + skew_tolerance_s:
                ahead[tp] = max(ahead.get(tp, 0.0), record_time - answered_at)
            offsets = snapshot.partitions.get(tp)
            log_end = offsets.log_end_offset if offsets else None
            if tp not in asked or log_end is None or asked[tp] > snapshot.taken_at:
                continue
            points[tp].append((asked[tp], offset if offset >= 0 else log_end))
    return {tp: found for tp, found in points.items() if tp not in ahead}, ahead


def bisection_round(
    histories: Mapping[TopicPartition, History], targets: Mapping[TopicPartition, Collection[int]], now: float
) -> dict[TopicPartition, float]:
    """The next time to ask about per partition (the middle of its widest gap); empty when all are precise."""
    specs = {}
    for tp, committed in targets.items():
        at = timelag.refine_probe(histories.get(tp, ()), committed, now)
        if at is not None:
            specs[tp] = at
    return specs


class TimeLagProber:
    """Histories and probe state of one cluster behind one call, `observe`, once per scrape that reached
    the cluster."""

    def __init__(
        self,
        ages_s: Sequence[float],
        max_points: int = timelag.MAX_POINTS,
        *,
        every_s: float = 600.0,
        refine_rounds: int = 12,
        skew_tolerance_s: float = SKEW_TOLERANCE_S,
    ):
        self.ages_s = tuple(ages_s)  # empty: never ask the broker
        self.max_points = max_points
        self.every_s = every_s
        self.refine_rounds = refine_rounds
        self.skew_tolerance_s = skew_tolerance_s
        self.histories: dict[TopicPartition, History] = {}
        self.probed_at: dict[TopicPartition, float] = {}
        # Partitions whose record times the last probe found ahead of lagwatch's clock (timelag.estimate),
        # with how far ahead (seconds) its latest record stamp was.
        self.skewed: dict[TopicPartition, float] = {}

    def observe(
        self,
        snapshot: ClusterSnapshot,
        previous: ClusterSnapshot | None,
        probe: ProbeFn,
        out_of_time: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] | None = None,
    ) -> dict[TopicPartition, tuple[Point, ...]] | None:
        """Add this scrape's points, then ask the broker (`probe`) where the history still cannot place a
        committed offset; bisection stops early once `out_of_time()`. `clock` (default: the snapshot's time)
        says when an answer arrived, for the skew check. Returns the broker's points per partition (they are
        in `histories` too), or None when nothing needed asking. A `probe` that raises leaves the points of
        the rounds before it in the histories."""
        self.histories = update_histories(self.histories, snapshot, previous, self.max_points)
        self.probed_at = {tp: t for tp, t in self.probed_at.items() if tp in snapshot.partitions}
        self.skewed = {tp: s for tp, s in self.skewed.items() if tp in snapshot.partitions}
        if not self.ages_s:
            return None
        targets = probe_targets(snapshot, self.histories, self.probed_at, self.every_s)
        if not targets:
            return None
        now = snapshot.taken_at
        clock = clock or (lambda: now)
        found: dict[TopicPartition, list[Point]] = defaultdict(list)
        own = {tp: self.histories.get(tp, ()) for tp in targets}  # lagwatch's points only, before asking

        def ask(rounds: Sequence[Round]) -> dict[TopicPartition, float]:
            points, ahead = read_answers(snapshot, rounds, probe(rounds), clock(), self.skew_tolerance_s)
            for tp, got in points.items():
                found[tp].extend(got)
                self.histories[tp] = timelag.add_points(self.histories.get(tp, ()), got, self.max_points)
            for tp in ahead.keys() & own.keys():  # found ahead only now: the earlier rounds' points go too
                self.histories[tp] = own[tp]
                found.pop(tp, None)
            return ahead

        ahead_of_clock = {tp: clock() + self.skew_tolerance_s for tp in targets}
        not_asked = {tp: s for tp, s in self.skewed.items() if tp not in targets}
        self.skewed = not_asked | ask([*ladder(targets, self.ages_s, now), ahead_of_clock])
        for _ in range(self.refine_rounds):
            if out_of_time():
                break
            unskewed = {tp: offsets for tp, offsets in targets.items() if tp not in self.skewed}
            specs = bisection_round(self.histories, unskewed, now)
            if not specs:
                break
            self.skewed |= ask([specs])
        for tp in targets:
            self.probed_at[tp] = now
        return {tp: tuple(points) for tp, points in found.items()}
