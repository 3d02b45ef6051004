"""What groups have consumed: OffsetFetch (committed offsets, many groups per request) and, for share groups,
DescribeShareGroupOffsets (each share-partition's start offset, which stands where a committed offset would,
and from Kafka 4.2 on the broker's own lag).

Partial-failure policy: a failed request leaves its groups unread; a group-level error code leaves that
group unread (returned with the code); a partition-level error leaves that partition unread (`unread`), the
group's other partitions are read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kafka.protocol.consumer import OffsetFetchRequest

from exporter.kafka.protocol import DescribeShareGroupOffsetsRequest
from exporter.lag.model import TopicPartition

GROUP_ID_NOT_FOUND = 69

_Group = OffsetFetchRequest.OffsetFetchRequestGroup
_new_group = _Group.__new__
# The container's fields as of kafka-python 3: anything else, and request_group uses the constructor.
_SLOTS_KNOWN = {name for cls in _Group.__mro__ for name in getattr(cls, "__slots__", ())} == {
    "group_id", "member_id", "member_epoch", "topics", "tags", "unknown_tags", "_version"}


def request_group(group: str):
    """OffsetFetch's entry for one group, all topics: what `_Group(group_id=group, topics=None)` makes, at a
    fifth of its cost (kafka-python's generic __init__ walks the schema per object, and a request holds
    thousands). The fields not set read their schema defaults, as in the constructor's object; should a
    kafka-python upgrade change the container's slots, the constructor is used instead
    (tests/unit/test_kafka_protocol.py compares the encoded bytes of both)."""
    if not _SLOTS_KNOWN:
        return _Group(group_id=group, topics=None)
    entry = _new_group(_Group)
    entry._version = entry.tags = entry.unknown_tags = entry.topics = None
    entry.group_id = group
    return entry


@dataclass(frozen=True)
class FetchedOffsets:
    """One response, by group (one object per response, not per group: a response holds thousands)."""

    committed: dict[str, dict[TopicPartition, int]]  # groups read; no key: never committed (or see unread)
    unread: dict[str, list[TopicPartition]]  # groups with partition-level errors: those partitions
    broker_lag: dict[str, dict[TopicPartition, int]]  # share groups, Kafka 4.2+: the broker's own lag
    errors: dict[str, int]  # group-level error codes: those groups are unread


@dataclass(frozen=True)
class FetchOffsets:
    """One request for `groups`: OffsetFetch, or DescribeShareGroupOffsets when `share`. Keeps the topics
    `topic` selects."""

    groups: Sequence[str]
    share: bool = False
    topic: Callable[[str], bool] = lambda name: True

    @property
    def api(self) -> str:
        return "DescribeShareGroupOffsets" if self.share else "OffsetFetch"

    @property
    def batch(self) -> str:
        """The collector's name for a batch of these requests, in "<batch> failed: ..." errors."""
        return "share_offsets" if self.share else "offsets"

    def request(self):
        if self.share:
            Group = DescribeShareGroupOffsetsRequest.DescribeShareGroupOffsetsRequestGroup
            return DescribeShareGroupOffsetsRequest(groups=[Group(group_id=g, topics=None) for g in self.groups])
        # max_version 9: v10 replaces topic names with topic ids.
        return OffsetFetchRequest(
            groups=[request_group(g) for g in self.groups],
            require_stable=False,
            min_version=8,
            max_version=9,
        )

    def decode(self, response) -> FetchedOffsets:
        share, selected = self.share, self.topic
        answer = FetchedOffsets({}, {}, {}, {})
        errors, all_committed, unread = answer.errors, answer.committed, answer.unread
        # Per topic name: None when not selected, else its (topic, partition) keys, made once per response
        # (thousands of groups commit to the same few hundred partitions).
        keys: dict[str, dict[int, TopicPartition] | None] = {}
        for row in response.groups:
            group = row.group_id
            if row.error_code:
                errors[group] = row.error_code
                continue
            committed: dict[TopicPartition, int] = {}
            all_committed[group] = committed
            for topic in row.topics:
                name = topic.topic_name if share else topic.name
                try:
                    tps = keys[name]
                except KeyError:
                    tps = keys[name] = {} if selected(name) else None
                if tps is None:
                    continue
                for partition in topic.partitions:
                    index = partition.partition_index
                    tp = tps.get(index)
                    if tp is None:
                        tp = tps[index] = (name, index)
                    if partition.error_code:
                        unread.setdefault(group, []).append(tp)
                        continue
                    offset = partition.start_offset if share else partition.committed_offset
                    if offset >= 0:
                        committed[tp] = offset
                    if share:
                        lag = getattr(partition, "lag", -1)  # v1+ (Kafka 4.2)
                        if lag is not None and lag >= 0:
                            answer.broker_lag.setdefault(group, {})[tp] = lag
        return answer
