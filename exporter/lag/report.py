"""The lag model: pure functions from a snapshot (and the previous one) to lag at every granularity.

No I/O here: every function takes plain data (and the time, where it matters) and returns plain data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from exporter.lag import aggregate, timelag
from exporter.lag.model import (
    ClusterSnapshot,
    Counter,
    GroupLag,
    GroupObservation,
    GroupTopicLag,
    NOTHING,
    LagReport,
    PartitionLag,
    TopicInfo,
    TopicPartition,
)


def partition_lag(committed: int | None, log_end: int | None) -> int | None:
    """log-end minus committed, never negative; None when either is unknown (Kafka's tool prints "-")."""
    if committed is None or log_end is None or committed < 0 or log_end < 0:
        return None
    return max(0, log_end - committed)


def beyond_log_end(committed: int | None, log_end: int | None) -> int:
    """Committed minus log-end when the commit is beyond the end of the log, else 0."""
    if committed is None or log_end is None or log_end < 0 or committed <= log_end:
        return 0
    return committed - log_end


def below_log_start(committed: int | None, log_start: int | None) -> bool:
    """True when retention deleted records the group never read."""
    return committed is not None and log_start is not None and 0 <= committed < log_start


def offset_delta(
    previous: int | None, current: int | None, elapsed_s: float, *, same_incarnation: bool = True
) -> Counter:
    """Records between two observations of one offset. A backwards move (reset, recreated topic) gives None."""
    if previous is None or current is None or elapsed_s <= 0 or not same_incarnation:
        return Counter.none()
    delta = current - previous
    if delta < 0:
        return Counter.none()
    return Counter(delta, delta / elapsed_s)


def topic_recreated(previous: ClusterSnapshot, snapshot: ClusterSnapshot, topic: str) -> bool:
    """The topic exists in both snapshots under different ids: deleted and created again, offsets restarted."""
    old, new = previous.topics.get(topic), snapshot.topics.get(topic)
    return old is not None and new is not None and old.topic_id != new.topic_id


def involved_partitions(groups: Iterable[GroupObservation], topics: Mapping[str, TopicInfo]) -> set[TopicPartition]:
    """Every partition of every topic the groups read (assigned or committed), so never-committed
    partitions of a consumed topic are visible too. Committed partitions of vanished topics stay.
    The report has a row for each; the collector reads the log offsets of those the metadata has
    (exporter/kafka/collector.py read_partitions)."""
    touched: set[TopicPartition] = set()
    for group in groups:
        touched.update(group.committed)
        touched.update(group.committed_unread)
        for member in group.members:
            touched.update(member.assignment)
    for topic in {topic for topic, _ in touched}:  # the topics first: the set grows below
        info = topics.get(topic)
        if info is not None:
            touched.update((topic, p) for p in range(info.partitions))
    return touched


def group_partitions(group: GroupObservation, snapshot: ClusterSnapshot) -> list[TopicPartition]:
    """The partitions `group` involves (involved_partitions), sorted."""
    return sorted(involved_partitions((group,), snapshot.topics))


def _row_partitions(
    group: GroupObservation, snapshot: ClusterSnapshot, blocks: dict[str, tuple[TopicPartition, ...] | None]
) -> Sequence[TopicPartition]:
    """group_partitions(group, snapshot), without the sets and the sort in the usual case: a group with no
    members or unread partitions whose commits all fall within their topics' partitions reads exactly those
    topics' partitions, in topic order. `blocks` caches each topic's partitions (None: topic not in metadata)."""
    if group.members or group.committed_unread:
        return group_partitions(group, snapshot)
    names: set[str] = set()
    for topic, partition in group.committed:
        block = blocks.get(topic, ())
        if block == ():
            info = snapshot.topics.get(topic)
            block = blocks[topic] = tuple((topic, p) for p in range(info.partitions)) if info else None
        if block is None or not 0 <= partition < len(block):
            return group_partitions(group, snapshot)  # a vanished topic or partition: its commit stays a row
        names.add(topic)
    if len(names) == 1:
        return blocks[names.pop()]  # type: ignore[return-value]
    return [tp for topic in sorted(names) for tp in blocks[topic]]  # type: ignore[union-attr]


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

    The hot loop of a large estate (one pass per group-partition row): the per-row rules of partition_lag,
    below_log_start, beyond_log_end and offset_delta are written out inline here, and equal counters are one
    shared (frozen) object; tests/unit/test_lag_oracle.py holds it to the plain version's output.
    """
    now = snapshot.taken_at
    cluster = snapshot.cluster
    elapsed = now - previous.taken_at if previous is not None else 0.0
    previous_groups = {g.group: g for g in previous.groups} if previous is not None else {}
    previous_partitions = previous.partitions if previous is not None else {}
    unknown_counter = Counter.none()
    counters: dict[int, Counter] = {}  # by count: the rate is count / elapsed for every counter of this scrape

    def counter(before: int | None, current: int | None, same: bool) -> Counter:
        """offset_delta(before, current, elapsed, same_incarnation=same), one object per count."""
        if before is None or current is None or elapsed <= 0 or not same:
            return unknown_counter
        delta = current - before
        if delta < 0:
            return unknown_counter
        made = counters.get(delta)
        if made is None:
            made = counters[delta] = Counter(delta, delta / elapsed)
        return made

    same_of: dict[str, bool] = {}  # per topic, not per row: tens of thousands of rows share a few hundred topics

    def same_topic(topic: str) -> bool:
        same = same_of.get(topic)
        if same is None:
            same = same_of[topic] = (
                previous is not None
                and topic in previous.topics
                and topic in snapshot.topics
                and not topic_recreated(previous, snapshot, topic)
            )
        return same

    produced_by_tp: dict[TopicPartition, Counter] = {}
    for tp, offsets in snapshot.partitions.items():
        before = previous_partitions.get(tp)
        produced_by_tp[tp] = counter(
            before.log_end_offset if before else None, offsets.log_end_offset, same_topic(tp[0])
        )

    # Topics whose metadata could not be read: their partitions' log-end offsets are unknown, not absent.
    unreadable_topics = {e.name for e in snapshot.errors if e.scope == "topic"}
    scale_of: dict[str, int] = {}
    blocks: dict[str, tuple[TopicPartition, ...] | None] = {}
    partitions_get, histories_get, produced_get = snapshot.partitions.get, histories.get, produced_by_tp.get
    estimate = timelag.estimate
    # Time lag depends only on the partition and the committed offset: with more groups than partitions (many
    # groups on few partitions), groups at the same offset of a partition share one estimate and one object.
    share_time_lags = len(snapshot.groups) > len(snapshot.partitions)
    time_lag_of: dict[TopicPartition, dict[int | None, timelag.TimeLag]] = {}
    partition_rows: list[PartitionLag] = []
    group_topic_rows: list[GroupTopicLag] = []
    group_rows: list[GroupLag] = []
    distinct = len({g.group for g in snapshot.groups}) == len(snapshot.groups)
    for group in snapshot.groups:
        name = group.group
        before = previous_groups.get(name)
        committed_before = before.committed if before is not None else NOTHING
        members = group.member_of() if group.members else NOTHING
        unread = set(group.committed_unread) if group.committed_unread else ()
        committed_of = group.committed
        broker_lag = group.broker_lag
        first = len(partition_rows)
        for tp in _row_partitions(group, snapshot, blocks):
            topic, partition = tp
            offsets = partitions_get(tp)
            committed = committed_of.get(tp)
            if offsets is not None:
                log_end, log_start, error = offsets.log_end_offset, offsets.log_start_offset, offsets.error
            else:
                log_end = log_start = None
                error = f"partition {topic}/{partition} not in topic metadata"
            # partition_lag, below_log_start, beyond_log_end:
            lag = None
            below, beyond = False, 0
            if committed is not None:
                if log_end is not None and committed >= 0 and log_end >= 0:
                    lag = log_end - committed if log_end > committed else 0
                    if broker_lag and tp in broker_lag:
                        lag = broker_lag[tp]  # a share group: the broker's own count of unacknowledged records
                if log_start is not None and 0 <= committed < log_start:
                    below = True
                if log_end is not None and log_end >= 0 and committed > log_end:
                    beyond = committed - log_end
            if share_time_lags:
                by_committed = time_lag_of.get(tp)
                if by_committed is None:
                    by_committed = time_lag_of[tp] = {}
                time_lag = by_committed.get(committed)
                if time_lag is None:
                    time_lag = by_committed[committed] = estimate(
                        histories_get(tp, ()), committed, log_end, now, tp in skewed
                    )
            else:
                time_lag = estimate(histories_get(tp, ()), committed, log_end, now, tp in skewed)
            scale = scale_of.get(topic)
            if scale is None:
                scale = scale_of[topic] = records_per_message(topic)
            if tp in unread:
                unknown = True
                error = group.error or "committed offset could not be read"
            else:
                # A commit on a topic that is gone from healthy metadata (deleted) has no lag; any other
                # missing log-end offset is a failed read.
                unknown = (
                    committed is not None
                    and log_end is None
                    and not (offsets is None and topic not in snapshot.topics and topic not in unreadable_topics)
                )
            partition_rows.append(
                PartitionLag(
                    cluster,
                    name,
                    topic,
                    partition,
                    committed,
                    log_end,
                    log_start,
                    lag,
                    lag * scale if lag is not None else None,
                    below,
                    time_lag,
                    produced_get(tp, unknown_counter),
                    counter(committed_before.get(tp), committed, same_topic(topic)),
                    members.get(tp),
                    error,
                    unknown,
                    beyond,
                )
            )
        if not distinct:
            continue  # aggregated below, by name
        # A group's rows are sorted by topic: each topic's rows are one run.
        topics: list[GroupTopicLag] = []
        rows = partition_rows[first:]
        start = 0
        for end in range(1, len(rows) + 1):
            if end == len(rows) or rows[end].topic != rows[start].topic:
                topics.append(aggregate.group_topic(snapshot, name, rows[start].topic, rows[start:end]))
                start = end
        group_topic_rows.extend(topics)
        group_rows.append(aggregate.group(cluster, group, topics))

    if not distinct:  # one observation per group is what the collector makes; this keeps any other input exact
        by_group_topic: dict[tuple[str, str], list[PartitionLag]] = defaultdict(list)
        for row in partition_rows:
            by_group_topic[(row.group, row.topic)].append(row)
        group_topic_rows = [aggregate.group_topic(snapshot, g, t, rows) for (g, t), rows in by_group_topic.items()]
        by_group: dict[str, list[GroupTopicLag]] = defaultdict(list)
        for gt in group_topic_rows:
            by_group[gt.group].append(gt)
        group_rows = [aggregate.group(cluster, g, by_group.get(g.group, [])) for g in snapshot.groups]
    return LagReport(snapshot, tuple(partition_rows), tuple(group_topic_rows), tuple(group_rows))


def update_histories(
    histories: Mapping[TopicPartition, timelag.History],
    snapshot: ClusterSnapshot,
    previous: ClusterSnapshot | None,
    max_points: int = timelag.MAX_POINTS,
) -> dict[TopicPartition, timelag.History]:
    """Add this scrape's log-end offsets and broker time probes to each partition's history.

    A partition whose log-end went backwards, or whose topic was recreated, starts a fresh history.
    Partitions no longer in the snapshot are forgotten.
    """
    updated: dict[TopicPartition, timelag.History] = {}
    for tp, offsets in snapshot.partitions.items():
        if offsets.log_end_offset is None:
            if tp in histories:
                updated[tp] = histories[tp]
            continue
        history = histories.get(tp, ())
        if previous is not None and topic_recreated(previous, snapshot, tp[0]):
            history = ()
        if history and history[-1][1] > offsets.log_end_offset:
            history = ()
        probes = snapshot.time_probes.get(tp)
        point = (snapshot.taken_at, offsets.log_end_offset)
        if probes:
            updated[tp] = timelag.add_points(history, [point, *probes], max_points)
        else:
            updated[tp] = timelag.add_point(history, point, max_points)
    return updated
