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


_ZERO = Counter(0, 0.0)  # frozen: the usual sum of an idle estate's counters is one shared object


def sum_counters(counters: Iterable[Counter]) -> Counter:
    """Sum counts and rates in order; unknown when any part is unknown (or there is none), so a total never
    silently undercounts. Every part's rate is its count over one elapsed time, so a zero count is a zero rate."""
    count, rate, parts, first = 0, 0.0, 0, _ZERO
    for counter in counters:
        if counter.count is None or counter.rate is None:
            return Counter.none()
        count += counter.count
        rate += counter.rate
        parts += 1
        first = first if parts > 1 else counter
    if parts == 1:
        return first  # the sum of one part is that part (one object, not an equal copy)
    if not parts:
        return Counter.none()
    return Counter(count, rate) if count else _ZERO


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


def weighs_time_lag(row: PartitionLag) -> bool:
    """Whether a row's time lag is part of its aggregates: a partition the group never committed on has no
    lag, in seconds as in messages (Kafka's tool prints "-"; `partitions_without_commit` counts it), so it
    does not make the others' worst a mere lower bound. One whose offsets could not be read does."""
    return row.committed_offset is not None or row.lag_unknown


def topic_weighs_time_lag(topic: GroupTopicLag) -> bool:
    """Whether a group's topic has any row that weighs_time_lag (not every partition without a commit)."""
    return topic.partitions_without_commit < topic.partitions or topic.partitions_unknown > 0


_QUALITY_RANK = {
    TimeLagQuality.EXACT: 0, TimeLagQuality.INTERPOLATED: 1, TimeLagQuality.AT_LEAST: 2, TimeLagQuality.UNKNOWN: 3,
    TimeLagQuality.CLOCK_SKEW: 4,
}
_BY_RANK = sorted(_QUALITY_RANK, key=_QUALITY_RANK.__getitem__)


def group_topic(snapshot: ClusterSnapshot, group: str, topic: str, rows: Sequence[PartitionLag]) -> GroupTopicLag:
    """A group's rows of one topic, summed in row order (what sum_counters and worst_time_lag give)."""
    partitions_with_lag = partitions_without_commit = partitions_below_log_start = 0
    partitions_unknown = partitions_beyond_log_end = lag_known_sum = lag_items = 0
    lag_max: int | None = None
    seconds: float | None = None
    rank = -1  # of the least trusted time lag: exact, interpolated, a bound, unknown
    # Produced into every partition; into the committed ones and consumed from them: what catch-up weighs.
    produced: list[Counter] = []
    produced_into_committed: list[Counter] = []
    consumed: list[Counter] = []
    for row in rows:
        if row.lag is not None:
            partitions_with_lag += 1
            lag_known_sum += row.lag
            if lag_max is None or row.lag > lag_max:
                lag_max = row.lag
        if row.lag_items is not None:
            lag_items += row.lag_items
        partitions_unknown += row.lag_unknown
        partitions_below_log_start += row.committed_below_log_start
        partitions_beyond_log_end += row.beyond_log_end > 0
        if weighs_time_lag(row):
            time_lag = row.time_lag
            if time_lag.seconds is not None and (seconds is None or time_lag.seconds > seconds):
                seconds = time_lag.seconds
            if _QUALITY_RANK[time_lag.quality] > rank:
                rank = _QUALITY_RANK[time_lag.quality]
        produced.append(row.produced)
        if row.committed_offset is None:
            partitions_without_commit += 1
        else:
            produced_into_committed.append(row.produced)
            consumed.append(row.consumed)
    partial = partitions_unknown > 0  # a sum that leaves out what could not be read would undercount
    seconds, quality = _worst(seconds, rank)
    info = snapshot.topics.get(topic)
    retention_ms = info.retention_ms if info else None
    return GroupTopicLag(  # positional, in field order: msgspec matches keywords field by field
        snapshot.cluster, group, topic, len(rows), partitions_without_commit, partitions_with_lag,
        partitions_below_log_start,
        None if partial else lag_known_sum,  # lag_sum
        None if partial else (0 if lag_max is None else lag_max),
        None if partial else lag_items,  # lag_items_sum
        seconds, quality, sum_counters(produced), sum_counters(consumed), retention_ms,
        retention_used(seconds, retention_ms), sum_counters(produced_into_committed), partitions_unknown,
        lag_known_sum, partitions_beyond_log_end,
    )


def group(cluster: str, group: GroupObservation, topics: Sequence[GroupTopicLag]) -> GroupLag:
    """A group's topics, summed in topic order (what sum_counters and worst_time_lag give)."""
    partitions = partitions_without_commit = partitions_unknown = partitions_beyond_log_end = 0
    lag_known_sum = lag_items = 0
    lag_max: int | None = None
    with_lag = False
    retention_used_max: float | None = None
    seconds: float | None = None
    rank = -1
    produced: list[Counter] = []
    produced_into_committed: list[Counter] = []
    consumed: list[Counter] = []
    for topic in topics:
        partitions += topic.partitions
        partitions_without_commit += topic.partitions_without_commit
        partitions_unknown += topic.partitions_unknown
        partitions_beyond_log_end += topic.partitions_beyond_log_end
        lag_known_sum += topic.lag_known_sum
        lag_items += topic.lag_items_sum or 0
        if lag_max is None or (topic.lag_max or 0) > lag_max:
            lag_max = topic.lag_max or 0
        with_lag = with_lag or topic.partitions_with_lag > 0
        used = topic.retention_used
        if used is not None and (retention_used_max is None or used > retention_used_max):
            retention_used_max = used
        if topic_weighs_time_lag(topic):
            if topic.lag_seconds_max is not None and (seconds is None or topic.lag_seconds_max > seconds):
                seconds = topic.lag_seconds_max
            if _QUALITY_RANK[topic.time_lag_quality] > rank:
                rank = _QUALITY_RANK[topic.time_lag_quality]
        produced.append(topic.produced)
        produced_into_committed.append(topic.produced_into_committed)
        consumed.append(topic.consumed)
    consumed_total = sum_counters(consumed)
    seconds, quality = _worst(seconds, rank)
    # Partial: some partition unreadable, or the group's offsets not read at all this scrape.
    partial = partitions_unknown > 0 or not group.committed_read
    # No partition with a known lag (never committed, or only a deleted topic): not "caught up". Catch-up
    # compares like with like: lag and consumption only exist where the group committed, so only what
    # producers write into those partitions counts against it.
    if with_lag and not partial:
        state, eta = catch_up(lag_known_sum, consumed_total, sum_counters(produced_into_committed))
    else:
        state, eta = CatchUp.UNKNOWN, None
    return GroupLag(  # positional, in field order: msgspec matches keywords field by field
        cluster, group.group, group.state, group.group_type, len(group.members), len(topics), partitions,
        partitions_without_commit,
        None if partial else lag_known_sum,  # lag_sum
        None if partial else (0 if lag_max is None else lag_max),
        None if partial else lag_items,  # lag_items_sum
        seconds, quality, sum_counters(produced), consumed_total, state, eta, retention_used_max,
        group.error,
        group.epoch, partitions_unknown, lag_known_sum, partitions_beyond_log_end,
    )


def _worst(seconds: float | None, rank: int) -> tuple[float | None, TimeLagQuality]:
    """What worst_time_lag gives, from the largest seconds and the weakest quality's rank."""
    if rank == _QUALITY_RANK[TimeLagQuality.CLOCK_SKEW]:
        return None, TimeLagQuality.CLOCK_SKEW
    return seconds, TimeLagQuality.UNKNOWN if seconds is None else _BY_RANK[rank]
