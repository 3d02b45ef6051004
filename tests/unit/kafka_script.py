"""A scripted Client (exporter/kafka/client.py) answering the collector's requests with decoded plain data
from a small cluster model: no broker, no kafka-python response objects. Used by tests/unit/test_kafka_*.py."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from exporter.kafka.client import ANY_BROKER
from exporter.kafka.protocol.describe_acls import DescribeAcls
from exporter.kafka.protocol.describe_configs import DescribeTopicConfigs, TopicConfigs
from exporter.kafka.protocol.describe_groups import DescribedGroup, DescribeGroups
from exporter.kafka.protocol.find_coordinator import FindCoordinators
from exporter.kafka.protocol.list_groups import ListedGroups, ListGroups
from exporter.kafka.protocol.list_offsets import EARLIEST, LATEST, ListOffsets
from exporter.kafka.protocol.metadata import ClusterMetadata, Metadata
from exporter.kafka.protocol.offset_fetch import FetchedOffsets, FetchOffsets
from exporter.lag.model import Member, TopicInfo


class Silent(Exception):
    """What a request to a broker that does not answer ends with (KafkaWire returns the exception)."""


@dataclass
class Group:
    coordinator: int
    committed: dict = field(default_factory=dict)  # (topic, partition) -> offset
    state: str = "Empty"
    group_type: str | None = "classic"
    members: tuple[Member, ...] = ()
    protocol_type: str = "consumer"  # "connect": a Kafka Connect or MirrorMaker 2 workers' group


@dataclass
class Script:
    """Two brokers by default; topic "orders" with partition 0 led by broker 1 and partition 1 by broker 2."""

    brokers: dict = field(default_factory=lambda: {1: "b1:9092", 2: "b2:9092"})
    partitions: dict = field(default_factory=lambda: {"orders": 2})
    leaders: dict = field(default_factory=lambda: {("orders", 0): 1, ("orders", 1): 2})
    log_end: dict = field(default_factory=lambda: {("orders", 0): 50, ("orders", 1): 80})
    groups: dict = field(default_factory=dict)  # name -> Group
    down: set = field(default_factory=set)  # brokers that do not answer
    failures: dict = field(default_factory=dict)  # what a request to a down broker ends with (default: Silent)
    legacy: bool = False  # Kafka 2.x brokers
    denied_configs: set = field(default_factory=set)  # topics whose DescribeConfigs is denied
    # An authorizer: topics the principal may not Describe (left out of "everything" answers, an error when
    # named), and whether DescribeAcls says an authorizer is on.
    denied_topics: set = field(default_factory=set)
    authorizer: bool = False
    release: tuple | None = None  # what ApiVersions says the brokers run (default: 2.8 if legacy, else 4.1)
    # Error codes to answer with, once or always: (api, key) -> code. api: "find" (key group), "offsets"
    # (key group), "offsets_partition" (key (group, tp)), "describe" (key group), "list_offsets" (key tp).
    codes: dict = field(default_factory=dict)
    sent: list = field(default_factory=list)  # (request, node) in order

    def sent_of(self, kind: type) -> list:
        return [(r, n) for r, n in self.sent if isinstance(r, kind)]

    def count(self) -> Counter:
        return Counter(type(r).__name__ for r, _ in self.sent)


class ScriptedClient:
    def __init__(self, script: Script):
        self.script = script
        self.closed = False

    def new_scrape(self) -> None:
        self.script.sent.clear()

    def take_request_counts(self) -> dict[str, int]:
        return dict(self.script.count())

    def close(self) -> None:
        self.closed = True

    def supports(self, node, api_key: int, version: int) -> bool:
        return not self.script.legacy  # a Kafka 2.x cluster: no batched FindCoordinator or OffsetFetch

    def broker_release(self, node=ANY_BROKER):
        return self.script.release or ((2, 8) if self.script.legacy else (4, 1))

    def send_any(self, request):
        answer = self.send_all([(request, ANY_BROKER)])[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def send_all(self, calls):
        return [self._answer(request, node) for request, node in calls]

    def _answer(self, request, node):
        s = self.script
        if node is ANY_BROKER:
            node = min(b for b in s.brokers if b not in s.down) if set(s.brokers) - s.down else 1
        s.sent.append((request, node))
        if node in s.down:
            return s.failures.get(node) or Silent(f"broker {node} timed out")
        if isinstance(request, Metadata):
            visible = {t: n for t, n in s.partitions.items() if request.topic(t) and t not in s.denied_topics}
            if request.names is not None:
                visible = {t: n for t, n in visible.items() if t in request.names}
            errors = {t: "TopicAuthorizationFailedError" if t in s.denied_topics else "UnknownTopicOrPartitionError"
                      for t in (request.names or ()) if t not in visible}
            return ClusterMetadata(
                brokers=dict(s.brokers),
                topics={t: TopicInfo(t, n) for t, n in visible.items()},
                leaders={tp: n for tp, n in s.leaders.items() if n is not None and tp[0] in visible},
                partition_errors={tp: "LeaderNotAvailableError" for tp, n in s.leaders.items()
                                  if n is None and tp[0] in visible},
                topic_errors=errors,
            )
        if isinstance(request, DescribeAcls):
            return 31 if s.authorizer else 54  # CLUSTER_AUTHORIZATION_FAILED, SECURITY_DISABLED
        if isinstance(request, ListGroups):
            return ListedGroups(0, {name: (g.state, g.group_type, g.protocol_type)
                                    for name, g in s.groups.items() if g.coordinator == node})
        if isinstance(request, FindCoordinators):
            return [(name, s.groups[name].coordinator, s.codes.get(("find", name), 0)) for name in request.groups]
        if isinstance(request, DescribeGroups):
            return [DescribedGroup(name, s.codes.get(("describe", name), 0), s.groups[name].state, "consumer", None,
                                   s.groups[name].members) for name in request.groups]
        if isinstance(request, FetchOffsets):
            answer = FetchedOffsets({}, {}, {}, {})
            for name in request.groups:
                code = s.codes.get(("offsets", name), 0)
                if code:
                    answer.errors[name] = code
                    continue
                answer.committed[name] = {}
                for tp, offset in s.groups[name].committed.items():
                    if tp[0] in s.denied_topics:
                        continue  # left out without a word, as a broker with an authorizer does
                    if s.codes.get(("offsets_partition", (name, tp))):
                        answer.unread.setdefault(name, []).append(tp)
                    else:
                        answer.committed[name][tp] = offset
            return answer
        if isinstance(request, ListOffsets):
            rows = []
            for topic, parts in request.times.items():
                for p, ts in parts.items():
                    tp = (topic, p)
                    code = s.codes.get(("list_offsets", tp), 0)
                    offset = -1 if code else s.log_end[tp] if ts == LATEST else 0 if ts == EARLIEST else 7
                    rows.append((tp, code, offset))
            return rows
        if isinstance(request, DescribeTopicConfigs):
            return TopicConfigs({t: {"retention.ms": "604800000"} for t in request.topics if t not in s.denied_configs},
                                {t: 29 for t in request.topics if t in s.denied_configs})
        raise AssertionError(f"unexpected request {request!r}")
