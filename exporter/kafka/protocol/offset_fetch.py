"""What groups have consumed: OffsetFetch (committed offsets, many groups per request) and, for share groups,
DescribeShareGroupOffsets (each share-partition's start offset, which stands where a committed offset would,
and from Kafka 4.2 on the broker's own lag).

Partial-failure policy: a failed request leaves its groups unread; a group-level error code leaves that
group unread (returned with the code); a partition-level error leaves that partition unread (`unread`), the
group's other partitions are read."""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kafka.protocol.consumer import OffsetFetchRequest

from exporter.kafka.protocol import DescribeShareGroupOffsetsRequest
from exporter.kafka.protocol.raw import (
    INT16, RawAnswer, Written, bare, compact_length, compact_string, raw, skip_compact_string, skip_tags, uvarint,
)
from exporter.lag.model import TopicPartition

GROUP_ID_NOT_FOUND = 69
API_KEY = 9
BATCHED = 8  # the first version with many groups per request (Kafka 3.0+, KIP-709)
_PARTITION = struct.Struct(">iqi")  # partition index, committed offset, committed leader epoch

_Group = OffsetFetchRequest.OffsetFetchRequestGroup
_bare_group = bare(_Group, {"group_id", "member_id", "member_epoch", "topics"})


def request_group(group: str):
    """OffsetFetch's entry for one group, all topics: what `_Group(group_id=group, topics=None)` makes, at a
    fifth of its cost (raw.bare; a request holds thousands). Should a kafka-python upgrade change the
    container's slots, the constructor is used instead (tests/unit/test_kafka_protocol.py compares the encoded
    bytes of both)."""
    if _bare_group is None:
        return _Group(group_id=group, topics=None)
    entry = _bare_group()
    entry.topics = None
    entry.group_id = group
    return entry


class _AllTopicsRequest(Written, raw(OffsetFetchRequest), init=False):
    """OffsetFetch v8/v9 for whole groups (all topics), its body written here (raw.Written). Other versions and
    contents: kafka-python's (tests/unit/test_kafka_raw_decode.py compares the bytes of both)."""

    __slots__ = ()

    def writes(self, version: int) -> bool:
        return version in (8, 9) and not self.require_stable and all(g.topics is None for g in self.groups)

    def write_body(self, out: bytearray, version: int) -> None:
        out += compact_length(len(self.groups))
        # per group: its id; v9: member id null, member epoch -1; topics null (all of them); no tags
        tail = b"\x00\xff\xff\xff\xff\x00\x00" if version == 9 else b"\x00\x00"
        for entry in self.groups:
            name = entry.group_id.encode()
            out += compact_length(len(name))
            out += name
            out += tail
        out += b"\x00\x00"  # require_stable false, no tags


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
    per_group: bool = False  # one group, v2-v7, for a broker older than v8 (Kafka 2.x)

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
        if self.per_group:  # v2 is the first to take "all topics" (null)
            (group,) = self.groups
            return OffsetFetchRequest(group_id=group, topics=None, min_version=2, max_version=BATCHED - 1)
        # max_version 9: v10 replaces topic names with topic ids. The answer comes back as its bytes (raw.py).
        return _AllTopicsRequest(
            groups=[request_group(g) for g in self.groups],
            require_stable=False,
            min_version=8,
            max_version=9,
        )

    def decode(self, response) -> FetchedOffsets:
        if isinstance(response, RawAnswer):
            if response.version in (8, 9) and not self.share:
                return self._decode_bytes(response.body)
            response = response.decoded()
        share, selected = self.share, self.topic
        answer = FetchedOffsets({}, {}, {}, {})
        errors, all_committed, unread = answer.errors, answer.committed, answer.unread
        # Per topic name: None when not selected, else its (topic, partition) keys, made once per response
        # (thousands of groups commit to the same few hundred partitions).
        keys: dict[str, dict[int, TopicPartition] | None] = {}
        if self.per_group:  # v2-v7: one group, its error and topics at the top of the answer
            rows = [(self.groups[0], response.error_code, response.topics)]
        else:
            rows = [(row.group_id, row.error_code, row.topics) for row in response.groups]
        for group, error_code, topics in rows:
            if error_code:
                errors[group] = error_code
                continue
            committed: dict[TopicPartition, int] = {}
            all_committed[group] = committed
            for topic in topics:
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

    def _decode_bytes(self, buf: bytes) -> FetchedOffsets:
        """What `decode` makes of kafka-python's objects, read straight from an OffsetFetch v8/v9 body
        (OffsetFetchResponse.json: throttle time, then groups[id, topics[name, partitions[index, committed
        offset, leader epoch, metadata, error code, tags], tags], error code, tags], tags)."""
        selected = self.topic
        answer = FetchedOffsets({}, {}, {}, {})
        errors, all_committed, unread = answer.errors, answer.committed, answer.unread
        # Per topic name as its bytes: (name, its (topic, partition) keys), or None when not selected.
        topics_by_bytes: dict[bytes, tuple[str, dict[int, TopicPartition]] | None] = {}
        unpack_int16, unpack_partition = INT16.unpack_from, _PARTITION.unpack_from
        groups, pos = uvarint(buf, 4)  # after the throttle time
        for _ in range(groups - 1):
            group, pos = compact_string(buf, pos)
            committed: dict[TopicPartition, int] = {}
            bad: list[TopicPartition] = []
            topics, pos = uvarint(buf, pos)
            for _ in range(topics - 1):
                start = pos
                pos = skip_compact_string(buf, pos)
                raw_name = buf[start:pos]
                try:
                    topic = topics_by_bytes[raw_name]
                except KeyError:
                    name = compact_string(buf, start)[0]
                    topic = topics_by_bytes[raw_name] = (name, {}) if selected(name) else None
                partitions, pos = uvarint(buf, pos)
                for _ in range(partitions - 1):
                    index, offset, _ = unpack_partition(buf, pos)  # (and the leader epoch)
                    pos = skip_compact_string(buf, pos + 16)  # the metadata
                    (code,) = unpack_int16(buf, pos)
                    pos = skip_tags(buf, pos + 2)
                    if topic is None:
                        continue
                    name, tps = topic
                    tp = tps.get(index)
                    if tp is None:
                        tp = tps[index] = (name, index)
                    if code:
                        bad.append(tp)
                    elif offset >= 0:
                        committed[tp] = offset
                pos = skip_tags(buf, pos)
            (code,) = unpack_int16(buf, pos)
            pos = skip_tags(buf, pos + 2)
            if code:
                errors[group] = code
                continue
            all_committed[group] = committed
            if bad:
                unread[group] = bad
        return answer
