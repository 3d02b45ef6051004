"""Metadata: the brokers, and each topic's partitions with their leaders. Asked for all topics, never
creating one (kafka-python's request class defaults allow_auto_topic_creation to True).

Partial-failure policy: a topic-level error leaves the topic out (listed in `topic_errors`); a partition
without a leader or with an error has no leader (listed in `partition_errors`): its log offsets are unknown.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from kafka.protocol.metadata import MetadataRequest

from exporter.kafka.protocol.raw import (
    INT16, INT32, RawAnswer, compact_string, raw, skip_compact_string, skip_tags, uvarint,
)
from exporter.kafka.wire import error_name
from exporter.lag.model import TopicInfo, TopicPartition


@dataclass
class ClusterMetadata:
    brokers: dict[int, str] = field(default_factory=dict)  # node id -> host:port
    topics: dict[str, TopicInfo] = field(default_factory=dict)  # selected topics that answered
    leaders: dict[TopicPartition, int] = field(default_factory=dict)
    partition_errors: dict[TopicPartition, str] = field(default_factory=dict)
    topic_errors: dict[str, str] = field(default_factory=dict)
    # With `operations`: what the principal may do on each topic, as Kafka's bit field (bit n: ACL operation n).
    topic_operations: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Metadata:
    """Keeps the non-internal topics `topic` selects. `names`: only these topics, each answered with its own
    error when it cannot be described (UNKNOWN_TOPIC_OR_PARTITION: deleted; TOPIC_AUTHORIZATION_FAILED:
    denied), where the all-topics request leaves out what the principal may not describe without a word."""

    topic: Callable[[str], bool] = lambda name: True
    names: tuple[str, ...] | None = None
    operations: bool = False  # ask for each topic's authorized operations (v8+; `lagwatch check-access`)

    def request(self) -> MetadataRequest:
        # The answer comes back as its bytes (raw.py). Never creating a topic: auto-creation is off (v4+, the
        # only versions an explicit list is sent with; lagwatch reads Kafka 2.1+).
        topics = None if self.names is None else [MetadataRequest.MetadataRequestTopic(name=n) for n in self.names]
        versions = {"min_version": 8 if self.operations else 4} if topics or self.operations else {}
        return raw(MetadataRequest)(topics=topics, allow_auto_topic_creation=False,
                                    include_topic_authorized_operations=self.operations, **versions)

    def decode(self, response) -> ClusterMetadata:
        if isinstance(response, RawAnswer):
            if response.version >= 9:
                return self._decode_bytes(response.body, response.version)
            response = response.decoded()
        meta = ClusterMetadata(brokers={b.node_id: f"{b.host}:{b.port}" for b in response.brokers})
        for topic in response.topics:
            if topic.is_internal or not self.topic(topic.name):
                continue
            problem = error_name(topic.error_code)
            if problem:
                meta.topic_errors[topic.name] = problem
                continue
            # topic_id: Metadata v10+ only.
            topic_id = str(topic.topic_id) if getattr(topic, "topic_id", None) else None
            meta.topics[topic.name] = TopicInfo(topic.name, len(topic.partitions), topic_id)
            if self.operations:
                meta.topic_operations[topic.name] = getattr(topic, "topic_authorized_operations", -2147483648)
            for partition in topic.partitions:
                tp = (topic.name, partition.partition_index)
                problem = error_name(partition.error_code)
                if partition.leader_id is None or partition.leader_id < 0:
                    problem = problem or "LeaderNotAvailableError"
                if problem:
                    meta.partition_errors[tp] = problem
                else:
                    meta.leaders[tp] = partition.leader_id
        return meta

    def _decode_bytes(self, buf: bytes, version: int) -> ClusterMetadata:
        """What `decode` makes of kafka-python's objects, read straight from a flexible (v9+) body
        (MetadataResponse.json: throttle time, brokers[id, host, port, rack, tags], cluster id, controller id,
        topics[error code, name, topic id (v10+), internal, partitions[error code, index, leader, leader epoch,
        replicas, isr, offline replicas, tags], authorized operations, tags], ...)."""
        meta = ClusterMetadata()
        unpack_int32, unpack_int16 = INT32.unpack_from, INT16.unpack_from
        brokers, pos = uvarint(buf, 4)
        for _ in range(brokers - 1):
            (node,) = unpack_int32(buf, pos)
            host, pos = compact_string(buf, pos + 4)
            (port,) = unpack_int32(buf, pos)
            pos = skip_tags(buf, skip_compact_string(buf, pos + 4))  # the rack
            meta.brokers[node] = f"{host}:{port}"
        pos = skip_compact_string(buf, pos) + 4  # the cluster id, the controller id
        topics, pos = uvarint(buf, pos)
        with_id = version >= 10
        for _ in range(topics - 1):
            (code,) = unpack_int16(buf, pos)
            name, pos = compact_string(buf, pos + 2)
            topic_id = None
            if with_id:
                raw_id = buf[pos:pos + 16]
                pos += 16
                if raw_id != _ZERO_UUID:
                    topic_id = str(uuid.UUID(bytes=raw_id))
            internal = buf[pos] != 0
            partitions, pos = uvarint(buf, pos + 1)
            keep = name is not None and not internal and self.topic(name)
            problem = error_name(code) if keep else None
            count = partitions - 1
            for _ in range(count):
                (p_code,) = unpack_int16(buf, pos)
                index, leader = _PARTITION.unpack_from(buf, pos + 2)
                pos += 14  # and the leader epoch
                for _array in range(3):  # replicas, in-sync replicas, offline replicas
                    size, pos = uvarint(buf, pos)
                    pos += 4 * (size - 1) if size else 0
                pos = skip_tags(buf, pos)
                if not keep or problem:
                    continue
                tp = (name, index)
                p_problem = error_name(p_code)
                if leader < 0:
                    p_problem = p_problem or "LeaderNotAvailableError"
                if p_problem:
                    meta.partition_errors[tp] = p_problem
                else:
                    meta.leaders[tp] = leader
            if self.operations and keep and not problem:
                meta.topic_operations[name] = unpack_int32(buf, pos)[0]
            pos = skip_tags(buf, pos + 4)  # after the authorized operations
            if not keep:
                continue
            if problem:
                meta.topic_errors[name] = problem
                continue
            meta.topics[name] = TopicInfo(name, count, topic_id)
        return meta


_PARTITION = struct.Struct(">ii")  # partition index, leader id
_ZERO_UUID = bytes(16)
