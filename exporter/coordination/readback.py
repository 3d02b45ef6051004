"""Reading a gained shard back: its partition of the coordination topic, from the beginning to the end offset
it had when the shard was gained (the state the previous owner left).

The consumer is a plain one (group_id None): it is assigned the partitions being read, never joins a group
and never commits. Only the member thread uses it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from kafka import KafkaConsumer, TopicPartition

from exporter import logs
from exporter.coordination import records


@dataclass
class ReadBack:
    """A gained partition being read."""

    shard: int
    end: int | None = None
    found: dict = field(default_factory=dict)  # (cluster, group) -> state or None (tombstone)
    records: int = 0
    unreadable: int = 0
    started: float = field(default_factory=time.monotonic)

    def restart(self) -> None:
        self.end, self.found, self.records, self.unreadable = None, {}, 0, 0

    def apply(self, record) -> None:
        if self.end is not None and record.offset >= self.end:
            return
        self.records += 1
        key = records.parse_key(record.key)
        if key is None:
            self.unreadable += 1
            return
        try:
            self.found[key] = records.parse_value(record.value)
        except (TypeError, ValueError):
            self.unreadable += 1


class ShardReader:
    def __init__(self, consumer: KafkaConsumer, topic: str):
        self.consumer = consumer
        self.topic = topic
        self.log = logs.get()
        self._reading: dict[int, ReadBack] = {}
        self._assigned = True  # nothing to read: nothing assigned

    def __bool__(self) -> bool:
        return bool(self._reading)

    def add(self, shards: Iterable[int]) -> None:
        for shard in shards:
            self._reading[shard] = ReadBack(shard)
        self._assigned = False

    def drop(self, shards: Iterable[int]) -> None:
        for shard in shards:
            if self._reading.pop(shard, None) is not None:
                self._assigned = False

    def step(self, timeout_ms: int = 100) -> list[ReadBack]:
        """Read what is there; return the shards read to their end (no longer being read)."""
        try:
            if not self._assigned:
                # A new assignment starts every unfinished read again from the beginning.
                partitions = [TopicPartition(self.topic, s) for s in self._reading]
                self.consumer.assign(partitions)
                self.consumer.resume(*partitions)  # paused when read before: kafka-python keeps that across assign()
                for state in self._reading.values():
                    state.restart()
                self._assigned = True
            for shard, state in self._reading.items():
                if state.end is None:
                    tp = TopicPartition(self.topic, shard)
                    self.consumer.seek_to_beginning(tp)
                    state.end = self.consumer.end_offsets([tp])[tp]
            for tp, found in self.consumer.poll(timeout_ms=timeout_ms).items():
                state = self._reading.get(tp.partition)
                for record in found if state is not None else ():
                    state.apply(record)
            done = [
                state for shard, state in self._reading.items()
                if self.consumer.position(TopicPartition(self.topic, shard), timeout_ms=2000) >= state.end
            ]
        except Exception as exc:  # noqa: BLE001 - a slow broker: the next step goes on
            self.log.debug("coordination_read_back_pending", shards=sorted(self._reading), error=str(exc))
            return []
        for state in done:
            del self._reading[state.shard]
            self.consumer.pause(TopicPartition(self.topic, state.shard))
        return done
