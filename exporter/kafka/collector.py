"""The scrape plan: one scrape of one cluster into a ClusterSnapshot, on the plain data the request families
(exporter/kafka/protocol/) decode, through a Client (exporter/kafka/client.py).

Per scrape, whatever the number of groups and partitions: one Metadata request, one ListGroups per broker,
FindCoordinator for groups whose coordinator is not known yet (all at once), one describe request (for
groups that have members, per group type) and one OffsetFetch per coordinator (per `groups_per_request`
groups), two ListOffsets per partition leader (log-end and log-start) and one DescribeConfigs. Committed
offsets are read before log-end offsets, so lag can be overstated by what was produced in between, never
understated or negative. Nothing here joins a group, commits an offset or creates a topic.

Partial-failure policy: a value not read is unknown, never 0 and never missing. A failed request or an
error code makes the values it carried unknown (with a ScrapeError naming the broker, group, topic or
partition); everything else in the scrape is still read and reported.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence

from exporter import logs, versions
from exporter.kafka import access
from exporter.kafka.access import UnreadableTopics
from exporter.kafka.client import ANY_BROKER, Client
from exporter.kafka.groups import GroupReader, batched_find_coordinator, batched_offset_fetch
from exporter.kafka.protocol.describe_configs import DescribeTopicConfigs
from exporter.kafka.protocol.list_offsets import EARLIEST, LATEST, ListOffsets
from exporter.kafka.protocol.metadata import ClusterMetadata, Metadata
from exporter.kafka.selection import Selection
from exporter.kafka.wire import broker_hint, error_name
from exporter.lag.model import (
    ClusterSnapshot,
    GroupObservation,
    PartitionOffsets,
    ScrapeError,
    TopicInfo,
    TopicPartition,
)
from exporter.lag.report import involved_partitions


class UnsupportedBroker(Exception):
    """The cluster runs a Kafka release lagwatch cannot read exactly: the scrape fails with this message."""


def _release(release: tuple[int, ...] | None) -> str | None:
    return ".".join(map(str, release)) if release else None


class Collector:
    """Scrapes one cluster through a Client. Its only state between scrapes is what GroupReader remembers
    (the group coordinator cache, and what brokers listed last), so a scrape of an unchanged cluster sends no
    FindCoordinator at all."""

    def __init__(self, cluster: str, client: Client, selection: Selection, clock=time.time,
                 principal: str = access.principal_of(None)):
        self.cluster = cluster
        self.client = client
        self.selection = selection
        self.clock = clock
        self.principal = principal  # who lagwatch is to the brokers' authorizer: the grants name it
        self.groups = GroupReader(client, selection, principal)
        self._paths: dict[int, tuple] = {}  # per broker, the request path last logged (kafka_broker_path)
        self.unreadable = UnreadableTopics(client, selection, principal)
        self._other_types: dict[str, int] = {}  # groups not reported, by protocol type, as last logged

    def close(self) -> None:
        self.client.close()

    # --- the scrape ---------------------------------------------------------------------------

    def collect(self) -> ClusterSnapshot:
        started = time.monotonic()
        self.client.new_scrape()
        errors: list[ScrapeError] = []
        metadata = self.client.send_any(Metadata(self.selection.topic))
        self._check_releases(metadata.brokers)
        errors.extend(ScrapeError("topic", name, problem) for name, problem in metadata.topic_errors.items())
        groups = self.groups.read(metadata.brokers, errors, metadata.topics, self.unreadable.watch(metadata.topics))
        groups = self.unreadable.resolve(groups, self.groups.held, errors)
        self._no_group_visible(errors)
        involved = read_partitions(groups, metadata.topics)
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
            requests=self.client.take_request_counts(),
            duration_s=time.monotonic() - started,
            groups_complete=self.groups.listed is not None,
        )

    def _no_group_visible(self, errors: list[ScrapeError]) -> None:
        """A principal that may Describe no group sees none (ListGroups leaves them out without a word): an
        error, where the cluster has an authorizer, instead of a healthy-looking scrape of nothing. Groups of
        other protocol types, not reported, are said once."""
        if self.groups.other_types != self._other_types:
            self._other_types = self.groups.other_types
            if self._other_types:
                logs.get().info("groups_not_reported", cluster=self.cluster, by_protocol_type=self._other_types,
                                reason="no consumer offsets to read (Kafka Connect workers, MirrorMaker 2, ...)")
        if self.groups.listed == 0 and self.unreadable.authorizer():
            errors.append(access.no_group_visible(self.principal, self.cluster))

    def _check_releases(self, brokers: Mapping[int, str]) -> None:
        """Refuse a broker older than lagwatch reads (the scrape fails: `up: false`, never a run of partial
        groups that looks healthy); say once per broker which request path it gets."""
        for node in sorted(brokers):
            release = self.client.broker_release(node)
            if release is not None and release < versions.KAFKA_OLDEST:
                raise UnsupportedBroker(
                    f"broker {node} ({brokers[node]}) runs Kafka {_release(release)} (from its ApiVersions answer); "
                    f"lagwatch reads Kafka {_release(versions.KAFKA_OLDEST)} or newer (README: Supported versions)"
                )
            path = (release, batched_offset_fetch(self.client, node), batched_find_coordinator(self.client))
            if self._paths.get(node) != path:
                self._paths[node] = path
                logs.get().info(
                    "kafka_broker_path", cluster=self.cluster, broker=node, release=_release(release),
                    offset_fetch="batched" if path[1] else "per group",
                    find_coordinator="batched" if path[2] else "per group",
                )

    def probe(
        self, snapshot: ClusterSnapshot, rounds: Sequence[Mapping[TopicPartition, float]]
    ) -> list[dict[TopicPartition, tuple[int, float | None]]]:
        """Ask partition leaders, per partition, for the first offset produced at or after a time.

        Each item of `rounds` maps partitions to their own time and becomes one ListOffsets request per
        leader; all rounds are sent at once. Returns, per round and partition, the broker's answer as it is:
        (offset, that record's timestamp in epoch seconds), offset -1 when no record was produced at or after
        the time, timestamp None when the broker gave none (exporter/lag/prober.py reads them). Failed requests
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
                calls.append((ListOffsets.at_times(specs.items()), leader))
                owners.append((index, specs))
        found: list[dict[TopicPartition, tuple[int, float | None]]] = [{} for _ in rounds]
        for (index, specs), answer in zip(owners, self.client.send_all(calls)):
            if isinstance(answer, BaseException):
                continue
            for tp, code, offset, stamp_ms in answer:
                if code or tp not in specs:
                    continue
                found[index][tp] = (offset, stamp_ms / 1000 if offset >= 0 and stamp_ms >= 0 else None)
        return found

    def take_request_counts(self) -> dict[str, int]:
        """Requests sent since the last call, by API (collect() starts and ends with a fresh count)."""
        return self.client.take_request_counts()

    # --- log offsets and retention ----------------------------------------------------------------

    def _offsets_and_retention(
        self, involved: list[TopicPartition], meta: ClusterMetadata, errors: list[ScrapeError]
    ) -> tuple[dict[TopicPartition, PartitionOffsets], dict[str, int]]:
        by_leader: dict[int, list[TopicPartition]] = defaultdict(list)
        for tp in involved:
            leader = meta.leaders.get(tp)
            if leader is not None:
                by_leader[leader].append(tp)
        calls, kinds = [], []
        for leader, tps in by_leader.items():
            for spec in (LATEST, EARLIEST):
                calls.append((ListOffsets.of(tps, spec), leader))
                kinds.append((spec, leader))
        topics = sorted({tp[0] for tp in involved})
        if topics:
            calls.append((DescribeTopicConfigs(topics), ANY_BROKER))
            kinds.append(("configs", None))

        found: dict[int, dict[TopicPartition, int]] = {LATEST: {}, EARLIEST: {}}
        failed: dict[TopicPartition, str] = dict(meta.partition_errors)
        via_broker: set[TopicPartition] = set()  # failed because their leader did: reported once, above
        retention: dict[str, int] = {}
        for (kind, leader), answer in zip(kinds, self.client.send_all(calls)):
            if kind == "configs":
                retention = self._retention(answer, errors)
                continue
            if isinstance(answer, BaseException):
                for tp in by_leader[leader]:
                    failed[tp] = f"ListOffsets to broker {leader} failed: {answer!r}"
                    via_broker.add(tp)
                if kind == LATEST:  # one error for the broker, not one per partition it leads
                    hint = broker_hint(answer, leader, meta.brokers.get(leader))
                    errors.append(ScrapeError("broker", str(leader), f"ListOffsets failed: {answer!r}{hint}"))
                continue
            for tp, code, offset in answer:
                if code:
                    failed[tp] = error_name(code)
                elif offset >= 0:
                    found[kind][tp] = offset

        partitions = {}
        for tp in involved:
            problem = failed.get(tp) if tp not in found[LATEST] else None
            if problem and tp not in via_broker:
                errors.append(ScrapeError("partition", f"{tp[0]}/{tp[1]}", problem))
            partitions[tp] = PartitionOffsets(  # positional, in field order (one per partition and scrape)
                tp[0],  # topic
                tp[1],  # partition
                found[LATEST].get(tp),  # log_end_offset
                found[EARLIEST].get(tp),  # log_start_offset
                meta.leaders.get(tp),  # leader
                problem,  # error
            )
        return partitions, retention

    def _retention(self, answer, errors: list[ScrapeError]) -> dict[str, int]:
        if isinstance(answer, BaseException):
            errors.append(ScrapeError("cluster", self.cluster, f"DescribeConfigs failed: {answer!r}"))
            return {}
        for topic, code in answer.errors.items():
            if access.is_denial(code):
                errors.append(access.denied(self.principal, "DescribeConfigs", "DescribeConfigs", "topic", topic))
            else:
                errors.append(ScrapeError("topic", topic, f"DescribeConfigs: {error_name(code)}"))
        retention = {}
        for topic, configs in answer.configs.items():
            value = configs.get("retention.ms")
            if value is not None:
                try:
                    retention[topic] = int(value)
                except ValueError:
                    pass
        return retention


def read_partitions(groups: Sequence[GroupObservation], topics: Mapping[str, TopicInfo]) -> list[TopicPartition]:
    """The partitions whose log offsets a scrape reads: those the groups involve (lag.involved_partitions)
    that this scrape's metadata has (a commit on a deleted topic has no leader to ask)."""
    read = []
    for tp in involved_partitions(groups, topics):
        info = topics.get(tp[0])
        if info is not None and 0 <= tp[1] < info.partitions:
            read.append(tp)
    return sorted(read)
