"""ListOffsets, sent to each partition's leader: log-end (LATEST), log-start (EARLIEST), or the first offset
produced at or after a time (the time lag probes).

Partial-failure policy: a failed request leaves all its partitions unread; a per-partition error code leaves
that partition unread (the others are read)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kafka.protocol.consumer import IsolationLevel, ListOffsetsRequest

from exporter.lag.model import TopicPartition

LATEST, EARLIEST = -1, -2


@dataclass(frozen=True)
class ListOffsets:
    """`times`: topic -> partition -> timestamp in epoch ms, or LATEST / EARLIEST. One entry per partition:
    a duplicate partition in one request would fail it (error 42)."""

    times: Mapping[str, Mapping[int, int]]

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
        return cls(by_topic)

    def request(self) -> ListOffsetsRequest:
        Topic = ListOffsetsRequest.ListOffsetsTopic
        Partition = Topic.ListOffsetsPartition
        return ListOffsetsRequest(
            replica_id=-1,
            # Kafka's own tool reads log-end as the high watermark under READ_UNCOMMITTED too.
            isolation_level=IsolationLevel.READ_UNCOMMITTED.value,
            topics=[
                Topic(
                    name=topic,
                    partitions=[
                        Partition(partition_index=p, timestamp=ts, current_leader_epoch=-1)
                        for p, ts in sorted(parts.items())
                    ],
                )
                for topic, parts in sorted(self.times.items())
            ],
        )

    def decode(self, response) -> list[tuple[TopicPartition, int, int]]:
        """(partition, error code, offset) per partition; offset -1: no such record (or an error)."""
        return [
            ((topic.name, partition.partition_index), partition.error_code, partition.offset)
            for topic in response.topics
            for partition in topic.partitions
        ]
