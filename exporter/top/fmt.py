"""Cell texts for `lagwatch top` (pure). Unknown is `?`, a lower bound is `≥N`, never committed is `-`:
a value lagwatch could not read is never printed as 0."""

from __future__ import annotations

import time

from exporter.evaluator.status import Code, Status
from exporter.lag.model import CatchUp, TimeLagQuality
from exporter.top.rows import GroupRow

UNKNOWN = "?"
AT_LEAST = "≥"
CLOCK_SKEW = "skew"  # record times ahead of lagwatch's clock: no age anyone can know
SPARK = "▁▂▃▄▅▆▇█"


def count(n: int | None) -> str:
    """Exact with thousands separators up to 99,999,999; above that 1.23G-style (the detail is exact)."""
    if n is None:
        return UNKNOWN
    if abs(n) < 100_000_000:
        return f"{n:,}"
    for unit, size in (("T", 10**12), ("G", 10**9), ("M", 10**6)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:,}"  # unreachable: kept for the type checker


def group_lag(row: GroupRow, wide: bool = False) -> str:
    """Exact total; `≥N` when partial (N: the partitions that were read), with how many are unknown when
    there is room; `?` when nothing could be read; `-` when the group never committed anywhere."""
    if row.lag is not None:
        if row.partitions and row.partitions_without_commit == row.partitions:
            return "-"  # no committed offset anywhere: no lag to speak of (Kafka's tool prints "-")
        return count(row.lag)
    if row.lag_known == 0 and not row.partitions_unknown:
        return UNKNOWN  # the group's committed offsets could not be read at all
    text = f"{AT_LEAST}{count(row.lag_known)}"
    if wide and row.partitions_unknown:
        text += f" ({row.partitions_unknown} unknown)"
    return text


def partition_lag(lag: int | None, lag_unknown: bool, committed: int | None) -> str:
    if lag_unknown:
        return UNKNOWN
    if lag is None and committed is None:
        return "-"  # never committed
    return count(lag)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return UNKNOWN
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def time_lag(seconds: float | None, quality: TimeLagQuality) -> str:
    """`?` unknown; `≥` when only a lower bound is known (older than anything seen, or some partition of the
    aggregate unknown); `skew` when the records' timestamps are ahead of lagwatch's clock."""
    if quality is TimeLagQuality.CLOCK_SKEW:
        return CLOCK_SKEW
    if seconds is None:
        return UNKNOWN
    bound = quality in (TimeLagQuality.AT_LEAST, TimeLagQuality.UNKNOWN)
    return (AT_LEAST if bound else "") + duration(seconds)


def rate(value: float | None) -> str:
    if value is None:
        return UNKNOWN
    if value < 10:
        return f"{value:.1f}".rstrip("0").rstrip(".") if value else "0"
    if value < 10_000:
        return f"{value:.0f}"
    if value < 10_000_000:
        return f"{value / 1000:.0f}k"
    return f"{value / 1e6:.0f}M"


def rates(row: GroupRow) -> str:
    """Consumed / produced records per second."""
    return f"{rate(row.consume_rate)}/{rate(row.produce_rate)}"


def eta(row: GroupRow, wide: bool = False) -> str:
    if row.catch_up is CatchUp.CAUGHT_UP:
        return "caught up" if wide else "in sync"
    if row.catch_up is CatchUp.FALLING_BEHIND:
        return "falling behind" if wide else "behind"
    if row.catch_up is CatchUp.STEADY:
        return "steady"
    if row.catch_up is CatchUp.CATCHING_UP and row.catch_up_seconds is not None:
        return duration(row.catch_up_seconds)
    return UNKNOWN


def sparkline(points: tuple[int | None, ...], width: int) -> str:
    """The last `width` lags scaled from 0 to their maximum, `?` where a scrape could not read the lag,
    right-aligned so the newest scrape is always the last character."""
    shown = points[-width:] if width > 0 else ()
    known = [p for p in shown if p is not None]
    top = max(known, default=0)
    chars = []
    for p in shown:
        if p is None:
            chars.append(UNKNOWN)
        elif top == 0:
            chars.append(SPARK[0])
        else:
            chars.append(SPARK[min(len(SPARK) - 1, int(p / top * (len(SPARK) - 1) + 0.5))])
    return "".join(chars).rjust(width)


def status(value: Status | None) -> str:
    """The code; `…` after OK while the window is still filling (too few scrapes to judge); `?` when not
    evaluated."""
    if value is None:
        return UNKNOWN
    if value.code is Code.OK and not value.settled:
        return "OK…"
    return value.code.value


def clock(at: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) if at is not None else UNKNOWN


_STATES = {
    "PreparingRebalance": "Rebalance",
    "CompletingRebalance": "Rebalance",
    "Assigning": "Assigning",
    "Reconciling": "Reconcile",
}


def group_state(state: str, width: int) -> str:
    if len(state) <= width:
        return state
    return _STATES.get(state, state)


def fit(text: str, width: int, right: bool = False) -> str:
    """Exactly `width` characters: cut with `…` when too long."""
    if width <= 0:
        return ""
    if len(text) > width:
        text = text[: width - 1] + "…" if width > 1 else text[:1]
    return text.rjust(width) if right else text.ljust(width)
