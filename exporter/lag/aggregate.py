"""The lag model's aggregates: a group's rows of one topic into a GroupTopicLag, its topics into a GroupLag.

Pure functions. An aggregate that includes an unknown part says so: a sum over partitions is None when any
partition's lag is unknown (partial), a counter is unknown when any of its parts is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from exporter.lag.model import (
    CatchUp,
    ClusterSnapshot,
    Counter,
    GroupLag,
    GroupObservation,
    GroupTopicLag,
    PartitionLag,
    TimeLag,
    TimeLagQuality,
)


_ZERO = Counter(0, 0.0)


def _counter(count: int, rate: float) -> Counter:
    """Counter(count, rate) of a sum, with one shared (frozen) object for the usual zero: every part's rate is
    its count over one elapsed time, so a zero count is a zero rate. An idle estate's aggregates make none."""
    return Counter(count, rate) if count else _ZERO


def sum_counters(counters: Iterable[Counter]) -> Counter:
    """Sum counts and rates; unknown when any part is unknown, so a total never silently undercounts."""
    count, rate, seen = 0, 0.0, False
    for counter in counters:
        if counter.count is None or counter.rate is None:
            return Counter.none()
        count += counter.count
        rate += counter.rate
        seen = True
    return Counter(count, rate) if seen else Counter.none()


def worst_time_lag(lags: Iterable[TimeLag]) -> tuple[float | None, TimeLagQuality]:
    """The largest known time lag, and whether any part of the aggregate is unknown or only a bound. A part
    whose record times are ahead of lagwatch's clock leaves the worst unknowable: null, `clock_skew`."""
    best: float | None = None
    qualities: set[TimeLagQuality] = set()
    for lag in lags:
        qualities.add(lag.quality)
        if lag.seconds is not None and (best is None or lag.seconds > best):
            best = lag.seconds
    if TimeLagQuality.CLOCK_SKEW in qualities:
        return None, TimeLagQuality.CLOCK_SKEW
    if best is None:
        return None, TimeLagQuality.UNKNOWN
    for quality in (TimeLagQuality.UNKNOWN, TimeLagQuality.AT_LEAST, TimeLagQuality.INTERPOLATED):
        if quality in qualities:
            return best, quality
    return best, TimeLagQuality.EXACT


def catch_up(lag: int, consumed: Counter, produced: Counter) -> tuple[CatchUp, float | None]:
    """Seconds until lag reaches zero at the current rates; falling behind only when producers write faster
    than the group consumes, steady when the rates are equal (both 0 included: a stopped consumer of a quiet
    topic neither catches up nor falls behind)."""
    if lag == 0:
        return CatchUp.CAUGHT_UP, 0.0
    if consumed.rate is None or produced.rate is None:
        return CatchUp.UNKNOWN, None
    net = consumed.rate - produced.rate
    if net < 0:
        return CatchUp.FALLING_BEHIND, None
    if net == 0:
        return CatchUp.STEADY, None
    return CatchUp.CATCHING_UP, lag / net


def retention_used(lag_seconds: float | None, retention_ms: int | None) -> float | None:
    """Share of the retention window the oldest unread record has used (None: unknown or unlimited)."""
    if lag_seconds is None or retention_ms is None or retention_ms <= 0:
        return None
    return lag_seconds / (retention_ms / 1000.0)


_QUALITY_RANK = {
    TimeLagQuality.EXACT: 0, TimeLagQuality.INTERPOLATED: 1, TimeLagQuality.AT_LEAST: 2, TimeLagQuality.UNKNOWN: 3,
    TimeLagQuality.CLOCK_SKEW: 4,
}
_BY_RANK = sorted(_QUALITY_RANK, key=_QUALITY_RANK.__getitem__)


def _worst(seconds: float | None, rank: int) -> tuple[float | None, TimeLagQuality]:
    """What worst_time_lag gives, from the largest seconds and the weakest quality's rank."""
    if rank == _QUALITY_RANK[TimeLagQuality.CLOCK_SKEW]:
        return None, TimeLagQuality.CLOCK_SKEW
    return seconds, TimeLagQuality.UNKNOWN if seconds is None else _BY_RANK[rank]


def group_topic(snapshot: ClusterSnapshot, group: str, topic: str, rows: Sequence[PartitionLag]) -> GroupTopicLag:
    """One pass over a group's rows of one topic: what sum_counters and worst_time_lag would give, each
    counter summed in row order (the same floating-point sums)."""
    without = with_lag = below = unknown = beyond = 0
    known_sum = items_sum = 0
    lag_max: int | None = None
    seconds: float | None = None
    rank = -1
    # produced (every row), produced into committed rows, consumed (committed rows): count, rate, known
    p_count, p_rate, p_known = 0, 0.0, True
    pc_count, pc_rate, pc_known, pc_seen = 0, 0.0, True, False  # pc_seen: any committed row
    c_count, c_rate, c_known = 0, 0.0, True
    for r in rows:
        lag = r.lag
        if lag is not None:
            with_lag += 1
            known_sum += lag
            if lag_max is None or lag > lag_max:
                lag_max = lag
        if r.lag_items is not None:
            items_sum += r.lag_items
        if r.lag_unknown:
            unknown += 1
        if r.committed_below_log_start:
            below += 1
        if r.beyond_log_end:
            beyond += 1
        time_lag = r.time_lag
        quality = _QUALITY_RANK[time_lag.quality]
        if quality > rank:
            rank = quality
        if time_lag.seconds is not None and (seconds is None or time_lag.seconds > seconds):
            seconds = time_lag.seconds
        produced = r.produced
        if p_known:
            if produced.count is None or produced.rate is None:
                p_known = False
            else:
                p_count += produced.count
                p_rate += produced.rate
        if r.committed_offset is None:
            without += 1
            continue
        pc_seen = True
        if pc_known:
            if produced.count is None or produced.rate is None:
                pc_known = False
            else:
                pc_count += produced.count
                pc_rate += produced.rate
        consumed = r.consumed
        if c_known:
            if consumed.count is None or consumed.rate is None:
                c_known = False
            else:
                c_count += consumed.count
                c_rate += consumed.rate
    none = Counter.none()
    seconds, quality = _worst(seconds, rank)
    info = snapshot.topics.get(topic)
    retention_ms = info.retention_ms if info else None
    return GroupTopicLag(  # positional, in field order
        snapshot.cluster,  # cluster
        group,  # group
        topic,  # topic
        len(rows),  # partitions
        without,  # partitions_without_commit
        with_lag,  # partitions_with_lag
        below,  # partitions_below_log_start
        None if unknown else known_sum,  # lag_sum
        None if unknown else (0 if lag_max is None else lag_max),  # lag_max
        None if unknown else items_sum,  # lag_items_sum
        seconds,  # lag_seconds_max
        quality,  # time_lag_quality
        _counter(p_count, p_rate) if p_known and rows else none,  # produced
        _counter(c_count, c_rate) if c_known and pc_seen else none,  # consumed
        retention_ms,  # retention_ms
        retention_used(seconds, retention_ms),  # retention_used
        _counter(pc_count, pc_rate) if pc_known and pc_seen else none,  # produced_into_committed
        unknown,  # partitions_unknown
        known_sum,  # lag_known_sum
        beyond,  # partitions_beyond_log_end
    )


def group(cluster: str, group: GroupObservation, topics: Sequence[GroupTopicLag]) -> GroupLag:
    """One pass over a group's topics (what sum_counters and worst_time_lag would give, in topic order)."""
    known_sum = unknown = partitions = without = items_sum = beyond = 0
    with_lag = False
    lag_max: int | None = None
    seconds: float | None = None
    rank = -1
    used: float | None = None
    p_count, p_rate, p_known = 0, 0.0, True
    pc_count, pc_rate, pc_known = 0, 0.0, True
    c_count, c_rate, c_known = 0, 0.0, True
    for t in topics:
        known_sum += t.lag_known_sum
        unknown += t.partitions_unknown
        partitions += t.partitions
        without += t.partitions_without_commit
        beyond += t.partitions_beyond_log_end
        items_sum += t.lag_items_sum or 0
        if t.partitions_with_lag:
            with_lag = True
        topic_max = t.lag_max or 0
        if lag_max is None or topic_max > lag_max:
            lag_max = topic_max
        quality = _QUALITY_RANK[t.time_lag_quality]
        if quality > rank:
            rank = quality
        if t.lag_seconds_max is not None and (seconds is None or t.lag_seconds_max > seconds):
            seconds = t.lag_seconds_max
        if t.retention_used is not None and (used is None or t.retention_used > used):
            used = t.retention_used
        if p_known:
            if t.produced.count is None or t.produced.rate is None:
                p_known = False
            else:
                p_count += t.produced.count
                p_rate += t.produced.rate
        if pc_known:
            into = t.produced_into_committed
            if into.count is None or into.rate is None:
                pc_known = False
            else:
                pc_count += into.count
                pc_rate += into.rate
        if c_known:
            if t.consumed.count is None or t.consumed.rate is None:
                c_known = False
            else:
                c_count += t.consumed.count
                c_rate += t.consumed.rate
    none = Counter.none()
    if len(topics) == 1:  # most groups read one topic: its counters are the group's sums (0 + x is x)
        only = topics[0]
        produced, consumed, into_committed = only.produced, only.consumed, only.produced_into_committed
    else:
        produced = _counter(p_count, p_rate) if p_known and topics else none
        consumed = _counter(c_count, c_rate) if c_known and topics else none
        into_committed = _counter(pc_count, pc_rate) if pc_known and topics else none
    seconds, quality = _worst(seconds, rank)
    # Partial: some partition unreadable, or the group's offsets not read at all this scrape.
    partial = bool(unknown) or not group.committed_read
    # No partition with a known lag (never committed, or only a deleted topic): not "caught up".
    if with_lag and not partial:
        # Catch-up compares like with like: lag and consumption only exist where the group committed, so
        # only what producers write into those partitions counts against it.
        state, eta = catch_up(known_sum, consumed, into_committed)
    else:
        state, eta = CatchUp.UNKNOWN, None
    return GroupLag(  # positional, in field order
        cluster,  # cluster
        group.group,  # group
        group.state,  # state
        group.group_type,  # group_type
        len(group.members),  # members
        len(topics),  # topics
        partitions,  # partitions
        without,  # partitions_without_commit
        None if partial else known_sum,  # lag_sum
        None if partial else (0 if lag_max is None else lag_max),  # lag_max
        None if partial else items_sum,  # lag_items_sum
        seconds,  # lag_seconds_max
        quality,  # time_lag_quality
        produced,  # produced
        consumed,  # consumed
        state,  # catch_up
        eta,  # catch_up_seconds
        used,  # retention_used_max
        group.error,  # error
        group.epoch,  # epoch
        unknown,  # partitions_unknown
        known_sum,  # lag_known_sum
        beyond,  # partitions_beyond_log_end
    )
