"""Ground truth: what the soak's own clients did to every offset, and so what any lag must have been (pure).

The driver is the only writer of the soak's topics and the only committer of its groups' offsets. Each
offset it moves is a `Steps`: a non-decreasing value known at any moment as an interval. `begin(t, v)` is
recorded before the request that may move it to `v` is sent (from then on it may be `v`: `hi`), `confirm(t, v)`
after Kafka acknowledged it (from then on it is at least `v`: `lo`). A request that failed stays begun and
unconfirmed, so the interval stays open until a later request is acknowledged: a timed-out produce may have
been written, a timed-out commit may have been applied.

A scrape reads committed offsets before `taken_at` and log-end offsets after it (exporter/kafka/collector.py),
so the lag it can have reported for a partition lies in

    [log_end.lo(taken_at) - max committed.hi over [start, taken_at],
     max log_end.hi over [taken_at, end] - committed.lo(start)]

(each side at least 0), with `start`/`end` the scrape's first and last moment. `Truth.group_lag` sums that
over the partitions a group has committed to; it answers None where the truth itself is not known (a group
being created or deleted, a topic deleted under it).
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field

NEVER = float("inf")
# Documents carry times to the millisecond, and lagwatch's clock is read on another thread than the request.
SLACK_S = 0.05


class Steps:
    """A non-decreasing offset: `lo(t)` it certainly had reached at t, `hi(t)` the most it can have been at t
    (it comes down again when a request in doubt is settled by a later acknowledged one)."""

    def __init__(self, value: int = 0, at: float = 0.0, confirmed: bool = True):
        self._lo_t, self._lo_v = [at], [value]
        self._hi_t, self._hi_v = [at], [value]
        # A committed offset does not exist before its first commit (lagwatch then leaves the partition out
        # of the sums): (first begun, first acknowledged).
        self.born = (at, at if confirmed else NEVER)

    @staticmethod
    def _step(times: list[float], values: list[int], t: float, value: int) -> None:
        if value == values[-1]:
            return
        times.append(max(t, times[-1]))  # one writer at a time per offset: times only go forward
        values.append(value)

    def begin(self, t: float, value: int) -> None:
        """A request that may move it to `value` is about to be sent."""
        self._step(self._hi_t, self._hi_v, t, max(value, self._hi_v[-1]))

    def confirm(self, t: float, value: int) -> None:
        """Kafka acknowledged `value`, and no other request of this offset is in doubt: it is exactly that
        now (an earlier request that timed out was either applied before or never will be)."""
        if self.born[1] == NEVER:
            self.born = (self.born[0], t)
        value = max(value, self._lo_v[-1])
        self._step(self._lo_t, self._lo_v, t, value)
        self._step(self._hi_t, self._hi_v, t, value)

    @staticmethod
    def _at(times: list[float], values: list[int], t: float) -> int:
        i = bisect.bisect_right(times, t) - 1
        return values[max(i, 0)]

    def lo(self, t: float) -> int:
        return self._at(self._lo_t, self._lo_v, t)

    def hi(self, t: float) -> int:
        return self._at(self._hi_t, self._hi_v, t)

    def hi_during(self, start: float, end: float) -> int:
        """The most it can have been at any moment of [start, end]."""
        first = bisect.bisect_right(self._hi_t, start)
        return max([self.hi(start), *self._hi_v[first:bisect.bisect_right(self._hi_t, end)]])

    @property
    def settled(self) -> bool:
        """No request is in doubt: the value is known exactly now."""
        return self._lo_v[-1] == self._hi_v[-1]

    @property
    def last(self) -> int:
        return self._lo_v[-1]


@dataclass
class GroupTruth:
    name: str
    kind: str  # commit-only, empty, classic, kip848, share, stalling, doomed
    created: tuple[float, float]  # (begun, acknowledged)
    deleted: tuple[float, float] | None = None
    committed: dict[tuple[str, int], Steps] = field(default_factory=dict)
    # Times from which the truth of this group is not known (a topic deleted under it): no check after.
    unknown_from: float = NEVER

    def exists(self, start: float, end: float, settle_s: float) -> bool | None:
        """True: it existed throughout [start, end] and was settled; False: certainly gone (or not yet made)
        throughout; None: created or deleted around then."""
        if self.deleted is not None and self.deleted[1] + settle_s <= start:
            return False
        if end < self.created[0]:
            return False
        if self.created[1] + settle_s > start or (self.deleted is not None and self.deleted[0] <= end):
            return None
        return True


@dataclass(frozen=True)
class Window:
    """The moments of one scrape: committed offsets read in [start, taken_at], log-end offsets in
    [taken_at, end] (with slack on each side: the clocks are the same, the threads are not)."""

    start: float
    taken_at: float
    end: float


class Truth:
    """Every offset the driver moved, by topic partition (log end) and by group (committed)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.log_end: dict[tuple[str, int], Steps] = {}
        self.groups: dict[str, GroupTruth] = {}
        self.topics_deleted: dict[str, float] = {}  # topic -> when its deletion was begun

    # --- recording ---------------------------------------------------------------------------------

    def partition(self, topic: str, partition: int, at: float) -> Steps:
        with self.lock:
            return self.log_end.setdefault((topic, partition), Steps(0, at))

    def group(self, name: str, kind: str, begun: float, acknowledged: float) -> GroupTruth:
        with self.lock:
            found = self.groups.get(name)
            if found is None:
                found = self.groups[name] = GroupTruth(name, kind, (begun, acknowledged))
            return found

    def committed(self, group: str, topic: str, partition: int, at: float) -> Steps:
        with self.lock:
            return self.groups[group].committed.setdefault((topic, partition), Steps(0, at, confirmed=False))

    def topic_deleted(self, topic: str, at: float) -> None:
        with self.lock:
            self.topics_deleted[topic] = at
            for g in self.groups.values():
                if any(t == topic for t, _ in g.committed):
                    g.unknown_from = min(g.unknown_from, at)

    # --- asking ------------------------------------------------------------------------------------

    def partition_lag(self, group: str, topic: str, partition: int, w: Window) -> tuple[int, int] | None:
        g = self.groups.get(group)
        if g is None or w.end >= g.unknown_from or topic in self.topics_deleted:
            return None
        committed, log_end = g.committed.get((topic, partition)), self.log_end.get((topic, partition))
        if committed is None or w.end < committed.born[0]:
            return 0, 0  # never committed then: left out of the sums, by lagwatch as by Kafka's tool
        if log_end is None or w.start <= committed.born[1]:
            return None
        # A share group's lag is the broker's, read with the group's offsets (before taken_at).
        read_at = w.start if g.kind == "share" else w.taken_at
        lo = max(0, log_end.lo(read_at - SLACK_S) - committed.hi_during(w.start, w.taken_at + SLACK_S))
        hi = max(0, log_end.hi_during(w.taken_at - SLACK_S, w.end + SLACK_S) - committed.lo(w.start - SLACK_S))
        return lo, hi

    def group_lag(self, group: str, w: Window, settle_s: float) -> tuple[int, int] | None:
        """(lowest, highest) lag the group can have had in this scrape, summed over the partitions it
        committed to; None when the truth is not known then."""
        g = self.groups.get(group)
        if g is None or g.exists(w.start, w.end, settle_s) is not True:
            return None
        lo = hi = 0
        for topic, partition in list(g.committed):
            one = self.partition_lag(group, topic, partition, w)
            if one is None:
                return None
            lo, hi = lo + one[0], hi + one[1]
        return lo, hi

    def live_groups(self, start: float, end: float, settle_s: float) -> list[str]:
        """Groups that certainly existed, settled, throughout [start, end]."""
        with self.lock:
            groups = list(self.groups.values())
        return [g.name for g in groups if g.exists(start, end, settle_s) is True and end < g.unknown_from]
