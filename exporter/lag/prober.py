"""Time lag's state for one cluster: each partition's (time, log-end) history and when it was last probed.

Every scrape adds its own point per partition (`report.update_histories`). Where that history still cannot
place a committed offset in time (it is older than every point), the broker is asked: ListOffsets by
timestamp answers "the first offset produced at or after t", a history point of the same kind. First a
ladder of ages (1 min ... 7 days), all sent at once, brackets each committed offset; then bisection rounds
narrow the bracket to about 1% of the record's age while the scrape's time budget lasts. A partition is
probed at most every `every_s`. The I/O is the caller's (`probe`): everything here is plain data, with
time passed in (the snapshot's `taken_at`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from exporter.lag import timelag
from exporter.lag.model import ClusterSnapshot, TopicPartition
from exporter.lag.report import update_histories
from exporter.lag.timelag import History, Point

Round = Mapping[TopicPartition, float]  # partition -> the time to ask about
# One call to the broker: every round sent at once, a point per partition answered (failures left out).
ProbeFn = Callable[[Sequence[Round]], Sequence[Mapping[TopicPartition, Point]]]


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
    ):
        self.ages_s = tuple(ages_s)  # empty: never ask the broker
        self.max_points = max_points
        self.every_s = every_s
        self.refine_rounds = refine_rounds
        self.histories: dict[TopicPartition, History] = {}
        self.probed_at: dict[TopicPartition, float] = {}

    def observe(
        self,
        snapshot: ClusterSnapshot,
        previous: ClusterSnapshot | None,
        probe: ProbeFn,
        out_of_time: Callable[[], bool] = lambda: False,
    ) -> dict[TopicPartition, tuple[Point, ...]] | None:
        """Add this scrape's points, then ask the broker (`probe`) where the history still cannot place a
        committed offset; bisection stops early once `out_of_time()`. Returns the broker's points per
        partition (they are in `histories` too), or None when nothing needed asking. A `probe` that raises
        leaves the points of the rounds before it in the histories."""
        self.histories = update_histories(self.histories, snapshot, previous, self.max_points)
        self.probed_at = {tp: t for tp, t in self.probed_at.items() if tp in snapshot.partitions}
        if not self.ages_s:
            return None
        targets = probe_targets(snapshot, self.histories, self.probed_at, self.every_s)
        if not targets:
            return None
        now = snapshot.taken_at
        found: dict[TopicPartition, list[Point]] = defaultdict(list)

        def merge(rounds: Sequence[Mapping[TopicPartition, Point]]) -> None:
            for points in rounds:
                for tp, point in points.items():
                    found[tp].append(point)
                    self.histories[tp] = timelag.add_points(self.histories.get(tp, ()), [point], self.max_points)

        merge(probe(ladder(targets, self.ages_s, now)))
        for _ in range(self.refine_rounds):
            if out_of_time():
                break
            specs = bisection_round(self.histories, targets, now)
            if not specs:
                break
            merge(probe([specs]))
        for tp in targets:
            self.probed_at[tp] = now
        return {tp: tuple(points) for tp, points in found.items()}
