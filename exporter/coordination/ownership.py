"""Which shards this process reports and evaluates alerts for (pure state, times passed in).

Three questions, three answers:
- reports(shard): scrape the shard's groups. True while the shard is assigned, and for `linger_s` after it
  was revoked: under the cooperative protocol a moving shard is revoked in one rebalance and assigned to its
  new owner in the next (a heartbeat or so later), and a slot that starts in between is still scraped by the
  old owner. Both write the same document ids, so the overlap makes no duplicates.
- evaluates(shard, since): run the alert rules and send notifications for the shard's groups. Only while the
  shard is assigned and its alert state has been read back from the topic, so exactly one process notifies;
  and only while this member's heartbeats are recent (`alive_until`): a member cut off from the coordinator
  (or frozen) stops notifying half a session timeout after its last heartbeat, before the broker can give
  its shards to another member. It goes on reporting them: the same documents, whoever writes them.
- shard of a group: selection.shard_of(cluster, group, S), the stable hash static `--shard` uses.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from exporter.kafka import selection


@dataclass(frozen=True)
class Shares:
    count: int = 0  # S, the partitions of the coordination topic; 0 until known: nothing is owned
    linger_s: float = 30.0
    assigned: Mapping[int, float] = field(default_factory=dict)  # shard -> when it was assigned
    evaluating: Mapping[int, float] = field(default_factory=dict)  # shard -> since when alerts are evaluated
    released: Mapping[int, float] = field(default_factory=dict)  # shard -> when it was revoked or lost
    alive_until: float = math.inf  # last heartbeat + half the session timeout (inf: not known, no fence)


def assign(shares: Shares, shards: Iterable[int], now: float) -> Shares:
    new = {s for s in shards if 0 <= s < shares.count} - set(shares.assigned)
    return dataclasses.replace(
        shares,
        assigned={**shares.assigned, **{s: now for s in new}},
        released={s: t for s, t in shares.released.items() if s not in new},
    )


def read_back(shares: Shares, shard: int, now: float) -> Shares:
    """The shard's alert state is read back: from now on this process evaluates its alerts."""
    if shard not in shares.assigned or shard in shares.evaluating:
        return shares
    return dataclasses.replace(shares, evaluating={**shares.evaluating, shard: now})


def release(shares: Shares, shards: Iterable[int], now: float) -> Shares:
    gone = set(shards) & set(shares.assigned)
    released = {s: t for s, t in shares.released.items() if now - t < shares.linger_s}
    released.update({s: now for s in gone})
    return dataclasses.replace(
        shares,
        assigned={s: t for s, t in shares.assigned.items() if s not in gone},
        evaluating={s: t for s, t in shares.evaluating.items() if s not in gone},
        released=released,
    )


def heartbeat(shares: Shares, at: float, fence_s: float) -> Shares:
    return dataclasses.replace(shares, alive_until=at + fence_s)


def reports(shares: Shares, shard: int, now: float) -> bool:
    if shard in shares.assigned:
        return True
    released = shares.released.get(shard)
    return released is not None and now - released < shares.linger_s


def evaluates(shares: Shares, shard: int, since: float | None, now: float | None = None) -> bool:
    """Evaluating the shard (at `now`, when given: with recent heartbeats) and, when `since` is given,
    already at that time."""
    start = shares.evaluating.get(shard)
    if now is not None and now >= shares.alive_until:
        return False
    return start is not None and (since is None or start <= since)


def owned(shares: Shares) -> tuple[int, ...]:
    return tuple(sorted(shares.assigned))


def lingering(shares: Shares, now: float) -> tuple[int, ...]:
    return tuple(sorted(s for s in shares.released if reports(shares, s, now)))


@functools.lru_cache(maxsize=1 << 18)  # called for every group of every scrape: hash each name once
def shard_of(cluster: str, group: str, count: int) -> int:
    return selection.shard_of(cluster, group, count)


class Ownership:
    """The current Shares behind a lock: the member thread changes them, scrapes and senders read them."""

    def __init__(self, linger_s: float, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._lock = threading.Lock()
        self._shares = Shares(linger_s=linger_s)

    def shares(self) -> Shares:
        return self._shares  # immutable: safe to read without the lock

    def _change(self, step, *args) -> Shares:
        with self._lock:
            self._shares = step(self._shares, *args)
            return self._shares

    def set_count(self, count: int) -> None:
        self._change(lambda s: dataclasses.replace(s, count=count))

    def assign(self, shards: Iterable[int]) -> Shares:
        return self._change(assign, tuple(shards), self.clock())

    def read_back(self, shard: int) -> Shares:
        return self._change(read_back, shard, self.clock())

    def release(self, shards: Iterable[int]) -> Shares:
        return self._change(release, tuple(shards), self.clock())

    def heartbeat(self, at: float, fence_s: float) -> Shares:
        return self._change(heartbeat, at, fence_s)

    def alive(self) -> bool:
        return self.clock() < self._shares.alive_until

    def shard(self, cluster: str, group: str) -> int | None:
        count = self._shares.count
        return shard_of(cluster, group, count) if count else None

    def reports(self, cluster: str, group: str) -> bool:
        shares = self._shares
        return bool(shares.count) and reports(shares, shard_of(cluster, group, shares.count), self.clock())

    def evaluates(self, cluster: str, group: str, since: float | None = None) -> bool:
        shares = self._shares
        count = shares.count
        return bool(count) and evaluates(shares, shard_of(cluster, group, count), since, self.clock())
