"""The collector's partial-failure policy, on scripted answers (no broker): a broker, a coordinator or a
request that fails makes values unknown, never smaller, and never makes a group disappear.

ScriptedWire stands in for KafkaWire (our own class) under the real KafkaClient, answering each kafka-python
request from a small cluster model with plain objects that have the attributes Kafka's responses have: the
request families' builders and decoders run as in production. (tests/unit/test_kafka_collector.py scripts
the decoded answers instead.)"""

from __future__ import annotations

from types import SimpleNamespace as NS

from kafka.errors import KafkaTimeoutError

from exporter.lag import report as lag
from exporter.kafka.client import KafkaClient
from exporter.kafka.collector import Collector
from exporter.kafka.selection import Selection

TOPIC = "orders"


class Cluster:
    """Two brokers; broker 1 leads partition 0 and coordinates g1, broker 2 leads partition 1 and
    coordinates g2. `down` brokers time out; `listing` says which groups each broker lists."""

    def __init__(self):
        self.down: set[int] = set()
        self.listing = {1: ["g1"], 2: ["g2"]}
        self.committed = {"g1": {0: 10, 1: 20}, "g2": {0: 40, 1: 5}}
        self.log_end = {0: 50, 1: 80}
        self.leader = {0: 1, 1: 2}
        self.coordinator = {"g1": 1, "g2": 2}

    def answer(self, request, node):
        name = request.name  # the API (a raw request is a subclass: exporter/kafka/protocol/raw.py)
        if node in self.down:
            return KafkaTimeoutError(f"broker {node} timed out")
        if name == "MetadataRequest":
            return NS(
                brokers=[NS(node_id=n, host="127.0.0.1", port=9000 + n) for n in (1, 2)],
                topics=[NS(name=TOPIC, error_code=0, is_internal=False, topic_id=None, partitions=[
                    NS(partition_index=p, error_code=0, leader_id=self.leader[p]) for p in (0, 1)])],
            )
        if name == "ListGroupsRequest":
            return NS(error_code=0, groups=[
                NS(group_id=g, protocol_type="consumer", group_state="Empty", group_type="classic")
                for g in self.listing[node]])
        if name == "FindCoordinatorRequest":
            return NS(coordinators=[NS(key=g, node_id=self.coordinator[g], error_code=0)
                                    for g in request.coordinator_keys])
        if name == "OffsetFetchRequest":
            groups = []
            for g in (x.group_id for x in request.groups):
                if g not in self.committed:
                    groups.append(NS(group_id=g, error_code=0, topics=[]))
                    continue
                groups.append(NS(group_id=g, error_code=0, topics=[NS(name=TOPIC, partitions=[
                    NS(partition_index=p, committed_offset=o, error_code=0)
                    for p, o in self.committed[g].items()])]))
            return NS(groups=groups)
        if name == "ListOffsetsRequest":
            return NS(topics=[NS(name=t.name, partitions=[
                NS(partition_index=p.partition_index, error_code=0,
                   offset=self.log_end[p.partition_index] if p.timestamp == -1 else 0)
                for p in t.partitions]) for t in request.topics])
        if name == "DescribeConfigsRequest":
            return NS(results=[])
        raise AssertionError(f"unexpected {name}")


class ScriptedWire:
    def __init__(self, cluster: Cluster):
        self.cluster = cluster

    def new_scrape(self):
        pass

    def reset_counts(self):
        return {}

    def least_loaded_node(self, exclude=frozenset()):
        return next(n for n in (1, 2) if n not in self.cluster.down and n not in exclude)

    def use_metadata(self, response, brokers):
        pass

    def api_versions(self, node=None):
        return None, None

    def send_all(self, calls, decoders=None):
        answers = [self.cluster.answer(request, node) for request, node in calls]
        if decoders is None:
            return answers
        return [a if isinstance(a, BaseException) else decode(a) for a, decode in zip(answers, decoders)]

    def send(self, request, node=None):
        result = self.send_all([(request, node if node is not None else self.least_loaded_node())])[0]
        if isinstance(result, BaseException):
            raise result
        return result

    send_any = send

    def close(self):
        pass


def scrape(collector: Collector):
    snapshot = collector.collect()
    report = lag.build_report(snapshot, None, lag.update_histories({}, snapshot, None))
    return snapshot, {g.group: g for g in report.groups}


def new_collector(cluster: Cluster) -> Collector:
    wire = ScriptedWire(cluster)
    return Collector("c", KafkaClient(lambda: wire), Selection())


def test_a_healthy_scrape_reads_both_groups_whole():
    _, groups = scrape(new_collector(Cluster()))
    assert {g: (r.lag_sum, r.partial) for g, r in groups.items()} == {"g1": (100, False), "g2": (85, False)}


def test_a_broker_that_times_out_keeps_its_groups_with_unknown_lag_and_the_others_whole():
    cluster = Cluster()
    collector = new_collector(cluster)
    scrape(collector)  # learns who lists and coordinates what
    cluster.down = {2}
    snapshot, groups = scrape(collector)
    assert set(groups) == {"g1", "g2"}  # g2's broker did not answer ListGroups: still reported
    g1, g2 = groups["g1"], groups["g2"]
    # g1's committed offsets are read, but partition 1's leader (broker 2) is down: its lag is unknown.
    assert (g1.lag_sum, g1.partial, g1.partitions_unknown, g1.lag_known_sum) == (None, True, 1, 40)
    # g2's coordinator is down: nothing read; its last known partitions are unknown, not missing.
    assert (g2.lag_sum, g2.partial, g2.partitions_unknown) == (None, True, 2)
    assert g2.error.startswith("broker 2 did not list its groups") and g2.error.endswith("state as last seen")
    assert {e.scope for e in snapshot.errors} >= {"broker", "group"}
    assert not snapshot.groups_complete


def test_a_fresh_collector_whose_broker_does_not_list_says_its_groups_are_not_complete():
    # Nothing seen before: g2 (listed by broker 2 only) cannot be reported; the snapshot says the listing was
    # incomplete, so no alert of g2 resolves as "no longer reported" (exporter/alerts/engine.py).
    cluster = Cluster()
    cluster.down = {2}
    snapshot, groups = scrape(new_collector(cluster))
    assert "g2" not in groups and not snapshot.groups_complete
    cluster.down = set()
    assert scrape(new_collector(cluster))[0].groups_complete


def test_groups_listed_by_no_broker_stay_while_they_have_commits_and_go_once_they_have_none():
    cluster = Cluster()
    collector = new_collector(cluster)
    scrape(collector)
    cluster.listing = {1: ["g1"], 2: []}  # a coordinator still loading answers with an empty list
    _, groups = scrape(collector)
    assert groups["g2"].lag_sum == 85 and "listed by no broker" in groups["g2"].error
    _, groups = scrape(collector)  # still not listed, still committed: still reported
    assert "g2" in groups
    del cluster.committed["g2"]  # deleted (or its offsets expired)
    _, groups = scrape(collector)
    assert set(groups) == {"g1"}
    _, groups = scrape(collector)
    assert set(groups) == {"g1"}
