"""Metadata: the brokers, and each topic's partitions with their leaders. Asked for all topics, never
creating one (kafka-python's request class defaults allow_auto_topic_creation to True).

Partial-failure policy: a topic-level error leaves the topic out (listed in `topic_errors`); a partition
without a leader or with an error has no leader (listed in `partition_errors`): its log offsets are unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kafka.protocol.metadata import MetadataRequest

from exporter.kafka.wire import error_name
from exporter.lag.model import TopicInfo, TopicPartition


@dataclass
class ClusterMetadata:
    brokers: dict[int, str] = field(default_factory=dict)  # node id -> host:port
    topics: dict[str, TopicInfo] = field(default_factory=dict)  # selected topics that answered
    leaders: dict[TopicPartition, int] = field(default_factory=dict)
    partition_errors: dict[TopicPartition, str] = field(default_factory=dict)
    topic_errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Metadata:
    """Keeps the non-internal topics `topic` selects."""

    topic: Callable[[str], bool] = lambda name: True

    def request(self) -> MetadataRequest:
        return MetadataRequest(topics=None, allow_auto_topic_creation=False)

    def decode(self, response) -> ClusterMetadata:
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
