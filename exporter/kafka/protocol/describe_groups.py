"""Describing groups: DescribeGroups for classic groups, and one describe API per newer group type
(KIP-848 consumer, KIP-932 share, KIP-1071 streams groups), each decoded to the same plain DescribedGroup.

Partial-failure policy: a failed request leaves its groups undescribed (their listed state stands); a
per-group error code is returned with that group (an error answer's state must not replace the listed
one: the collector decides)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from kafka.protocol.admin import DescribeGroupsRequest
from kafka.protocol.consumer import ConsumerProtocolAssignment

from exporter.kafka.protocol import (
    ConsumerGroupDescribeRequest,
    ShareGroupDescribeRequest,
    StreamsGroupDescribeRequest,
)
from exporter.lag.model import Member, TopicPartition


@dataclass(frozen=True)
class DescribeApi:
    name: str  # Kafka's name for the API, for error messages
    request: type
    batch: str  # the collector's name for a batch of these requests, in "<batch> failed: ..." errors
    protocol_type: str | None  # what a described group's protocol type is (None: as the answer says)


CLASSIC = DescribeApi("DescribeGroups", DescribeGroupsRequest, "describe", None)
# Group type (ListGroups v5) -> its describe API; other types (classic, or none on old brokers) use
# DescribeGroups, which knows classic groups only (it answers "not a classic group" for the others).
BY_GROUP_TYPE = {
    "consumer": DescribeApi("ConsumerGroupDescribe", ConsumerGroupDescribeRequest, "describe_848", "consumer"),
    "share": DescribeApi("ShareGroupDescribe", ShareGroupDescribeRequest, "describe_share", "share"),
    "streams": DescribeApi("StreamsGroupDescribe", StreamsGroupDescribeRequest, "describe_streams", "streams"),
}


def api_for(group_type: str | None) -> DescribeApi:
    return BY_GROUP_TYPE.get(group_type, CLASSIC)


class DescribedGroup(NamedTuple):
    group_id: str
    error_code: int
    state: str
    protocol_type: str
    epoch: int | None  # the group epoch (KIP-848, share and streams groups)
    members: tuple[Member, ...]
    operations: int | None = None  # with `operations`: what the principal may do on the group (bit field)


@dataclass(frozen=True)
class DescribeGroups:
    """Groups of one type; members' assignments keep only the topics `topic` selects."""

    groups: Sequence[str]
    api: DescribeApi = CLASSIC
    topic: Callable[[str], bool] = lambda name: True
    operations: bool = False  # ask for the authorized operations (`lagwatch check-access`)

    @property
    def batch(self) -> str:
        return self.api.batch

    def request(self):
        if self.api is CLASSIC:
            if self.operations:
                return DescribeGroupsRequest(groups=list(self.groups), include_authorized_operations=True, min_version=3)
            return DescribeGroupsRequest(groups=list(self.groups))
        return self.api.request(group_ids=list(self.groups), include_authorized_operations=self.operations)

    def decode(self, response) -> list[DescribedGroup]:
        if self.api is CLASSIC:
            return [
                DescribedGroup(row.group_id, row.error_code, row.group_state, row.protocol_type, None,
                               tuple(self._member(m, row.protocol_type) for m in row.members),
                               getattr(row, "authorized_operations", None) if self.operations else None)
                for row in response.groups
            ]
        streams = self.api.batch == "describe_streams"
        return [
            DescribedGroup(
                row.group_id, row.error_code, row.group_state, self.api.protocol_type, row.group_epoch,
                tuple(self._streams_member(m, row.topology) for m in row.members) if streams
                else tuple(self._kip848_member(m) for m in row.members),
                getattr(row, "authorized_operations", None) if self.operations else None,
            )
            for row in response.groups
        ]

    def _member(self, member, protocol_type: str) -> Member:
        assignment: tuple[TopicPartition, ...] = ()
        if protocol_type == "consumer" and member.member_assignment:
            try:
                decoded = ConsumerProtocolAssignment.decode(member.member_assignment)
                assignment = tuple((tp.topic, tp.partition) for tp in decoded.partitions() if self.topic(tp.topic))
            except Exception:  # noqa: BLE001 - a client with a custom assignor: members still count
                assignment = ()
        return Member(member.member_id, member.client_id, _host(member.client_host), assignment)

    def _kip848_member(self, member) -> Member:
        """A KIP-848 member: its assignment comes decoded (topic names and partitions), no assignor bytes."""
        assignment = tuple(
            (tp.topic_name, p)
            for tp in member.assignment.topic_partitions
            if self.topic(tp.topic_name)
            for p in tp.partitions
        )
        return Member(member.member_id, member.client_id, _host(member.client_host), assignment)

    def _streams_member(self, member, topology) -> Member:
        """A streams member owns tasks: (subtopology, partition); each reads that partition of every source
        topic of its subtopology (KIP-1071)."""
        sources = {st.subtopology_id: st.source_topics for st in (topology.subtopologies or ())} if topology else {}
        assignment = tuple(sorted({
            (topic, p)
            for task in member.assignment.active_tasks
            for topic in sources.get(task.subtopology_id, ())
            if self.topic(topic)
            for p in task.partitions
        }))
        return Member(member.member_id, member.client_id, _host(member.client_host), assignment)


def _host(client_host: str | None) -> str:
    return (client_host or "").lstrip("/")  # Java's InetAddress.toString() prefix
