"""Lag in seconds: when was the oldest unread record produced?

Each partition keeps a short history of (time, log-end offset) points: "by this time the log ended here".
They come from lagwatch's own scrapes and, while that history is short, from the broker itself
(ListOffsets by timestamp returns the first offset at or after a time, which is a point of the same kind).
The record at the committed offset c was produced between the last point whose offset is <= c and the first
whose offset is > c; we interpolate linearly between them. Pure functions: `now` is always passed in.
A partition whose record times are ahead of lagwatch's clock (`skewed`, exporter/lag/prober.py) has only
lagwatch's own points: an offset older than all of them has no time lag anyone can know (`clock_skew`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from exporter.lag.model import TimeLag, TimeLagQuality

Point = tuple[float, int]  # (epoch seconds, log-end offset)
History = tuple[Point, ...]

MAX_POINTS = 64
_CAUGHT_UP = TimeLag(0.0, TimeLagQuality.EXACT)  # frozen: one shared value for every caught-up row
_CLOCK_SKEW = TimeLag(None, TimeLagQuality.CLOCK_SKEW)


def add_points(history: History, points: Iterable[Point], max_points: int = MAX_POINTS) -> History:
    """Merge new points into a history, keeping it consistent and small.

    Points that contradict the others (offset going back while time goes forward: clock skew, out-of-order
    record timestamps) are dropped; a flat run keeps only its first and last point; past `max_points` the
    point closest in time to its predecessor goes, which keeps coverage spread over the whole span.
    """
    merged = sorted(set(history) | set(points))
    consistent: list[Point] = []
    for point in merged:
        while consistent and consistent[-1][1] > point[1]:
            # A later time must not show a smaller log-end; keep the newer observation.
            consistent.pop()
        consistent.append(point)
    compact: list[Point] = []
    for point in consistent:
        if len(compact) >= 2 and compact[-1][1] == point[1] and compact[-2][1] == point[1]:
            compact[-1] = point  # middle of a flat run carries no information
        else:
            compact.append(point)
    return _trimmed(compact, max_points)


def _trimmed(compact: list[Point], max_points: int) -> History:
    while len(compact) > max_points:
        gaps = [(compact[i][0] - compact[i - 1][0], i) for i in range(1, len(compact) - 1)]
        _, drop = min(gaps)
        del compact[drop]
    return tuple(compact)


def add_point(history: History, point: Point, max_points: int = MAX_POINTS) -> History:
    """add_points(history, [point], max_points), without the sort and the two passes in the usual case of a
    scrape: a point newer than the history's last, at or past its offset (`history` made by add_points)."""
    if not history:
        return (point,)
    last = history[-1]
    if point[0] <= last[0] or point[1] < last[1]:
        return add_points(history, (point,), max_points)
    if len(history) >= 2 and last[1] == point[1] and history[-2][1] == point[1]:
        extended = history[:-1] + (point,)  # the middle of a flat run carries no information
    else:
        extended = history + (point,)
    return extended if len(extended) <= max_points else _trimmed(list(extended), max_points)


def needs_probe(history: History, committed: int | None, log_end: int | None) -> bool:
    """True when the history cannot place the committed offset in time (it is older than every point)."""
    if committed is None or log_end is None or committed >= log_end:
        return False
    return not history or committed < history[0][1]


def estimate(
    history: Sequence[Point], committed: int | None, log_end: int | None, now: float, skewed: bool = False
) -> TimeLag:
    """Seconds since the record at the committed offset was produced (see the module docstring). `exact`
    only when caught up (committed >= log-end)."""
    if committed is None or log_end is None or committed < 0:
        return TimeLag.unknown()
    if committed >= log_end:
        return _CAUGHT_UP
    if not history:
        return _CLOCK_SKEW if skewed else TimeLag.unknown()
    for index, (t_right, o_right) in enumerate(history):
        if o_right > committed:
            break
    else:
        # Every known point says the log ended at or before c, yet c < log-end: the record is newer than our
        # newest point, so it was produced between that point and now.
        t_left, o_left = history[-1]
        return _interpolate((t_left, o_left), (now, log_end), committed, now)
    if index == 0:  # older than every point
        if skewed:
            return _CLOCK_SKEW  # lagwatch's own points say only "before we looked"; the broker's cannot tell
        if t_right >= now:
            return TimeLag.unknown()  # only today's observation: "at least 0 s" would be a fake zero
        return TimeLag(now - t_right, TimeLagQuality.AT_LEAST)
    return _interpolate(history[index - 1], (t_right, o_right), committed, now)


def _interpolate(left: Point, right: Point, committed: int, now: float) -> TimeLag:
    (t_left, o_left), (t_right, o_right) = left, right
    if o_right <= o_left:  # cannot happen in a consistent history; never divide by zero
        return TimeLag(max(0.0, now - t_right), TimeLagQuality.AT_LEAST)
    produced_at = t_left + (committed - o_left) * (t_right - t_left) / (o_right - o_left)
    return TimeLag(max(0.0, now - produced_at), TimeLagQuality.INTERPOLATED)


def refine_probe(
    history: Sequence[Point], committed_offsets: Iterable[int], now: float, min_width_s: float = 1.0
) -> float | None:
    """The next time worth asking the broker about: the middle of the widest (time) gap between the two
    history points around any committed offset, while that gap is wider than the precision wanted
    (`min_width_s`, or 1% of the record's age). None when every committed offset is placed precisely.
    Asking about the middle halves the gap each round: a bisection over the broker's record times."""
    widest: tuple[float, float] | None = None
    for committed in committed_offsets:
        right_index = next((i for i, (_, o) in enumerate(history) if o > committed), None)
        if right_index is None or right_index == 0:
            continue  # newer than all points (no gap to split) or older than all (the ladder's job)
        (t_left, _), (t_right, _) = history[right_index - 1], history[right_index]
        width = t_right - t_left
        wanted = max(min_width_s, 0.01 * (now - t_right))
        if width > wanted and (widest is None or width > widest[1] - widest[0]):
            widest = (t_left, t_right)
    return None if widest is None else (widest[0] + widest[1]) / 2
