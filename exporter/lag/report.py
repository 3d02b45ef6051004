"""The lag model: pure functions from a snapshot (and the previous one) to lag at every granularity.

No I/O here: every function takes plain data (and the time, where it matters) and returns plain data.

`build_report` reads a snapshot in three steps:
- what each partition's log says this scrape (`_Log`: offsets, records produced since the last scrape),
  once per partition;
- where a committed offset stands in that log (`Position`: lag, below the log start, beyond the log end, time
  lag), once per partition and committed offset: every group at the same offset of a partition shares it;
- one row per group and partition (`PartitionLag`), summed per topic and per group (exporter/lag/aggregate.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from itertools import groupby
from operator import attrgetter

from exporter.lag import aggregate, timelag
from exporter.lag.model import NOTHING, ClusterSnapshot, Counter, Frozen, GroupLag, GroupObservation, GroupTopicLag
from exporter.lag.model import LagReport, PartitionLag, TimeLag, TopicInfo, TopicPartition

# --- The per-row rules: the only place they are written -------------------------------------------------


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


def records_between(previous: int | None, current: int | None, same_incarnation: bool = True) -> int | None:
    """Records between two observations of one offset; None when either is unknown or across a reset (the
    offset moved backwards, the topic was recreated)."""
    if previous is None or current is None or not same_incarnation or current < previous:
        return None
    return current - previous


def offset_delta(
    previous: int | None, current: int | None, elapsed_s: float, *, same_incarnation: bool = True
) -> Counter:
    """Records between two observations of one offset and their rate; unknown without time between them."""
    count = records_between(previous, current, same_incarnation)
    if count is None or elapsed_s <= 0:
        return Counter.none()
    return Counter(count, count / elapsed_s)


def topic_recreated(previous: ClusterSnapshot, snapshot: ClusterSnapshot, topic: str) -> bool:
    """The topic exists in both snapshots under different ids: deleted and created again, offsets restarted."""
    old, new = previous.topics.get(topic), snapshot.topics.get(topic)
    return old is not None and new is not None and old.topic_id != new.topic_id


# --- Which partitions a group has rows for ----------------------------------------------------------------


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


# --- One scrape's logs and positions ----------------------------------------------------------------------


class Position(Frozen):
    """Where a committed offset stands in its partition's log this scrape (the rules above, applied once)."""

    lag: int | None
    lag_items: int | None  # lag times the topic's items per record
    below_log_start: bool
    beyond_log_end: int
    time_lag: TimeLag


class _Log:
    """One partition's log as this scrape read it, and where committed offsets stand in it."""

    __slots__ = ("topic", "partition", "log_end", "log_start", "error", "produced", "scale", "same_incarnation",
                 "deleted", "history", "skewed", "now", "positions")

    def __init__(self, tp: TopicPartition, scrape: _Scrape):
        topic, partition = self.topic, self.partition = tp
        offsets = scrape.snapshot.partitions.get(tp)
        if offsets is not None:
            self.log_end, self.log_start, self.error = offsets.log_end_offset, offsets.log_start_offset, offsets.error
        else:
            self.log_end = self.log_start = None
            self.error = f"partition {topic}/{partition} not in topic metadata"
        before = scrape.previous_partitions.get(tp)
        self.same_incarnation = scrape.same_incarnation(topic)
        self.produced = scrape.delta(before.log_end_offset if before else None, self.log_end, self.same_incarnation)
        self.scale = scrape.scale(topic)
        # A commit on a topic that is gone from healthy metadata (deleted) has no lag; any other missing
        # log-end offset is a failed read.
        self.deleted = offsets is None and topic not in scrape.snapshot.topics and topic not in scrape.unreadable
        self.history = scrape.histories.get(tp, ())
        self.skewed = tp in scrape.skewed  # record times ahead of lagwatch's clock (TimeLagProber.skewed)
        self.now = scrape.snapshot.taken_at
        self.positions: dict[int | None, Position] = {}

    def position(self, committed: int | None) -> Position:
        """Where `committed` stands in this log (the per-row rules, applied once per committed offset)."""
        found = self.positions.get(committed)
        if found is None:
            lag = partition_lag(committed, self.log_end)
            found = self.positions[committed] = Position(
                lag,
                None if lag is None else lag * self.scale,
                below_log_start(committed, self.log_start),
                beyond_log_end(committed, self.log_end),
                timelag.estimate(self.history, committed, self.log_end, self.now, self.skewed),
            )
        return found


class _Scrape:
    """What all rows of one scrape share: the logs, the previous snapshot, one Counter per count."""

    def __init__(
        self,
        snapshot: ClusterSnapshot,
        previous: ClusterSnapshot | None,
        histories: Mapping[TopicPartition, timelag.History],
        records_per_message: Callable[[str], int],
        skewed: Collection[TopicPartition],
    ):
        self.snapshot, self.previous, self.histories, self.skewed = snapshot, previous, histories, skewed
        self.records_per_message = records_per_message
        self.elapsed = snapshot.taken_at - previous.taken_at if previous is not None else 0.0
        self.previous_partitions = previous.partitions if previous is not None else {}
        self.previous_groups = {g.group: g for g in previous.groups} if previous is not None else {}
        # Topics whose metadata could not be read: their partitions' log-end offsets are unknown, not absent.
        self.unreadable = {e.name for e in snapshot.errors if e.scope == "topic"}
        self._counters: dict[int, Counter] = {}
        self._incarnations: dict[str, bool] = {}
        self._scales: dict[str, int] = {}
        self.partition_counts = {name: info.partitions for name, info in snapshot.topics.items()}
        self._topic_blocks: dict[str, tuple[TopicPartition, ...]] = {}
        self.logs = {tp: _Log(tp, self) for tp in snapshot.partitions}  # no reference back to self: no cycle

    def same_incarnation(self, topic: str) -> bool:
        """The topic is in both snapshots and was not recreated in between: its offsets can be compared."""
        same = self._incarnations.get(topic)
        if same is None:
            previous, snapshot = self.previous, self.snapshot
            same = self._incarnations[topic] = (
                previous is not None
                and topic in previous.topics
                and topic in snapshot.topics
                and not topic_recreated(previous, snapshot, topic)
            )
        return same

    def scale(self, topic: str) -> int:
        """Items per record on the topic (`lag_items` = lag x this)."""
        found = self._scales.get(topic)
        if found is None:
            found = self._scales[topic] = self.records_per_message(topic)
        return found

    def delta(self, before: int | None, current: int | None, same_incarnation: bool) -> Counter:
        """offset_delta over this scrape's elapsed time: every Counter of one count is one shared object."""
        count = records_between(before, current, same_incarnation)
        if count is None or self.elapsed <= 0:
            return Counter.none()
        made = self._counters.get(count)
        if made is None:
            made = self._counters[count] = Counter(count, count / self.elapsed)
        return made

    def partitions_of(self, group: GroupObservation) -> Sequence[TopicPartition]:
        """group_partitions(group, snapshot), without the sets and the sort in the usual case: a group with no
        members or unread partitions whose commits all fall within their topics' partitions reads exactly
        those topics' partitions, in topic order."""
        if group.members or group.committed_unread:
            return group_partitions(group, self.snapshot)
        counts = self.partition_counts
        if any(not 0 <= partition < counts.get(topic, 0) for topic, partition in group.committed):
            return group_partitions(group, self.snapshot)  # a vanished topic or partition: its commit stays
        topics = sorted({topic for topic, _ in group.committed})
        if len(topics) == 1:
            return self._topic_block(topics[0])
        return [tp for topic in topics for tp in self._topic_block(topic)]

    def _topic_block(self, topic: str) -> tuple[TopicPartition, ...]:
        """Every partition of a topic in the metadata, in order."""
        block = self._topic_blocks.get(topic)
        if block is None:
            block = self._topic_blocks[topic] = tuple((topic, p) for p in range(self.partition_counts[topic]))
        return block

    def rows(self, group: GroupObservation) -> list[PartitionLag]:
        """One row per partition the group involves."""
        cluster, name, committed_of, broker_lag = self.snapshot.cluster, group.group, group.committed, group.broker_lag
        before = self.previous_groups.get(name)
        committed_before = before.committed if before is not None else NOTHING
        members = group.member_of() if group.members else NOTHING
        unread = group.committed_unread
        logs, rows = self.logs, []
        for tp in self.partitions_of(group):
            log = logs.get(tp)
            if log is None:  # a partition the metadata lacks (a vanished topic or partition, an unreadable topic)
                log = logs[tp] = _Log(tp, self)
            committed = committed_of.get(tp)
            position = log.position(committed)
            lag, lag_items = position.lag, position.lag_items
            if lag is not None and tp in broker_lag:
                lag = broker_lag[tp]  # a share group: the broker's own count of unacknowledged records
                lag_items = lag * log.scale
            if tp in unread:
                error, unknown = group.error or "committed offset could not be read", True
            else:
                error, unknown = log.error, committed is not None and log.log_end is None and not log.deleted
            consumed = self.delta(committed_before.get(tp), committed, log.same_incarnation)
            rows.append(PartitionLag(  # positional, in field order (msgspec matches keywords field by field)
                cluster, name, log.topic, log.partition, committed, log.log_end, log.log_start, lag, lag_items,
                position.below_log_start, position.time_lag, log.produced, consumed, members.get(tp), error,
                unknown, position.beyond_log_end,
            ))
        return rows


_TOPIC = attrgetter("topic")


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
    scrape = _Scrape(snapshot, previous, histories, records_per_message, skewed)
    if len({g.group for g in snapshot.groups}) != len(snapshot.groups):
        return _report_by_name(snapshot, scrape)
    partition_rows: list[PartitionLag] = []
    group_topic_rows: list[GroupTopicLag] = []
    group_rows: list[GroupLag] = []
    for group in snapshot.groups:
        rows = scrape.rows(group)
        # A group's rows come sorted by topic: each topic's rows are one run.
        topics = [aggregate.group_topic(snapshot, group.group, topic, list(run))
                  for topic, run in groupby(rows, _TOPIC)]
        partition_rows += rows
        group_topic_rows += topics
        group_rows.append(aggregate.group(snapshot.cluster, group, topics))
    return LagReport(snapshot, tuple(partition_rows), tuple(group_topic_rows), tuple(group_rows))


def _report_by_name(snapshot: ClusterSnapshot, scrape: _Scrape) -> LagReport:
    """build_report for a snapshot that observed a group twice (the collector makes one observation per
    group; this keeps any other input exact): rows summed by group name."""
    partition_rows = [row for group in snapshot.groups for row in scrape.rows(group)]
    by_group_topic: dict[tuple[str, str], list[PartitionLag]] = defaultdict(list)
    for row in partition_rows:
        by_group_topic[(row.group, row.topic)].append(row)
    group_topic_rows = [aggregate.group_topic(snapshot, g, t, rows) for (g, t), rows in by_group_topic.items()]
    by_group: dict[str, list[GroupTopicLag]] = defaultdict(list)
    for gt in group_topic_rows:
        by_group[gt.group].append(gt)
    group_rows = [aggregate.group(snapshot.cluster, g, by_group.get(g.group, [])) for g in snapshot.groups]
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
