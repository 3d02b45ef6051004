"""The only module that reads from Kafka: one scrape of one cluster into a ClusterSnapshot.

Per scrape, whatever the number of groups and partitions: one Metadata request, one ListGroups per broker,
FindCoordinator for groups whose coordinator is not known yet (all at once), one DescribeGroups (for groups
that have members) and one OffsetFetch per coordinator (per `groups_per_request` groups), two ListOffsets per
partition leader (log-end and log-start) and one DescribeConfigs. Committed offsets are read before log-end offsets, so lag can be overstated by what was
produced in between, never understated or negative. Nothing here joins a group, commits an offset or
creates a topic (Metadata is sent with allow_auto_topic_creation=False).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kafka.protocol.admin import DescribeConfigsRequest, DescribeGroupsRequest, ListGroupsRequest
from kafka.protocol.consumer import (
    ConsumerProtocolAssignment,
    IsolationLevel,
    ListOffsetsRequest,
    OffsetFetchRequest,
)
from kafka.protocol.metadata import FindCoordinatorRequest, MetadataRequest

from exporter.kafka.wire import KafkaWire, error_name
from exporter.kafka.protocol import (
    ConsumerGroupDescribeRequest,
    DescribeShareGroupOffsetsRequest,
    ShareGroupDescribeRequest,
    StreamsGroupDescribeRequest,
)
# Group type -> (describe request class, batch kind); other types (classic, or none on old brokers) use
# DescribeGroups, which knows classic groups only (it answers "not a classic group" for the others).
_DESCRIBE = {
    "consumer": (ConsumerGroupDescribeRequest, "describe_848"),
    "share": (ShareGroupDescribeRequest, "describe_share"),
    "streams": (StreamsGroupDescribeRequest, "describe_streams"),
}
from exporter.lag.model import (
    ClusterSnapshot,
    GroupObservation,
    Member,
    PartitionOffsets,
    ScrapeError,
    TopicInfo,
    TopicPartition,
)

LATEST, EARLIEST = -1, -2
_TOPIC_RESOURCE = 2
# Group protocol types that carry consumer offsets: classic consumers, and commit-only clients (Flink,
# Spark, manual assign) whose groups have no protocol type at all.
# share: KIP-932 share groups (their own offsets API); streams: KIP-1071 streams groups (committed offsets).
_CONSUMER_PROTOCOLS = {"consumer", "", "share", "streams"}
# States in which a group has no members: nothing for DescribeGroups to tell.
_MEMBERLESS_STATES = {"Empty", "Dead"}
# Group-level errors after which the coordinator must be looked up again: COORDINATOR_LOAD_IN_PROGRESS,
# COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR.
_COORDINATOR_MOVED = {14, 15, 16}
_GROUP_ID_NOT_FOUND = 69


@dataclass(frozen=True)
class Selection:
    """Which groups and topics a scrape covers (filters from config, shard from issue #7's --shard)."""

    group: Callable[[str], bool] = lambda name: True
    topic: Callable[[str], bool] = lambda name: not name.startswith("__")
    groups_per_request: int = 2000


@dataclass
class _Metadata:
    brokers: dict[int, str] = field(default_factory=dict)
    topics: dict[str, TopicInfo] = field(default_factory=dict)
    leaders: dict[TopicPartition, int] = field(default_factory=dict)
    partition_errors: dict[TopicPartition, str] = field(default_factory=dict)


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Collector:
    """Scrapes one cluster through a KafkaWire. Its only state between scrapes is the group coordinator
    cache (a scrape of an unchanged cluster then sends no FindCoordinator at all)."""

    def __init__(
        self,
        cluster: str,
        wire: KafkaWire | Callable[[], KafkaWire],
        selection: Selection,
        clock=time.time,
    ):
        self.cluster = cluster
        # A factory defers connecting to the first scrape: a cluster that is down at start-up is then
        # reported as `up: false` and retried every interval instead of stopping the daemon.
        is_wire = hasattr(wire, "send_all")
        self._wire = wire if is_wire else None
        self._wire_factory = None if is_wire else wire
        self.selection = selection
        self.clock = clock
        # group -> coordinator node, kept between scrapes; forgotten when the coordinator moves.
        self._coordinators: dict[str, int] = {}
        # What the last good answers said, for when a broker does not answer: the groups each broker listed
        # (so a group whose broker is down is reported with its error, not dropped) and the partitions
        # each group had committed to (so its lag is unknown there, not missing from the sums).
        self._listed: dict[int, dict[str, tuple[str, str | None, str]]] = {}
        # Groups seen before that no broker lists now, although every broker answered (a coordinator still
        # loading its partitions answers with an empty list): kept until they are listed again or their
        # committed offsets are gone (deleted or expired), never silently dropped.
        self._unconfirmed: dict[str, tuple[str, str | None, str]] = {}
        self._last_committed: dict[str, tuple[TopicPartition, ...]] = {}

    @property
    def wire(self) -> KafkaWire:
        if self._wire is None:
            self._wire = self._wire_factory()
        return self._wire

    def close(self) -> None:
        if self._wire is not None:
            self._wire.close()

    # --- the scrape ---------------------------------------------------------------------------

    def collect(self) -> ClusterSnapshot:
        started = time.monotonic()
        self.wire.new_scrape()
        self.wire.reset_counts()
        errors: list[ScrapeError] = []
        metadata = self._metadata(errors)
        group_states, unlisted = self._list_groups(metadata, errors)
        groups = self._describe_and_fetch(group_states, unlisted, metadata, errors)
        involved = self._involved_partitions(groups, metadata)
        taken_at = self.clock()
        offsets, retention = self._offsets_and_retention(involved, metadata, errors)
        topics = {
            name: TopicInfo(info.name, info.partitions, info.topic_id, retention.get(name))
            for name, info in metadata.topics.items()
        }
        return ClusterSnapshot(
            cluster=self.cluster,
            taken_at=taken_at,
            topics=topics,
            partitions=offsets,
            groups=tuple(groups),
            errors=tuple(errors),
            requests=self.wire.reset_counts(),
            duration_s=time.monotonic() - started,
        )

    def probe(
        self, snapshot: ClusterSnapshot, rounds: Sequence[Mapping[TopicPartition, float]]
    ) -> list[dict[TopicPartition, tuple[float, int]]]:
        """Ask partition leaders, per partition, for the first offset produced at or after a time.

        Each item of `rounds` maps partitions to their own time and becomes one ListOffsets request per
        leader; all rounds are sent at once. Returns, per round, a (time, offset) history point per
        partition; no such record (-1) means the log already ended at today's log-end then. Failed requests
        leave partitions out: probes only refine time lag.
        """
        leaders = {tp: o.leader for tp, o in snapshot.partitions.items() if o.leader is not None}
        calls, owners = [], []
        for index, timestamps in enumerate(rounds):
            by_leader: dict[int, dict[TopicPartition, float]] = defaultdict(dict)
            for tp, ts in timestamps.items():
                if tp in leaders:
                    by_leader[leaders[tp]][tp] = ts
            for leader, specs in by_leader.items():
                calls.append((self._list_offsets_request(specs.items()), leader))
                owners.append((index, specs))
        found: list[dict[TopicPartition, tuple[float, int]]] = [{} for _ in rounds]
        for (index, specs), response in zip(owners, self.wire.send_all(calls)):
            if isinstance(response, BaseException):
                continue
            for tp, code, offset in self._list_offsets_rows(response):
                log_end = snapshot.partitions[tp].log_end_offset
                if code or log_end is None or tp not in specs:
                    continue
                found[index][tp] = (specs[tp], log_end if offset < 0 else offset)
        return found

    def take_request_counts(self) -> dict[str, int]:
        """Requests sent since the last call, by API (collect() starts and ends with a fresh count)."""
        return self.wire.reset_counts()

    # --- steps ----------------------------------------------------------------------------------

    def _metadata(self, errors: list[ScrapeError]) -> _Metadata:
        response = self.wire.send_any(MetadataRequest(topics=None, allow_auto_topic_creation=False))
        self.wire.use_metadata(response)
        meta = _Metadata(brokers={b.node_id: f"{b.host}:{b.port}" for b in response.brokers})
        for topic in response.topics:
            if topic.is_internal or not self.selection.topic(topic.name):
                continue
            problem = error_name(topic.error_code)
            if problem:
                errors.append(ScrapeError("topic", topic.name, problem))
                continue
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

    def _list_groups(
        self, meta: _Metadata, errors: list[ScrapeError]
    ) -> tuple[dict[str, tuple[str, str | None, str]], dict[str, str]]:
        """{group: (state, type, protocol type)} from every broker, and {group: why its state is stale} for
        groups a failed broker listed last time: they stay in the report, with that error, instead of
        vanishing (a lag monitor that drops a group during an outage looks like a healthy one)."""
        brokers = sorted(meta.brokers)
        seen_before = {g: st for listed in self._listed.values() for g, st in listed.items()}
        seen_before.update(self._unconfirmed)
        self._listed = {b: listed for b, listed in self._listed.items() if b in meta.brokers}
        states: dict[str, tuple[str, str | None, str]] = {}
        stale: dict[str, tuple[tuple[str, str | None, str], str]] = {}
        for broker, response in zip(brokers, self.wire.send_all([(ListGroupsRequest(), b) for b in brokers])):
            problem = None
            if isinstance(response, BaseException):
                problem = f"ListGroups failed: {response!r}"
            elif error_name(response.error_code):
                problem = f"ListGroups: {error_name(response.error_code)}"
            if problem:
                errors.append(ScrapeError("broker", str(broker), problem))
                for group, state in self._listed.get(broker, {}).items():
                    stale[group] = (state, f"broker {broker} did not list its groups ({problem}); state as last seen")
                continue
            listed = {}
            for group in response.groups:
                if group.protocol_type not in _CONSUMER_PROTOCOLS or not self.selection.group(group.group_id):
                    continue
                state = getattr(group, "group_state", "") or "Unknown"
                group_type = getattr(group, "group_type", "") or None
                listed[group.group_id] = (state, group_type, group.protocol_type)
            self._listed[broker] = listed
            states.update(listed)
        unlisted = {}
        for group, (state, why) in stale.items():
            if group not in states:  # moved to a broker that answered: that answer wins
                states[group] = state
                unlisted[group] = why
        self._unconfirmed = {
            g: st for g, st in seen_before.items() if g not in states and self.selection.group(g)
        }
        for group, state in self._unconfirmed.items():
            states[group] = state
            unlisted[group] = "listed by no broker this scrape (a coordinator still loading?); state as last seen"
        return states, unlisted

    def _find_coordinators(
        self, names: list[str], meta: _Metadata, group_errors: dict[str, str]
    ) -> dict[str, int]:
        """Each group's coordinator: from the cache of earlier scrapes, asking (FindCoordinator, batched) only
        for groups not in it. Entries pointing at a broker that left the cluster are dropped first."""
        self._coordinators = {g: n for g, n in self._coordinators.items() if n in meta.brokers}
        unknown = [g for g in names if g not in self._coordinators]
        size = self.selection.groups_per_request
        requests = [
            FindCoordinatorRequest(key_type=0, coordinator_keys=list(chunk), min_version=4)
            for chunk in _chunks(unknown, size)
        ]
        responses = self.wire.send_all([(r, self.wire.least_loaded_node()) for r in requests])
        for chunk, response in zip(_chunks(unknown, size), responses):
            if isinstance(response, BaseException):
                for group in chunk:
                    group_errors[group] = f"FindCoordinator failed: {response!r}"
                continue
            for row in response.coordinators:
                problem = error_name(row.error_code)
                if problem:
                    group_errors[row.key] = f"FindCoordinator: {problem}"
                else:
                    self._coordinators[row.key] = row.node_id
        return {g: self._coordinators[g] for g in names if g in self._coordinators}

    def _forget_coordinator(self, group: str) -> None:
        """The coordinator moved or is loading: look it up again on the next scrape."""
        self._coordinators.pop(group, None)

    def _describe_and_fetch(
        self,
        states: dict[str, tuple[str, str | None, str]],
        unlisted: dict[str, str],
        meta: _Metadata,
        errors: list[ScrapeError],
    ) -> list[GroupObservation]:
        names = sorted(states)
        self._last_committed = {g: tps for g, tps in self._last_committed.items() if g in states}
        if not names:
            return []
        group_errors: dict[str, str] = dict(unlisted)
        size = self.selection.groups_per_request
        coordinators = self._find_coordinators(names, meta, group_errors)

        by_coordinator: dict[int, list[str]] = defaultdict(list)
        for group in names:
            if group in coordinators:
                by_coordinator[coordinators[group]].append(group)
        calls, batches = [], []
        OffsetGroup = OffsetFetchRequest.OffsetFetchRequestGroup
        for node, groups in sorted(by_coordinator.items()):
            # Empty groups have no members to describe (ListGroups told us their state): only the others.
            active = [g for g in groups if states[g][0] not in _MEMBERLESS_STATES]
            classic = [g for g in active if states[g][1] not in _DESCRIBE]
            for chunk in _chunks(classic, size):
                calls.append((DescribeGroupsRequest(groups=list(chunk)), node))
                batches.append(("describe", chunk))
            for group_type, (request_class, kind) in _DESCRIBE.items():
                typed = [g for g in active if states[g][1] == group_type]
                for chunk in _chunks(typed, size):
                    calls.append((request_class(group_ids=list(chunk), include_authorized_operations=False), node))
                    batches.append((kind, chunk))
            # A share group has no committed offsets: its progress is each partition's share-partition start
            # offset (and, from Kafka 4.2 on, the broker's own lag), read with DescribeShareGroupOffsets.
            share_groups = [g for g in groups if states[g][1] == "share"]
            ShareGroup = DescribeShareGroupOffsetsRequest.DescribeShareGroupOffsetsRequestGroup
            for chunk in _chunks(share_groups, size):
                request = DescribeShareGroupOffsetsRequest(groups=[ShareGroup(group_id=g, topics=None) for g in chunk])
                calls.append((request, node))
                batches.append(("share_offsets", chunk))
            groups = [g for g in groups if states[g][1] != "share"]
            for chunk in _chunks(groups, size):
                # max_version 9: v10 replaces topic names with topic ids.
                request = OffsetFetchRequest(
                    groups=[OffsetGroup(group_id=g, topics=None) for g in chunk],
                    require_stable=False,
                    min_version=8,
                    max_version=9,
                )
                calls.append((request, node))
                batches.append(("offsets", chunk))
        described: dict[str, tuple[str, object]] = {}
        committed: dict[str, dict[TopicPartition, int]] = {}
        unread: dict[str, list[TopicPartition]] = defaultdict(list)  # partition-level OffsetFetch errors
        broker_lag: dict[str, dict[TopicPartition, int]] = defaultdict(dict)  # share groups, Kafka 4.2+
        for (kind, chunk), response in zip(batches, self.wire.send_all(calls)):
            if isinstance(response, BaseException):
                for group in chunk:
                    group_errors.setdefault(group, f"{kind} failed: {response!r}")
                    self._forget_coordinator(group)
                continue
            if kind.startswith("describe"):
                for row in response.groups:
                    described[row.group_id] = (kind, row)
                    if row.error_code in _COORDINATOR_MOVED:
                        self._forget_coordinator(row.group_id)
            else:
                self._read_offsets(response, kind == "share_offsets", committed, unread, broker_lag, group_errors)

        observations = []
        for group in names:
            if group in self._unconfirmed and group in committed and not committed[group] and not unread.get(group):
                self._unconfirmed.pop(group)  # not listed and nothing committed: deleted or expired
                self._last_committed.pop(group, None)
                continue
            state, group_type, protocol_type = states[group]
            members: tuple[Member, ...] = ()
            kind, row = described.get(group, (None, None))
            problem = group_errors.get(group)
            epoch = None
            if row is not None:
                kip848 = kind in ("describe_848", "describe_share", "describe_streams")
                describe_problem = error_name(row.error_code)
                if describe_problem and describe_problem != "GroupIdNotFoundError":
                    api = {"describe_848": "ConsumerGroupDescribe", "describe_share": "ShareGroupDescribe",
                           "describe_streams": "StreamsGroupDescribe"}.get(kind, "DescribeGroups")
                    problem = problem or f"{api}: {describe_problem}"
                if not describe_problem:  # an error answer's state (Dead) must not replace the listed one
                    state = row.group_state or state
                if kip848:
                    epoch = row.group_epoch
                    if kind == "describe_streams":
                        members = tuple(self._streams_member(m, row.topology) for m in row.members)
                    else:
                        members = tuple(self._kip848_member(m) for m in row.members)
                    protocol_type = {"describe_share": "share", "describe_streams": "streams"}.get(kind, "consumer")
                else:
                    members = tuple(self._member(m, row.protocol_type) for m in row.members)
                    protocol_type = row.protocol_type
            if problem:
                errors.append(ScrapeError("group", group, problem))
            read = group in committed
            if read:
                self._last_committed[group] = tuple(sorted(set(committed[group]) | set(unread.get(group, ()))))
            observations.append(
                GroupObservation(
                    group=group,
                    state=state,
                    protocol_type=protocol_type,
                    group_type=group_type,
                    epoch=epoch,
                    coordinator=coordinators.get(group),
                    members=members,
                    committed=committed.get(group, {}),
                    error=problem,
                    committed_read=read,
                    # Not read this scrape: where the group had committed when last read, its lag is unknown.
                    committed_unread=tuple(unread.get(group, ())) if read else self._last_committed.get(group, ()),
                    broker_lag=dict(broker_lag.get(group, {})),
                )
            )
        return observations

    def _read_offsets(self, response, share: bool, committed, unread, broker_lag, group_errors) -> None:
        """Each group's committed offsets (OffsetFetch), or a share group's share-partition start offsets and
        the broker's lag (DescribeShareGroupOffsets): the start offset stands where a committed offset would.
        A group-level error leaves the group unread; a partition-level one makes that partition unread."""
        api = "DescribeShareGroupOffsets" if share else "OffsetFetch"
        for row in response.groups:
            if row.error_code == _GROUP_ID_NOT_FOUND:
                committed[row.group_id] = {}  # the group is gone: it has committed nothing
                continue
            problem = error_name(row.error_code)
            if problem:
                group_errors.setdefault(row.group_id, f"{api}: {problem}")
                if row.error_code in _COORDINATOR_MOVED:
                    self._forget_coordinator(row.group_id)
                continue
            offsets = {}
            for topic in row.topics:
                name = topic.topic_name if share else topic.name
                if not self.selection.topic(name):
                    continue
                for partition in topic.partitions:
                    tp = (name, partition.partition_index)
                    if error_name(partition.error_code):
                        unread[row.group_id].append(tp)
                        continue
                    offset = partition.start_offset if share else partition.committed_offset
                    if offset >= 0:
                        offsets[tp] = offset
                    lag = getattr(partition, "lag", -1) if share else -1
                    if lag is not None and lag >= 0:
                        broker_lag[row.group_id][tp] = lag
            committed[row.group_id] = offsets

    def _streams_member(self, member, topology) -> Member:
        """A streams member owns tasks: (subtopology, partition); each reads that partition of every source
        topic of its subtopology (KIP-1071)."""
        sources = {st.subtopology_id: st.source_topics for st in (topology.subtopologies or ())} if topology else {}
        assignment = tuple(sorted({
            (topic, p)
            for task in member.assignment.active_tasks
            for topic in sources.get(task.subtopology_id, ())
            if self.selection.topic(topic)
            for p in task.partitions
        }))
        host = (member.client_host or "").lstrip("/")
        return Member(member.member_id, member.client_id, host, assignment)

    def _kip848_member(self, member) -> Member:
        """A KIP-848 member: its assignment comes decoded (topic names and partitions), no assignor bytes."""
        assignment = tuple(
            (tp.topic_name, p)
            for tp in member.assignment.topic_partitions
            if self.selection.topic(tp.topic_name)
            for p in tp.partitions
        )
        host = (member.client_host or "").lstrip("/")
        return Member(member.member_id, member.client_id, host, assignment)

    def _member(self, member, protocol_type: str) -> Member:
        assignment: tuple[TopicPartition, ...] = ()
        if protocol_type == "consumer" and member.member_assignment:
            try:
                decoded = ConsumerProtocolAssignment.decode(member.member_assignment)
                assignment = tuple(
                    (tp.topic, tp.partition)
                    for tp in decoded.partitions()
                    if self.selection.topic(tp.topic)
                )
            except Exception:  # noqa: BLE001 - a client with a custom assignor: members still count
                assignment = ()
        host = (member.client_host or "").lstrip("/")  # Java's InetAddress.toString() prefix
        return Member(member.member_id, member.client_id, host, assignment)

    def _involved_partitions(self, groups: list[GroupObservation], meta: _Metadata) -> list[TopicPartition]:
        topics = {tp[0] for g in groups for tp in g.committed} | {tp[0] for g in groups for tp in g.committed_unread}
        topics |= {tp[0] for g in groups for m in g.members for tp in m.assignment}
        involved = set()
        for topic in topics:
            info = meta.topics.get(topic)
            if info is not None:
                involved.update((topic, p) for p in range(info.partitions))
        return sorted(involved)

    def _offsets_and_retention(
        self, involved: list[TopicPartition], meta: _Metadata, errors: list[ScrapeError]
    ) -> tuple[dict[TopicPartition, PartitionOffsets], dict[str, int]]:
        led = [tp for tp in involved if tp in meta.leaders]
        by_leader = self._by_leader(led, meta.leaders)
        calls, kinds = [], []
        for leader, tps in by_leader.items():
            for spec in (LATEST, EARLIEST):
                calls.append((self._list_offsets_request(tps, spec), leader))
                kinds.append((spec, leader))
        topics = sorted({tp[0] for tp in involved})
        if topics:
            Resource = DescribeConfigsRequest.DescribeConfigsResource
            request = DescribeConfigsRequest(
                resources=[
                    Resource(resource_type=_TOPIC_RESOURCE, resource_name=t, configuration_keys=["retention.ms"])
                    for t in topics
                ],
                include_synonyms=False,
                include_documentation=False,
            )
            calls.append((request, self.wire.least_loaded_node()))
            kinds.append(("configs", None))

        found: dict[int, dict[TopicPartition, int]] = {LATEST: {}, EARLIEST: {}}
        failed: dict[TopicPartition, str] = dict(meta.partition_errors)
        via_broker: set[TopicPartition] = set()  # failed because their leader did: reported once, above
        retention: dict[str, int] = {}
        for (kind, leader), response in zip(kinds, self.wire.send_all(calls)):
            if kind == "configs":
                retention = self._retention(response, errors)
                continue
            if isinstance(response, BaseException):
                for tp in by_leader[leader]:
                    failed[tp] = f"ListOffsets to broker {leader} failed: {response!r}"
                    via_broker.add(tp)
                if kind == LATEST:  # one error for the broker, not one per partition it leads
                    errors.append(ScrapeError("broker", str(leader), f"ListOffsets failed: {response!r}"))
                continue
            for tp, code, offset in self._list_offsets_rows(response):
                problem = error_name(code)
                if problem:
                    failed[tp] = problem
                elif offset >= 0:
                    found[kind][tp] = offset

        partitions = {}
        for tp in involved:
            problem = failed.get(tp) if tp not in found[LATEST] else None
            if problem and tp not in via_broker:
                errors.append(ScrapeError("partition", f"{tp[0]}/{tp[1]}", problem))
            partitions[tp] = PartitionOffsets(
                topic=tp[0],
                partition=tp[1],
                log_end_offset=found[LATEST].get(tp),
                log_start_offset=found[EARLIEST].get(tp),
                leader=meta.leaders.get(tp),
                error=problem,
            )
        return partitions, retention

    def _retention(self, response, errors: list[ScrapeError]) -> dict[str, int]:
        if isinstance(response, BaseException):
            errors.append(ScrapeError("cluster", self.cluster, f"DescribeConfigs failed: {response!r}"))
            return {}
        retention = {}
        for result in response.results:
            if error_name(result.error_code):
                continue
            for entry in result.configs:
                if entry.name == "retention.ms" and entry.value is not None:
                    try:
                        retention[result.resource_name] = int(entry.value)
                    except ValueError:
                        pass
        return retention

    # --- request helpers --------------------------------------------------------------------------

    @staticmethod
    def _by_leader(tps: Iterable[TopicPartition], leaders: dict[TopicPartition, int]) -> dict[int, list]:
        grouped: dict[int, list[TopicPartition]] = defaultdict(list)
        for tp in tps:
            grouped[leaders[tp]].append(tp)
        return grouped

    @staticmethod
    def _list_offsets_request(specs: Iterable, timestamp: int | None = None):
        """One ListOffsets request: `specs` are partitions (all asked for `timestamp`, e.g. LATEST) or
        (partition, epoch seconds) pairs, each partition asked for its own time."""
        Topic = ListOffsetsRequest.ListOffsetsTopic
        Partition = Topic.ListOffsetsPartition
        by_topic: dict[str, dict[int, int]] = defaultdict(dict)  # a duplicate partition would fail (error 42)
        for spec in specs:
            if timestamp is None:
                (topic, partition), seconds = spec
                by_topic[topic][partition] = int(seconds * 1000)
            else:
                topic, partition = spec
                by_topic[topic][partition] = timestamp
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
                for topic, parts in sorted(by_topic.items())
            ],
        )

    @staticmethod
    def _list_offsets_rows(response) -> Iterable[tuple[TopicPartition, int, int]]:
        for topic in response.topics:
            for partition in topic.partitions:
                yield (topic.name, partition.partition_index), partition.error_code, partition.offset
