"""ListOffsets, sent to each partition's leader: log-end (LATEST), log-start (EARLIEST), or the first offset
produced at or after a time (the time lag probes).

Partial-failure policy: a failed request leaves all its partitions unread; a per-partition error code leaves
that partition unread (the others are read)."""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kafka.protocol.consumer import IsolationLevel, ListOffsetsRequest

from exporter.kafka.protocol.raw import (
    INT32, RawAnswer, Written, bare, compact_length, compact_string, raw, skip_tags, uvarint,
)
from exporter.lag.model import TopicPartition

LATEST, EARLIEST = -1, -2

_Topic = ListOffsetsRequest.ListOffsetsTopic
_Partition = _Topic.ListOffsetsPartition
_bare_partition = bare(_Partition, {"partition_index", "current_leader_epoch", "timestamp", "max_num_offsets"})


def partition_entry(partition: int, timestamp: int):
    """ListOffsets' entry for one partition: what `_Partition(partition_index=..., timestamp=...,
    current_leader_epoch=-1)` makes, without the generic constructor (raw.bare; a request holds one per
    partition: 10,000+ on a wide estate). tests/unit/test_kafka_protocol.py compares the encoded bytes of both."""
    if _bare_partition is None:
        return _Partition(partition_index=partition, timestamp=timestamp, current_leader_epoch=-1)
    entry = _bare_partition()
    entry.partition_index, entry.timestamp, entry.current_leader_epoch = partition, timestamp, -1
    return entry


class _Request(Written, raw(ListOffsetsRequest), init=False):
    """ListOffsets, its flexible versions' (v6+) body written here (raw.Written: kafka-python's generic encoder
    is slow on a request of 10,000+ partitions). Older versions: kafka-python's (tests/unit/test_kafka_raw_decode.py
    compares the bytes of both)."""

    __slots__ = ()

    def writes(self, version: int) -> bool:
        return version >= 6

    def write_body(self, out: bytearray, version: int) -> None:
        out += _HEAD.pack(self.replica_id, self.isolation_level)
        out += compact_length(len(self.topics))
        pack = _ENTRY.pack
        for topic in self.topics:
            name = topic.name.encode()
            out += compact_length(len(name))
            out += name
            out += compact_length(len(topic.partitions))
            for p in topic.partitions:
                out += pack(p.partition_index, p.current_leader_epoch, p.timestamp)  # and no tags
            out += b"\x00"  # the topic's tags
        if version >= 10:
            out += INT32.pack(self.timeout_ms)
        out += b"\x00"


_HEAD = struct.Struct(">ib")  # replica id, isolation level
_ENTRY = struct.Struct(">iiqx")  # partition index, current leader epoch, timestamp, empty tags


@dataclass(frozen=True)
class ListOffsets:
    """`times`: topic -> partition -> timestamp in epoch ms, or LATEST / EARLIEST. One entry per partition:
    a duplicate partition in one request would fail it (error 42)."""

    times: Mapping[str, Mapping[int, int]]
    # The time probes also read the timestamp of the record found: decode gives (partition, error code, offset,
    # record timestamp in epoch ms, -1 when none).
    record_times: bool = False

    @classmethod
    def of(cls, partitions: Iterable[TopicPartition], timestamp: int) -> ListOffsets:
        """All `partitions` asked for one `timestamp` (LATEST, EARLIEST)."""
        by_topic: dict[str, dict[int, int]] = defaultdict(dict)
        for topic, partition in partitions:
            by_topic[topic][partition] = timestamp
        return cls(by_topic)

    @classmethod
    def at_times(cls, specs: Iterable[tuple[TopicPartition, float]]) -> ListOffsets:
        """Each partition asked for its own time, in epoch seconds."""
        by_topic: dict[str, dict[int, int]] = defaultdict(dict)
        for (topic, partition), seconds in specs:
            by_topic[topic][partition] = int(seconds * 1000)
        return cls(by_topic, record_times=True)

    def request(self) -> ListOffsetsRequest:
        return _Request(  # encoded here, and the answer comes back as its bytes (raw.py)
            replica_id=-1,
            # Kafka's own tool reads log-end as the high watermark under READ_UNCOMMITTED too.
            isolation_level=IsolationLevel.READ_UNCOMMITTED.value,
            topics=[
                _Topic(name=topic, partitions=[partition_entry(p, ts) for p, ts in sorted(parts.items())])
                for topic, parts in sorted(self.times.items())
            ],
        )

    def decode(self, response) -> list[tuple]:
        """(partition, error code, offset) per partition, and the record's timestamp after them with
        `record_times`; offset -1: no such record (or an error)."""
        if isinstance(response, RawAnswer):
            if response.version >= 6:
                return _decode_bytes(response.body, response.version, self.record_times)
            response = response.decoded()
        partitions = [(topic.name, p) for topic in response.topics for p in topic.partitions]
        if self.record_times:
            return [((name, p.partition_index), p.error_code, p.offset, p.timestamp) for name, p in partitions]
        return [((name, p.partition_index), p.error_code, p.offset) for name, p in partitions]


_PARTITION = struct.Struct(">ihqq")  # partition index, error code, timestamp, offset


def _decode_bytes(buf: bytes, version: int, record_times: bool = False) -> list[tuple]:
    """What ListOffsets.decode makes of kafka-python's objects, read straight from a flexible (v6+) body
    (ListOffsetsResponse.json: throttle time, topics[name, partitions[index, error code, timestamp, offset,
    leader epoch, tags], tags], tags)."""
    found = []
    append, unpack = found.append, _PARTITION.unpack_from
    topics, pos = uvarint(buf, 4)
    for _ in range(topics - 1):
        name, pos = compact_string(buf, pos)
        partitions, pos = uvarint(buf, pos)
        for _ in range(partitions - 1):
            index, code, stamp, offset = unpack(buf, pos)
            pos = skip_tags(buf, pos + 26)  # after the leader epoch (v4+)
            append(((name, index), code, offset, stamp) if record_times else ((name, index), code, offset))
        pos = skip_tags(buf, pos)
    return found
