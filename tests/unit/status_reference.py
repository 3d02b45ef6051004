"""The statuses as first written (exporter/evaluator/status.py before issue #14's speed-up): kept as the
oracle the fast version is compared with (tests/unit/test_status_oracle.py); not used by lagwatch itself."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from msgspec.structs import replace

from exporter.evaluator.status import (
    STOP_REASON,
    Code,
    PartitionWindow,
    Sample,
    Status,
    StatusConfig,
    Statuses,
    WindowKey,
)
from exporter.lag.model import LagReport


def _unreadable(sample: Sample) -> bool:
    return sample.error is not None or sample.log_end is None


def push(window: PartitionWindow, sample: Sample, size: int) -> PartitionWindow:
    """Add a sample (keeping the last `size`) and carry the stuck clock forward."""
    samples = (window.samples + (sample,))[-size:]
    lag = sample.lag
    if lag is None and _unreadable(sample) and sample.committed in (None, window.stuck_offset):
        # A scrape that could not read the partition says nothing about its lag: the clock runs on (a STOP
        # must not restart its stop_after_s countdown after every leader election).
        return replace(window, samples=samples)
    if lag is None or lag == 0:
        return PartitionWindow(samples)
    if window.stuck_since is not None and window.stuck_offset == sample.committed:
        return replace(window, samples=samples)
    return PartitionWindow(samples, sample.at, sample.committed)


def _rewound(samples: tuple[Sample, ...]) -> bool:
    """A backwards step of the committed offset that no later commit in the window has recovered from
    (reached or passed the offset before the step). Every step is checked, not only the first."""
    offsets = [s.committed for s in samples if s.committed is not None]
    later_max: int | None = None  # highest offset from the step's "after" to the end of the window
    for before, after in reversed(list(zip(offsets, offsets[1:]))):
        later_max = after if later_max is None else max(later_max, after)
        if after < before and later_max < before:
            return True
    return False


def evaluate(window: PartitionWindow, now: float, config: StatusConfig) -> Status:
    samples = window.samples
    if not samples:
        return Status(Code.OK, "no_data", settled=False)
    last = samples[-1]
    if _unreadable(last):
        return Status(Code.ERR, "partition_unavailable")
    if last.committed is None:
        return Status(Code.OK, "no_commit")
    if last.log_end is not None and last.committed > last.log_end:
        # The consumer's next fetch gets OFFSET_OUT_OF_RANGE and it resets (auto.offset.reset): data may
        # be skipped or read twice.
        return Status(Code.ERR, "committed_beyond_log_end")
    if last.lag == 0:
        return Status(Code.OK, "caught_up")
    stuck_for = now - window.stuck_since if window.stuck_since is not None else 0.0
    if not last.owned and stuck_for >= config.stop_after_s:
        # No member owns it: the consumer is gone, or it commits without joining and is stuck (lagwatch
        # has no commit times to tell which).
        return Status(Code.STOP, STOP_REASON)
    if _rewound(samples):
        return Status(Code.REWIND, "offset_rewound")
    if len(samples) < config.window or any(s.committed is None for s in samples):
        # Not a full window of commits yet (a group that committed for the first time within the window
        # has a shorter history, like Burrow's incomplete partitions).
        return Status(Code.OK, "window_filling", settled=False)
    lags = [s.lag for s in samples if not _unreadable(s) and s.lag is not None]
    if all(lag > 0 for lag in lags):
        if len({s.committed for s in samples}) == 1:
            if last.owned:
                return Status(Code.STALL, "offset_not_moving")
            return Status(Code.OK, "no_consumer_within_stop_after")
        if len(lags) >= 2 and all(b > a for a, b in zip(lags, lags[1:])):
            return Status(Code.WARN, "lag_growing")
    return Status(Code.OK, "consuming")


def worst(statuses: Iterable[Status], group_error: str | None = None) -> Status:
    """A group's status: its worst partition. Settled only if every partition is, or the worst is not OK
    (a non-OK status is definite; an OK next to partitions still filling their window is not)."""
    if group_error is not None:
        return Status(Code.ERR, "group_unavailable")
    items = list(statuses)
    if not items:
        return Status(Code.OK, "no_partitions")
    top = max(items, key=lambda s: s.severity)  # first of equals: stable
    if top.code is not Code.OK:
        return replace(top, settled=True)
    if all(s.settled for s in items):
        reasons = {s.reason for s in items}
        # The most telling OK reason: a partition waiting for STOP says more than one that is caught up.
        for reason in ("no_consumer_within_stop_after", "consuming", "caught_up", "no_commit"):
            if reason in reasons:
                return Status(Code.OK, reason)
        return Status(Code.OK, top.reason)
    return Status(Code.OK, "window_filling", settled=False)


def evaluate_report(
    windows: Mapping[WindowKey, PartitionWindow], report: LagReport, now: float, config: StatusConfig
) -> tuple[dict[WindowKey, PartitionWindow], Statuses | None]:
    """One scrape's statuses and the windows advanced by its samples (call once per report). A scrape that
    did not reach the cluster has no statuses and changes no window; a group that could not be read keeps
    its windows as they were; partitions no longer reported are forgotten."""
    snapshot = report.snapshot
    if not snapshot.up:
        return dict(windows), None
    observed = {g.group: g for g in snapshot.groups}
    failed = {g.group for g in snapshot.groups if g.error is not None}
    advanced = {k: w for k, w in windows.items() if k[0] in failed}  # unknown this scrape: kept
    partitions: dict[WindowKey, Status] = {}
    for row in report.partitions:
        if row.group in failed:
            continue
        group = observed[row.group]
        if any(m.assignment for m in group.members):
            owned = row.member is not None
        else:  # assignments not decoded (not the consumer protocol): any live member counts
            owned = bool(group.members)
        key = (row.group, row.topic, row.partition)
        sample = Sample(now, row.committed_offset, row.log_end_offset, owned, row.error)
        advanced[key] = push(windows.get(key, PartitionWindow()), sample, config.window)
        partitions[key] = evaluate(advanced[key], now, config)
    by_group: dict[str, list[Status]] = {}
    for (group_name, _, _), st in partitions.items():
        by_group.setdefault(group_name, []).append(st)
    groups = {g.group: worst(by_group.get(g.group, []), g.error) for g in snapshot.groups}
    return advanced, Statuses(partitions, groups)
