"""Frozen types: what a scrape observes (a ClusterSnapshot) and what lagwatch reports (a LagReport)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

import msgspec

TopicPartition = tuple[str, int]  # (topic, partition): Kafka's own key for a partition


class _Nothing(dict):
    """An empty mapping that refuses to change (so hashable, and a safe default): the default of a mapping
    field is one shared object, not a dict per object (a scrape makes one GroupObservation per group)."""

    __slots__ = ()

    def _refuse(self, *args, **kwargs):
        raise TypeError("NOTHING is immutable")

    __setitem__ = __delitem__ = __ior__ = setdefault = update = pop = popitem = clear = _refuse

    def __hash__(self) -> int:
        return 0


NOTHING: Mapping = _Nothing()


class Frozen(msgspec.Struct, frozen=True, gc=False):
    """What every model type is: an immutable record with slots, compared and hashed by its fields, and not
    tracked by the cyclic garbage collector (a model object never refers back to what holds it, so it can
    never be part of a cycle; a scrape makes hundreds of thousands of them)."""


# --- What the collector observed ------------------------------------------------------------


class PartitionOffsets(Frozen):
    """A partition's log as its leader reported it during one scrape."""

    topic: str
    partition: int
    log_end_offset: int | None
    log_start_offset: int | None = None
    leader: int | None = None
    error: str | None = None


class Member(Frozen):
    """An active member of a group and the partitions assigned to it."""

    member_id: str
    client_id: str
    client_host: str
    assignment: tuple[TopicPartition, ...] = ()


class GroupObservation(Frozen):
    """A consumer group: its state, members and committed offsets (absent key: never committed)."""

    group: str
    state: str
    protocol_type: str = "consumer"
    group_type: str | None = None  # ListGroups v5: classic, consumer (KIP-848), share, streams; None: older broker
    coordinator: int | None = None
    members: tuple[Member, ...] = ()
    committed: Mapping[TopicPartition, int] = NOTHING
    error: str | None = None
    # False when this scrape could not read all of the group's committed offsets and cannot name the partitions
    # it missed: OffsetFetch failed or its coordinator is down (`committed` is then empty), or the group's
    # describe was denied on a topic the broker does not name, whose offsets OffsetFetch leaves out unsaid.
    committed_read: bool = True
    # Partitions whose committed offset could not be read this scrape: partition-level OffsetFetch errors,
    # or, when the whole fetch failed, the partitions the group had committed to when last read.
    committed_unread: tuple[TopicPartition, ...] = ()
    epoch: int | None = None  # the group epoch (KIP-848 and share groups)
    # Share groups (KIP-932): `committed` holds each partition's share-partition start offset, and this the
    # lag the broker computes (Kafka 4.2+: records not yet acknowledged), which is what Kafka's tool shows.
    broker_lag: Mapping[TopicPartition, int] = NOTHING

    def member_of(self) -> dict[TopicPartition, Member]:
        return {tp: m for m in self.members for tp in m.assignment}


class TopicInfo(Frozen):
    name: str
    partitions: int
    topic_id: str | None = None
    retention_ms: int | None = None  # None: unknown; -1: unlimited


class ScrapeError(Frozen):
    """Something that failed during a scrape; the rest of the snapshot still goes out."""

    scope: str  # "cluster", "group", "topic", "partition", "broker"
    name: str
    message: str
    # An authorization error: the kafka-acls command that fixes it (exporter/kafka/access.py), else None.
    grant: str | None = None


class ClusterSnapshot(Frozen):
    """Everything one scrape of one cluster read. Times are epoch seconds."""

    cluster: str
    taken_at: float
    topics: Mapping[str, TopicInfo]
    partitions: Mapping[TopicPartition, PartitionOffsets]
    groups: tuple[GroupObservation, ...]
    errors: tuple[ScrapeError, ...] = ()
    requests: Mapping[str, int] = msgspec.field(default_factory=dict)
    duration_s: float = 0.0
    # (timestamp, offset) points from ListOffsets-by-timestamp: "the log ended at `offset` at `timestamp`".
    time_probes: Mapping[TopicPartition, tuple[tuple[float, int], ...]] = msgspec.field(default_factory=dict)
    up: bool = True
    # Every broker listed its groups: a group missing from `groups` is gone. False when one did not answer
    # ListGroups (its groups are in `groups` only if an earlier scrape of this process saw them).
    groups_complete: bool = True


# --- What lagwatch reports ------------------------------------------------------------------


class TimeLagQuality(str, Enum):
    """How much to trust a lag in seconds."""

    EXACT = "exact"  # caught up: zero by definition
    INTERPOLATED = "interpolated"  # between two known (time, log-end) points
    AT_LEAST = "at_least"  # older than anything known: a lower bound
    UNKNOWN = "unknown"  # no committed offset or no history: no number at all
    # The records' timestamps are ahead of lagwatch's clock (a producer whose clock runs fast, event times):
    # they cannot be compared with it, so no number at all (exporter/lag/prober.py finds it out).
    CLOCK_SKEW = "clock_skew"


class TimeLag(Frozen):
    seconds: float | None
    quality: TimeLagQuality

    @classmethod
    def unknown(cls) -> TimeLag:
        return _UNKNOWN_TIME_LAG  # frozen: one shared value (asked for on most rows of a scrape)


_UNKNOWN_TIME_LAG = TimeLag(None, TimeLagQuality.UNKNOWN)


class CatchUp(str, Enum):
    CAUGHT_UP = "caught_up"
    CATCHING_UP = "catching_up"
    FALLING_BEHIND = "falling_behind"
    STEADY = "steady"  # consumes exactly as fast as producers write (or neither moves): lag stays where it is
    UNKNOWN = "unknown"


class Counter(Frozen):
    """A count since the previous scrape and its rate per second; None across resets or without history."""

    count: int | None
    rate: float | None

    @classmethod
    def none(cls) -> Counter:
        return _UNKNOWN_COUNTER  # frozen, so one shared instance serves every unknown counter


_UNKNOWN_COUNTER = Counter(None, None)


class PartitionLag(Frozen):
    cluster: str
    group: str
    topic: str
    partition: int
    committed_offset: int | None
    log_end_offset: int | None
    log_start_offset: int | None
    lag: int | None
    lag_items: int | None
    committed_below_log_start: bool
    time_lag: TimeLag
    produced: Counter
    consumed: Counter
    member: Member | None = None
    error: str | None = None
    # The lag could not be read (committed offset or log-end offset unreadable this scrape). A partition the
    # group never committed to has lag None too, but that is known, not unknown.
    lag_unknown: bool = False
    # How far the committed offset is beyond the log-end offset (topic recreated, unclean leader election,
    # an offset set by hand): Kafka's tool prints it as negative lag; the consumer will get
    # OFFSET_OUT_OF_RANGE and reset. `lag` is then 0, so sums never subtract it.
    beyond_log_end: int = 0


class _LagSum(Frozen):
    """What the topic and group aggregates share: `lag_sum` is None when any partition's lag is unknown."""

    @property
    def partial(self) -> bool:
        return self.lag_sum is None


class GroupTopicLag(_LagSum):
    cluster: str
    group: str
    topic: str
    partitions: int
    partitions_without_commit: int
    partitions_with_lag: int  # partitions whose lag is known (committed and log-end both read)
    partitions_below_log_start: int
    # None when any partition's lag is unknown (partial): a sum that leaves out what it could not read
    # would be a smaller number than the truth. `lag_known_sum` is the sum over what was read.
    lag_sum: int | None
    lag_max: int | None
    lag_items_sum: int | None
    lag_seconds_max: float | None
    time_lag_quality: TimeLagQuality
    produced: Counter  # into every partition of the topic (what the topic document shows)
    consumed: Counter
    retention_ms: int | None
    retention_used: float | None  # time lag as a share of retention.ms: 1.0 means unread data is due for deletion
    # Into the partitions the group has committed to: what catch-up weighs against consumption.
    produced_into_committed: Counter = Counter(None, None)
    partitions_unknown: int = 0
    lag_known_sum: int = 0
    partitions_beyond_log_end: int = 0


class GroupLag(_LagSum):
    cluster: str
    group: str
    state: str
    group_type: str | None
    members: int
    topics: int
    partitions: int
    partitions_without_commit: int
    lag_sum: int | None  # None when partial (see GroupTopicLag)
    lag_max: int | None
    lag_items_sum: int | None
    lag_seconds_max: float | None
    time_lag_quality: TimeLagQuality
    produced: Counter
    consumed: Counter
    catch_up: CatchUp
    catch_up_seconds: float | None
    retention_used_max: float | None
    error: str | None = None
    epoch: int | None = None
    partitions_unknown: int = 0
    lag_known_sum: int = 0
    partitions_beyond_log_end: int = 0


class LagReport(Frozen):
    """One cluster's scrape, turned into lag at every granularity."""

    snapshot: ClusterSnapshot
    partitions: tuple[PartitionLag, ...]
    group_topics: tuple[GroupTopicLag, ...]
    groups: tuple[GroupLag, ...]
