"""Kafka's classic group protocol for lagwatch's own coordination group, spoken directly.

FindCoordinator, JoinGroup, SyncGroup, Heartbeat and LeaveGroup, each one request through the member's own
admin connection (exporter/kafka/wire.py), each call blocking for its own answer, every error code mapped
to what the member does next. The member (member.py) drives them; the leader's assignment is
assignment.py's.

Why not kafka-python's KafkaConsumer group membership: in kafka-python 3.0.12 a JoinGroup that outlives the
poll() that started it is only collected by a later poll() while `need_rejoin()` is still true. A rejoin that
the leader starts because its metadata changed after it assigned (it assigns before it has the topic's
partitions, then they arrive) stops being "needed" as soon as the new assignment is computed, so the
finished join is never collected: the member stays "rebalancing" with heartbeats off, the broker removes it
after session.timeout, and it never joins again (issue 31). Here a join is one call that returns with its
generation or raises.

The metadata and assignment bytes are Kafka's consumer protocol (`consumer`, `cooperative-sticky`, owned
partitions in the subscription), so `kafka-consumer-groups.sh --describe` shows the members and their
shards, and replicas running an older lagwatch (kafka-python's assignor) can share a group with these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import kafka.errors as Errors
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
from kafka.protocol.consumer.group import HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest
from kafka.protocol.consumer.metadata import (
    ConsumerProtocolAssignment,
    ConsumerProtocolSubscription,
    ConsumerProtocolType,
)
from kafka.protocol.metadata import CoordinatorType, FindCoordinatorRequest

from exporter.kafka.wire import KafkaWire

PROTOCOL = CooperativeStickyAssignor.name  # "cooperative-sticky"


class GroupError(Exception):
    """A group request that did not succeed; the subclass says what the member does next."""


class RebalanceNeeded(GroupError):
    """The group is rebalancing: join again, keeping the shards owned."""


class NotAMember(GroupError):
    """The coordinator does not know this member or this generation (removed after a missed session, or
    the group moved on): the shards are no longer this process's; join again as a new member."""


class CoordinatorUnavailable(GroupError):
    """The coordinator moved, is loading, or did not answer in time: find it again, then join."""


class GroupRefused(GroupError):
    """A configuration problem only the operator can fix (authorization, the group used by another kind of
    client, a session timeout outside the broker's bounds)."""


_REBALANCE = (Errors.RebalanceInProgressError,)
_NOT_MEMBER = (Errors.UnknownMemberIdError, Errors.IllegalGenerationError, Errors.FencedInstanceIdError)
_COORDINATOR = (
    Errors.NotCoordinatorError, Errors.CoordinatorNotAvailableError, Errors.CoordinatorLoadInProgressError,
    Errors.KafkaConnectionError, Errors.KafkaTimeoutError, Errors.RequestTimedOutError, Errors.NodeNotReadyError,
    Errors.UnknownBrokerIdError,
)
_REFUSED_HINT = {
    Errors.GroupAuthorizationFailedError: "grant Read on the group to lagwatch's principal",
    Errors.InconsistentGroupProtocolError: "another kind of client uses this group id: set coordination.group_id",
    Errors.InvalidSessionTimeoutError: (
        "coordination.session_timeout_s is outside the broker's group.min.session.timeout.ms .. "
        "group.max.session.timeout.ms"
    ),
    Errors.GroupMaxSizeReachedError: "the broker's group.max.size is smaller than the number of replicas",
}


def _raise_for(code: int, request: str) -> None:
    error = Errors.for_code(code)
    if error is Errors.NoError:
        return
    message = f"{request}: {error.__name__}"
    if issubclass(error, _REBALANCE):
        raise RebalanceNeeded(message)
    if issubclass(error, _NOT_MEMBER):
        raise NotAMember(message)
    if issubclass(error, _COORDINATOR):
        raise CoordinatorUnavailable(message)
    hint = _REFUSED_HINT.get(error)
    raise GroupRefused(f"{message} ({hint})" if hint else message)


@dataclass(frozen=True)
class Joined:
    generation: int
    member_id: str
    leader_id: str
    members: Mapping[str, Sequence[int]] = field(default_factory=dict)  # the leader's only: who owns what

    @property
    def leader(self) -> bool:
        return self.member_id == self.leader_id


class GroupClient:
    """One member of one group. Not thread-safe except `heartbeat`, which the heartbeat thread calls while
    the member thread waits or reads."""

    def __init__(self, wire: KafkaWire, group_id: str, topic: str, *, session_timeout_s: float,
                 rebalance_timeout_s: float, request_timeout_s: float):
        self.wire = wire
        self.group_id = group_id
        self.topic = topic
        self.session_ms = int(session_timeout_s * 1000)
        self.rebalance_ms = int(rebalance_timeout_s * 1000)
        self.request_ms = int(request_timeout_s * 1000)
        self.coordinator: str | None = None
        self.member_id = ""  # given by the coordinator at the first JoinGroup (KIP-394)

    def _call(self, request, timeout_ms: int | None = None):
        if self.coordinator is None:
            self.find_coordinator()
        try:
            return self.wire.call(request, self.coordinator, timeout_ms or self.request_ms)
        except _COORDINATOR as exc:
            self.coordinator = None
            raise CoordinatorUnavailable(f"{request.name}: {type(exc).__name__}: {exc}") from None

    def find_coordinator(self) -> str:
        # key + coordinator_keys: kafka-python picks whichever FindCoordinator version the broker has.
        request = FindCoordinatorRequest(key=self.group_id, key_type=0, coordinator_keys=[self.group_id])
        node = self.wire.least_loaded_node()
        if node is None:
            raise CoordinatorUnavailable("FindCoordinator: no broker reachable")
        try:
            response = self.wire.call(request, node, self.request_ms)
        except _COORDINATOR as exc:
            raise CoordinatorUnavailable(f"FindCoordinator: {type(exc).__name__}: {exc}") from None
        found = response.coordinators[0] if getattr(response, "coordinators", None) else response
        _raise_for(found.error_code, "FindCoordinator")
        # A connection of its own to the coordinator, as Kafka's clients keep one.
        self.coordinator = self.wire.cluster.add_coordinator(found, CoordinatorType.GROUP, self.group_id)
        return self.coordinator

    def join(self, owned: Sequence[int]) -> Joined:
        """JoinGroup until the group has a new generation with this member in it. Blocks while the broker
        waits for the other members (at most the rebalance timeout)."""
        metadata = ConsumerProtocolSubscription(
            version=CooperativeStickyAssignor.version, topics=[self.topic], user_data=b"",
            owned_partitions=[ConsumerProtocolSubscription.TopicPartition(topic=self.topic, partitions=sorted(owned))],
        )
        for _ in range(3):  # at most: member id required, then the join itself
            request = JoinGroupRequest(
                group_id=self.group_id, session_timeout_ms=self.session_ms, rebalance_timeout_ms=self.rebalance_ms,
                member_id=self.member_id, group_instance_id=None, protocol_type=ConsumerProtocolType,
                protocols=[(PROTOCOL, metadata)], max_version=7,
            )
            response = self._call(request, timeout_ms=self.rebalance_ms + self.request_ms)
            error = Errors.for_code(response.error_code)
            if error is Errors.MemberIdRequiredError:
                self.member_id = response.member_id
                continue
            if error is Errors.UnknownMemberIdError and self.member_id:
                self.member_id = ""  # removed meanwhile: join as a new member
                continue
            _raise_for(response.error_code, "JoinGroup")
            self.member_id = response.member_id
            members = {}
            if response.leader == response.member_id:
                for member in response.members:
                    subscription = ConsumerProtocolSubscription.decode(member.metadata)
                    members[member.member_id] = [
                        p for tp in (subscription.owned_partitions or []) if tp.topic == self.topic
                        for p in tp.partitions
                    ]
            return Joined(response.generation_id, response.member_id, response.leader, members)
        raise CoordinatorUnavailable("JoinGroup: the coordinator kept refusing the member id")

    def sync(self, joined: Joined, assignments: Mapping[str, Sequence[int]] | None) -> list[int]:
        """SyncGroup: the leader hands in every member's shards; everyone gets its own back."""
        encoded = [
            (member, ConsumerProtocolAssignment(CooperativeStickyAssignor.version, [(self.topic, sorted(shards))], b""))
            for member, shards in (assignments or {}).items()
        ]
        request = SyncGroupRequest(
            group_id=self.group_id, generation_id=joined.generation, member_id=joined.member_id,
            group_instance_id=None, protocol_type=ConsumerProtocolType, protocol_name=PROTOCOL,
            assignments=encoded, max_version=5,
        )
        response = self._call(request)
        if Errors.for_code(response.error_code) is Errors.UnknownMemberIdError:
            self.member_id = ""
        _raise_for(response.error_code, "SyncGroup")
        if not response.assignment:
            return []
        assignment = ConsumerProtocolAssignment.decode(response.assignment)
        return sorted(tp.partition for tp in assignment.partitions() if tp.topic == self.topic)

    def heartbeat(self, generation: int, member_id: str) -> None:
        request = HeartbeatRequest(group_id=self.group_id, generation_id=generation, member_id=member_id,
                                   group_instance_id=None)
        response = self._call(request)
        if Errors.for_code(response.error_code) is Errors.UnknownMemberIdError:
            self.member_id = ""
        _raise_for(response.error_code, "Heartbeat")

    def leave(self) -> None:
        """LeaveGroup: the others get this member's shards at once instead of after the session timeout."""
        if not self.member_id or self.coordinator is None:
            return
        request = LeaveGroupRequest(
            group_id=self.group_id, member_id=self.member_id,
            members=[LeaveGroupRequest.MemberIdentity(member_id=self.member_id, group_instance_id=None,
                                                      reason="lagwatch stopping")],
        )
        try:
            response = self._call(request)
        finally:
            self.member_id = ""
        _raise_for(response.error_code, "LeaveGroup")
