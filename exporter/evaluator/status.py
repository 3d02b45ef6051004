"""Threshold-free status per partition and per group, in the spirit of Burrow's evaluator (pure, no I/O:
the windows carried from one scrape to the next are passed in and returned, see `evaluate_report`).

Each partition keeps a window of the last N samples taken at lagwatch's own scrapes (not at the group's
commits), so a consumer that stops committing is still evaluated every scrape with a fresh log-end offset
and its lag keeps moving (Burrow #58/#127 froze it). Rules, first match wins:

- ERR     the partition cannot be read (no leader, unknown log-end or committed offset).
- OK      never committed (no lag to judge), or caught up (lag 0), whatever happened before.
- STOP    lag > 0 at the same committed offset for `stop_after_s`, and no live member owns the partition.
          The clock starts when lagwatch first sees lag at that offset, not at the last commit: on a slow
          topic a consumer that committed hours ago and is caught up is never STOP (Burrow #38/#303).
          Without commit times lagwatch cannot tell a client that is gone from a client that commits without
          joining the group (Flink, Spark, manual assignment) and is stuck re-committing the same offset: STOP
          covers both, and its reason says so.
- REWIND  the committed offset moved backwards within the window and no later commit in the window has come
          back to the offset before the step (a rebalanced consumer that briefly commits an old offset and
          then catches up is not REWIND: Burrow #714).
- OK      window not full yet, or not a full window of commits (`settled=False`: rules hold their state
          instead of resolving).
- STALL   a live member owns the partition, lag > 0 in every sample and the offset never moved.
          Kafka does not return commit timestamps, so "committing the same offset" is told apart from
          "not committing" (STOP) by whether a live member owns the partition.
- WARN    the offset moves (the group commits) but lag grew at every step of the full window.
- OK      otherwise: a rebalance that freezes offsets for a few scrapes and then catches up stays OK.

STALL and WARN skip samples whose partition could not be read (their lag is unknown, not zero), as Burrow
skips commits without a lag, so one scrape during a leader election does not turn a STALL into OK.

A group's status is its worst partition's (severity below), or ERR when the group itself could not be read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

import msgspec

from exporter.lag.model import Frozen, LagReport
from exporter.lag.report import partition_lag


class Code(str, Enum):
    OK = "OK"
    WARN = "WARN"
    STALL = "STALL"
    STOP = "STOP"
    REWIND = "REWIND"
    ERR = "ERR"


# Higher is worse; a group shows its worst partition. REWIND is usually deliberate (a reset), so it ranks
# below a consumer that is stuck or gone; ERR (cannot read the partition at all) ranks highest.
SEVERITY = {Code.OK: 0, Code.WARN: 1, Code.REWIND: 2, Code.STALL: 3, Code.STOP: 4, Code.ERR: 5}

# STOP's reason names both things it can mean: see the module docstring.
STOP_REASON = "no_member_stuck_or_gone"


@dataclass(frozen=True)
class StatusConfig:
    window: int = 10  # samples (scrapes) per partition
    stop_after_s: float = 600.0


class Sample(Frozen):
    """One scrape's view of one partition of one group."""

    at: float
    committed: int | None
    log_end: int | None
    owned: bool = True  # a live member of the group has this partition assigned
    error: str | None = None

    @property
    def lag(self) -> int | None:
        return partition_lag(self.committed, self.log_end)


class Status(Frozen):
    code: Code
    reason: str
    settled: bool = True  # False: not enough history to judge; alert rules keep their state

    @property
    def severity(self) -> int:
        return SEVERITY[self.code]


class PartitionWindow(Frozen):
    samples: tuple[Sample, ...] = ()
    # Since when (first seen) the partition has had lag at `stuck_offset` without the offset moving.
    stuck_since: float | None = None
    stuck_offset: int | None = None


# Every status evaluate() and worst() return but one is one of these: a shared (frozen) object each, not one
# per partition and scrape.
NO_DATA = Status(Code.OK, "no_data", settled=False)
UNAVAILABLE = Status(Code.ERR, "partition_unavailable")
NO_COMMIT = Status(Code.OK, "no_commit")
BEYOND_LOG_END = Status(Code.ERR, "committed_beyond_log_end")
CAUGHT_UP = Status(Code.OK, "caught_up")
STOPPED = Status(Code.STOP, STOP_REASON)
REWOUND = Status(Code.REWIND, "offset_rewound")
FILLING = Status(Code.OK, "window_filling", settled=False)
STALLED = Status(Code.STALL, "offset_not_moving")
NO_CONSUMER_YET = Status(Code.OK, "no_consumer_within_stop_after")
GROWING = Status(Code.WARN, "lag_growing")
CONSUMING = Status(Code.OK, "consuming")
GROUP_UNAVAILABLE = Status(Code.ERR, "group_unavailable")
NO_PARTITIONS = Status(Code.OK, "no_partitions")
EMPTY_WINDOW = PartitionWindow()


def push(window: PartitionWindow, sample: Sample, size: int) -> PartitionWindow:
    """Add a sample (keeping the last `size`) and carry the stuck clock forward."""
    samples = window.samples + (sample,)
    if len(samples) > size:
        samples = samples[-size:]
    committed, lag = sample.committed, sample.lag
    unreadable = sample.error is not None or sample.log_end is None
    if lag is None and unreadable and committed in (None, window.stuck_offset):
        # A scrape that could not read the partition says nothing about its lag: the clock runs on (a STOP
        # must not restart its stop_after_s countdown after every leader election).
        return PartitionWindow(samples, window.stuck_since, window.stuck_offset)
    if lag is None or lag == 0:
        return PartitionWindow(samples)
    if window.stuck_since is not None and window.stuck_offset == committed:
        return PartitionWindow(samples, window.stuck_since, window.stuck_offset)
    return PartitionWindow(samples, sample.at, committed)


def _rewound(samples: tuple[Sample, ...]) -> bool:
    """A backwards step of the committed offset that no later commit in the window has recovered from
    (reached or passed the offset before the step). Every step is checked, not only the first."""
    later_max: int | None = None  # highest offset from the step's "after" to the end of the window
    after: int | None = None
    for sample in reversed(samples):  # the steps between consecutive known offsets, last step first
        before = sample.committed
        if before is None:
            continue
        if after is not None:
            if later_max is None or after > later_max:
                later_max = after
            if after < before and later_max < before:
                return True
        after = before
    return False


def evaluate(window: PartitionWindow, now: float, config: StatusConfig) -> Status:
    samples = window.samples
    if not samples:
        return NO_DATA
    last = samples[-1]
    committed, log_end = last.committed, last.log_end
    if last.error is not None or log_end is None:
        return UNAVAILABLE
    if committed is None:
        return NO_COMMIT
    if committed > log_end:
        # The consumer's next fetch gets OFFSET_OUT_OF_RANGE and it resets (auto.offset.reset): data may
        # be skipped or read twice.
        return BEYOND_LOG_END
    if committed == log_end and committed >= 0:
        return CAUGHT_UP
    stuck_for = now - window.stuck_since if window.stuck_since is not None else 0.0
    if not last.owned and stuck_for >= config.stop_after_s:
        # No member owns it: the consumer is gone, or it commits without joining and is stuck (lagwatch
        # has no commit times to tell which).
        return STOPPED
    if _rewound(samples):
        return REWOUND
    if len(samples) < config.window:
        return FILLING
    return _full_window(samples, last.owned)


def _full_window(samples: tuple[Sample, ...], owned: bool) -> Status:
    """STALL, WARN or OK on a full window, in one pass over its samples (a scrape evaluates every partition's
    window: at steady state that is every row). Samples whose partition could not be read are skipped."""
    first = samples[0].committed
    same_offset = lagging = growing = True
    readable, previous = 0, -1
    for sample in samples:
        committed = sample.committed
        if committed is None:
            # Not a full window of commits (a group that committed for the first time within the window
            # has a shorter history, like Burrow's incomplete partitions).
            return FILLING
        if committed != first:
            same_offset = False
        lag = sample.lag
        if sample.error is not None or lag is None:
            continue  # its lag is unknown, not zero
        readable += 1
        lagging = lagging and lag > 0
        growing = growing and lag > previous
        previous = lag
    if lagging:
        if same_offset:
            return STALLED if owned else NO_CONSUMER_YET
        if readable >= 2 and growing:
            return GROWING
    return CONSUMING


def worst(statuses: Iterable[Status], group_error: str | None = None) -> Status:
    """A group's status: its worst partition. Settled only if every partition is, or the worst is not OK
    (a non-OK status is definite; an OK next to partitions still filling their window is not)."""
    if group_error is not None:
        return GROUP_UNAVAILABLE
    items = statuses if isinstance(statuses, (list, tuple)) else list(statuses)
    if not items:
        return NO_PARTITIONS
    top, severity, settled = items[0], SEVERITY[items[0].code], True
    for item in items:
        if SEVERITY[item.code] > severity:  # first of equals: stable
            top, severity = item, SEVERITY[item.code]
        if not item.settled:
            settled = False
    if top.code is not Code.OK:
        return top if top.settled else msgspec.structs.replace(top, settled=True)
    if settled:
        if len(items) == 1:
            return top  # an OK, settled: its own reason whichever it is
        reasons = {s.reason for s in items}
        # The most telling OK reason: a partition waiting for STOP says more than one that is caught up.
        for reason in ("no_consumer_within_stop_after", "consuming", "caught_up", "no_commit"):
            if reason in reasons:
                return Status(Code.OK, reason)
        return Status(Code.OK, top.reason)
    return FILLING


@dataclass(frozen=True)
class Statuses:
    """One scrape's statuses: per (group, topic, partition) and per group."""

    partitions: dict[tuple[str, str, int], Status]
    groups: dict[str, Status]


WindowKey = tuple[str, str, int]  # (group, topic, partition)


def evaluate_report(
    windows: Mapping[WindowKey, PartitionWindow], report: LagReport, now: float, config: StatusConfig
) -> tuple[dict[WindowKey, PartitionWindow], Statuses | None]:
    """One scrape's statuses and the windows advanced by its samples (call once per report). A scrape that
    did not reach the cluster has no statuses and changes no window; a group that could not be read keeps
    its windows as they were; partitions no longer reported are forgotten."""
    snapshot = report.snapshot
    if not snapshot.up:
        return dict(windows), None
    # Per group, not per row: a row is owned when its partition is assigned to a live member or, where
    # assignments are not decoded (not the consumer protocol), when the group has any live member.
    by_assignment = {g.group: any(m.assignment for m in g.members) for g in snapshot.groups}
    has_members = {g.group: bool(g.members) for g in snapshot.groups}
    failed = {g.group for g in snapshot.groups if g.error is not None}
    # unknown this scrape: kept
    advanced = {k: w for k, w in windows.items() if k[0] in failed} if failed else {}
    partitions: dict[WindowKey, Status] = {}
    windows_get, size = windows.get, config.window
    for row in report.partitions:
        name = row.group
        if name in failed:
            continue
        owned = row.member is not None if by_assignment[name] else has_members[name]
        key = (name, row.topic, row.partition)
        window = push(windows_get(key, EMPTY_WINDOW), Sample(now, row.committed_offset, row.log_end_offset,
                                                             owned, row.error), size)
        advanced[key] = window
        partitions[key] = evaluate(window, now, config)
    by_group: dict[str, list[Status]] = {}
    for (group_name, _, _), st in partitions.items():
        got = by_group.get(group_name)
        if got is None:
            by_group[group_name] = [st]
        else:
            got.append(st)
    groups = {g.group: worst(by_group.get(g.group, ()), g.error) for g in snapshot.groups}
    return advanced, Statuses(partitions, groups)
