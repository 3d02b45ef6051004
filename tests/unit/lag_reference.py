"""The lag model as first written (exporter/lag/report.py build_report before issue #14's speed-up): plain,
one generator per aggregate, slow. Kept as the oracle the fast build_report is compared with
(tests/unit/test_lag_oracle.py); not used by lagwatch itself."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping

from exporter.lag import timelag
from exporter.lag.model import (
    CatchUp,
    ClusterSnapshot,
    Counter,
    GroupLag,
    GroupObservation,
    GroupTopicLag,
    LagReport,
    PartitionLag,
    TimeLag,
    TimeLagQuality,
    TopicPartition,
)
from exporter.lag.aggregate import catch_up, retention_used, sum_counters, worst_time_lag
from exporter.lag.report import (
    below_log_start,
    beyond_log_end,
    group_partitions,
    offset_delta,
    partition_lag,
    topic_recreated,
)


def build_report(
    snapshot: ClusterSnapshot,
    previous: ClusterSnapshot | None,
    histories: Mapping[TopicPartition, timelag.History],
    records_per_message: Callable[[str], int] = lambda topic: 1,
    skewed: Collection[TopicPartition] = frozenset(),
) -> LagReport:
    """Lag per partition, per group+topic and per group for one scrape.

    `histories` must already hold this scrape's (time, log-end) points; `previous` is the last good snapshot
    of the same cluster (None on the first scrape: counts and rates are then unknown); `skewed`: partitions
    whose record times are ahead of lagwatch's clock (TimeLagProber.skewed).
    """
    now = snapshot.taken_at
    elapsed = now - previous.taken_at if previous is not None else 0.0
    previous_groups = {g.group: g for g in previous.groups} if previous is not None else {}
    previous_partitions = previous.partitions if previous is not None else {}

    def same_topic(topic: str) -> bool:
        return (
            previous is not None
            and topic in previous.topics
            and topic in snapshot.topics
            and not topic_recreated(previous, snapshot, topic)
        )

    produced_by_tp: dict[TopicPartition, Counter] = {}
    for tp, offsets in snapshot.partitions.items():
        before = previous_partitions.get(tp)
        produced_by_tp[tp] = offset_delta(
            before.log_end_offset if before else None,
            offsets.log_end_offset,
            elapsed,
            same_incarnation=same_topic(tp[0]),
        )

    # Topics whose metadata could not be read: their partitions' log-end offsets are unknown, not absent.
    unreadable_topics = {e.name for e in snapshot.errors if e.scope == "topic"}
    # Per topic, not per row: tens of thousands of rows share a few hundred topics.
    scale_of: dict[str, int] = {}
    same_of: dict[str, bool] = {}
    partition_rows: list[PartitionLag] = []
    for group in snapshot.groups:
        before = previous_groups.get(group.group)
        members = group.member_of()
        unread = set(group.committed_unread)
        for tp in group_partitions(group, snapshot):
            topic, partition = tp
            offsets = snapshot.partitions.get(tp)
            committed = group.committed.get(tp)
            log_end = offsets.log_end_offset if offsets else None
            log_start = offsets.log_start_offset if offsets else None
            lag = partition_lag(committed, log_end)
            if tp in group.broker_lag and lag is not None:
                lag = group.broker_lag[tp]  # a share group: the broker's own count of unacknowledged records
            scale = scale_of.get(topic)
            if scale is None:
                scale = scale_of[topic] = records_per_message(topic)
            same = same_of.get(topic)
            if same is None:
                same = same_of[topic] = same_topic(topic)
            error = offsets.error if offsets else f"partition {topic}/{partition} not in topic metadata"
            # A commit on a topic that is gone from healthy metadata (deleted) has no lag; any other
            # missing log-end offset is a failed read.
            deleted = offsets is None and topic not in snapshot.topics and topic not in unreadable_topics
            unknown = tp in unread or (committed is not None and log_end is None and not deleted)
            if tp in unread:
                error = group.error or "committed offset could not be read"
            partition_rows.append(
                PartitionLag(
                    cluster=snapshot.cluster,
                    group=group.group,
                    topic=topic,
                    partition=partition,
                    committed_offset=committed,
                    log_end_offset=log_end,
                    log_start_offset=log_start,
                    lag=lag,
                    lag_items=lag * scale if lag is not None else None,
                    committed_below_log_start=below_log_start(committed, log_start),
                    time_lag=timelag.estimate(histories.get(tp, ()), committed, log_end, now, tp in skewed),
                    produced=produced_by_tp.get(tp, Counter.none()),
                    consumed=offset_delta(
                        before.committed.get(tp) if before else None,
                        committed,
                        elapsed,
                        same_incarnation=same,
                    ),
                    member=members.get(tp),
                    error=error,
                    lag_unknown=unknown,
                    beyond_log_end=beyond_log_end(committed, log_end),
                )
            )

    by_group_topic: dict[tuple[str, str], list[PartitionLag]] = defaultdict(list)
    for row in partition_rows:
        by_group_topic[(row.group, row.topic)].append(row)
    group_topic_rows = [
        _group_topic(snapshot, group, topic, rows) for (group, topic), rows in by_group_topic.items()
    ]

    by_group: dict[str, list[GroupTopicLag]] = defaultdict(list)
    for row in group_topic_rows:
        by_group[row.group].append(row)
    group_rows = [_group(snapshot.cluster, g, by_group.get(g.group, [])) for g in snapshot.groups]
    return LagReport(snapshot, tuple(partition_rows), tuple(group_topic_rows), tuple(group_rows))


def _group_topic(snapshot: ClusterSnapshot, group: str, topic: str, rows: list[PartitionLag]) -> GroupTopicLag:
    lags = [r.lag for r in rows if r.lag is not None]
    unknown = sum(1 for r in rows if r.lag_unknown)
    known_sum = sum(lags)
    seconds, quality = worst_time_lag(r.time_lag for r in rows if r.committed_offset is not None or r.lag_unknown)
    info = snapshot.topics.get(topic)
    retention_ms = info.retention_ms if info else None
    return GroupTopicLag(
        cluster=snapshot.cluster,
        group=group,
        topic=topic,
        partitions=len(rows),
        partitions_without_commit=sum(1 for r in rows if r.committed_offset is None),
        partitions_with_lag=len(lags),
        partitions_below_log_start=sum(1 for r in rows if r.committed_below_log_start),
        lag_sum=None if unknown else known_sum,
        lag_max=None if unknown else max(lags, default=0),
        lag_items_sum=None if unknown else sum(r.lag_items for r in rows if r.lag_items is not None),
        lag_seconds_max=seconds,
        time_lag_quality=quality,
        produced=sum_counters(r.produced for r in rows),
        produced_into_committed=sum_counters(r.produced for r in rows if r.committed_offset is not None),
        consumed=sum_counters(r.consumed for r in rows if r.committed_offset is not None),
        retention_ms=retention_ms,
        retention_used=retention_used(seconds, retention_ms),
        partitions_unknown=unknown,
        lag_known_sum=known_sum,
        partitions_beyond_log_end=sum(1 for r in rows if r.beyond_log_end),
    )


def _group(cluster: str, group: GroupObservation, topics: list[GroupTopicLag]) -> GroupLag:
    known_sum = sum(t.lag_known_sum for t in topics)
    unknown = sum(t.partitions_unknown for t in topics)
    # Partial: some partition unreadable, or the group's offsets not read at all this scrape.
    partial = bool(unknown) or not group.committed_read
    lag_sum = None if partial else known_sum
    consumed = sum_counters(t.consumed for t in topics)
    produced = sum_counters(t.produced for t in topics)
    seconds, quality = worst_time_lag(
        TimeLag(t.lag_seconds_max, t.time_lag_quality) for t in topics
        if t.partitions_without_commit < t.partitions or t.partitions_unknown  # a topic never committed on has no lag
    )
    # No partition with a known lag (never committed, or only a deleted topic): not "caught up".
    known = any(t.partitions_with_lag for t in topics) and not partial
    # Catch-up compares like with like: lag and consumption only exist where the group committed, so only
    # what producers write into those partitions counts against it.
    into_committed = sum_counters(t.produced_into_committed for t in topics)
    state, eta = catch_up(known_sum, consumed, into_committed) if known else (CatchUp.UNKNOWN, None)
    used = [t.retention_used for t in topics if t.retention_used is not None]
    return GroupLag(
        cluster=cluster,
        group=group.group,
        state=group.state,
        group_type=group.group_type,
        members=len(group.members),
        topics=len(topics),
        partitions=sum(t.partitions for t in topics),
        partitions_without_commit=sum(t.partitions_without_commit for t in topics),
        lag_sum=lag_sum,
        lag_max=None if partial else max((t.lag_max or 0 for t in topics), default=0),
        lag_items_sum=None if partial else sum(t.lag_items_sum or 0 for t in topics),
        lag_seconds_max=seconds,
        time_lag_quality=quality,
        produced=produced,
        consumed=consumed,
        catch_up=state,
        catch_up_seconds=eta,
        retention_used_max=max(used) if used else None,
        error=group.error,
        epoch=group.epoch,
        partitions_unknown=unknown,
        lag_known_sum=known_sum,
        partitions_beyond_log_end=sum(t.partitions_beyond_log_end for t in topics),
    )

