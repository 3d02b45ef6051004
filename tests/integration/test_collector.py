"""The collector against a real broker: Kafka's own numbers, few requests, and no trace left behind."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient, TopicPartition

from exporter.lag import report as lag
from exporter.kafka.collector import Collector, Selection
from exporter.kafka.client import KafkaClient
from exporter.kafka.wire import KafkaWire
from exporter.runtime.pipeline import ClusterPipeline
from tests.harness import consumer_group_command, unique, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def collector_for(bootstrap):
    """Build a collector over exactly the given groups (other tests share the broker)."""
    made = []

    def make(groups: set[str]) -> Collector:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test")
        collector = Collector("test", KafkaClient(lambda: KafkaWire(admin, timeout_s=10)), Selection(group=groups.__contains__))
        made.append(collector)
        return collector

    yield make
    for collector in made:
        collector.close()


def report_rows(collector: Collector):
    snapshot = collector.collect()
    report = lag.build_report(snapshot, None, lag.update_histories({}, snapshot, None))
    return snapshot, {(r.group, r.topic, r.partition): r for r in report.partitions}


def test_lag_equals_kafka_consumer_group_command_row_by_row(kafka, bootstrap, collector_for):
    a, b, c = unique("exact-a"), unique("exact-b"), unique("exact-c")
    kafka.create_topic(a, partitions=3)
    kafka.create_topic(b, partitions=2)
    kafka.create_topic(c, partitions=1)
    kafka.produce(a, {0: 10, 1: 5, 2: 7})
    kafka.produce(b, {0: 4, 1: 6})
    kafka.produce(c, {0: 3})
    caught_up, lagging, live = unique("caught-up"), unique("lagging"), unique("live")
    partial, deleted = unique("partial"), unique("deleted-topic")
    kafka.consume(caught_up, a, count=22)  # everything, then leaves: Empty and caught up
    kafka.consume(lagging, a, count=5)  # part, then leaves: Empty and lagging
    member = kafka.consume(live, b, count=3, keep_open=True)  # still a member: Stable
    kafka.commit(partial, {TopicPartition(a, 0): 2})  # partitions 1 and 2 never committed
    kafka.commit(deleted, {TopicPartition(c, 0): 1, TopicPartition(a, 1): 1})
    kafka.admin.delete_topics([c])
    wait_for(lambda: c not in kafka.admin.list_topics(), what=f"{c} deleted")
    groups = {caught_up, lagging, live, partial, deleted}
    try:
        snapshot, ours = report_rows(collector_for(groups))
        theirs = consumer_group_command(bootstrap, groups=sorted(groups))
    finally:
        member.close(autocommit=False)

    assert theirs, "Kafka's tool printed no rows for our groups"
    table = ["GROUP/TOPIC/PARTITION            kafka(committed,log_end,lag)   lagwatch"]
    for key in sorted(theirs):
        row = ours.get(key)
        mine = (row.committed_offset, row.log_end_offset, row.lag) if row else None
        expected = (theirs[key]["committed"], theirs[key]["log_end"], theirs[key]["lag"])
        table.append(f"{'/'.join(map(str, key)):<33}{expected!s:<31}{mine}")
    print("\n".join(table))
    for key, expected in theirs.items():
        row = ours[key]
        assert (row.committed_offset, row.log_end_offset, row.lag) == (
            expected["committed"],
            expected["log_end"],
            expected["lag"],
        ), key
        assert (row.member.member_id if row.member else None) == expected["consumer_id"], key
    # Rows Kafka's tool leaves out: partitions of a consumed topic with no commit (visible, lag unknown),
    # and, while the broker still holds them, commits on the deleted topic (log-end unknown, said why).
    for key in set(ours) - set(theirs):
        row = ours[key]
        if key[1] == c:
            assert row.log_end_offset is None and row.lag is None and "not in topic metadata" in row.error, key
        else:
            assert row.committed_offset is None and row.lag is None, key
    assert {g.group: g.state for g in snapshot.groups} == {
        caught_up: "Empty", lagging: "Empty", live: "Stable", partial: "Empty", deleted: "Empty"
    }
    assert ours[(partial, a, 1)].lag is None and ours[(partial, a, 0)].lag == 8


def test_list_offsets_requests_do_not_grow_with_partitions(kafka, collector_for):
    def scrape_with(partitions: int) -> dict[str, int]:
        topic = kafka.create_topic(unique(f"batch{partitions}"), partitions=partitions)
        kafka.produce(topic, {p: 1 for p in range(partitions)})
        group = unique("batch-group")
        kafka.commit(group, {TopicPartition(topic, p): 1 for p in range(partitions)})
        collector = collector_for({group})
        snapshot = collector.collect()
        assert len(snapshot.partitions) == partitions
        assert all(o.log_end_offset == 1 for o in snapshot.partitions.values())
        leaders = {o.leader for o in snapshot.partitions.values()}
        # One log-end and one log-start request per leader broker, whatever the partition count.
        assert snapshot.requests["ListOffsets"] == 2 * len(leaders)
        return snapshot.requests

    small, large = scrape_with(8), scrape_with(120)
    print(f"requests per scrape: 8 partitions {small}, 120 partitions {large}")
    assert small == large
    assert sum(large.values()) <= 10


def test_later_scrapes_reuse_coordinators_and_skip_describing_empty_groups(kafka, collector_for):
    topic = kafka.create_topic(unique("steady"), partitions=3)
    kafka.produce(topic, {0: 4, 1: 4, 2: 4})
    empty, live = unique("steady-empty"), unique("steady-live")
    kafka.consume(empty, topic, count=5)
    member = kafka.consume(live, topic, count=2, keep_open=True)
    try:
        collector = collector_for({empty, live})
        first, second = collector.collect(), collector.collect()
    finally:
        member.close(autocommit=False)
    assert first.requests["FindCoordinator"] == 1 and "FindCoordinator" not in second.requests
    assert second.requests["DescribeGroups"] == 1  # for the live group only; the Empty one needs none
    assert {g.group: (g.state, len(g.members)) for g in second.groups} == {empty: ("Empty", 0), live: ("Stable", 1)}
    assert {g.group: g.committed for g in first.groups} == {g.group: g.committed for g in second.groups}


def test_scrapes_leave_offsets_members_groups_and_topics_untouched(kafka, collector_for):
    topic = kafka.create_topic(unique("quiet"), partitions=2)
    kafka.produce(topic, {0: 5, 1: 5})
    empty, live = unique("untouched-empty"), unique("untouched-live")
    kafka.consume(empty, topic, count=4)
    member = kafka.consume(live, topic, count=2, keep_open=True)
    try:

        def state():
            groups = sorted(g["group_id"] for g in kafka.admin.list_groups())
            offsets = kafka.admin.list_group_offsets([empty, live])
            described = kafka.admin.describe_groups([empty, live])
            members = {g: sorted(m["member_id"] for m in d["members"]) for g, d in described.items()}
            return groups, offsets, members, sorted(kafka.admin.list_topics())

        before = state()
        # The whole cycle, broker time probes included (the first scrape needs them: lag exists).
        pipeline = ClusterPipeline(collector_for({empty, live}), sink=None, interval_s=0.001)
        results = [pipeline.run_once() for _ in range(10)]
        after = state()
        assert results[0].report.snapshot.requests["ListOffsets"] > 2  # the probes did run
    finally:
        member.close(autocommit=False)
    assert after == before
    assert not any(g.startswith("lagwatch") for g in after[0])


def test_a_selected_group_that_does_not_exist_is_left_out_and_the_others_stay_exact(kafka, collector_for):
    topic = kafka.create_topic(unique("survivor"), partitions=1)
    kafka.produce(topic, {0: 3})
    good, orphan = unique("good"), unique("orphan")
    kafka.commit(good, {TopicPartition(topic, 0): 1})
    ghost = unique("ghost")  # selected by the filter, but no such group exists on the broker
    kafka.commit(orphan, {TopicPartition(topic, 0): 3})
    snapshot, ours = report_rows(collector_for({good, orphan, ghost}))
    assert ours[(good, topic, 0)].lag == 2
    assert ours[(orphan, topic, 0)].lag == 0
    assert {g.group for g in snapshot.groups} == {good, orphan}


def test_an_answer_that_cannot_be_decoded_fails_its_own_request_only(bootstrap):
    from exporter.kafka.protocol.metadata import Metadata

    wire = KafkaWire(KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test"), timeout_s=10)
    try:
        node = wire.least_loaded_node()
        ask = Metadata()

        def broken(response):
            raise ValueError("unreadable")

        results = wire.send_all([(ask.request(), node), (ask.request(), node)], [broken, ask.decode])
        assert isinstance(results[0], ValueError)
        assert results[1] == ask.decode(wire.send(ask.request(), node))  # decoded as it arrived: plain data
    finally:
        wire.close()


def test_the_bytes_decoders_read_the_brokers_answers_as_kafka_python_does(kafka, bootstrap):
    from exporter.kafka.protocol.list_groups import ListGroups
    from exporter.kafka.protocol.list_offsets import LATEST, ListOffsets
    from exporter.kafka.protocol.metadata import Metadata
    from exporter.kafka.protocol.offset_fetch import FetchOffsets
    from exporter.kafka.protocol.raw import RawAnswer

    topic = kafka.create_topic(unique("raw"), partitions=3)
    kafka.produce(topic, {0: 3, 1: 2, 2: 1})
    group = unique("raw-group")
    kafka.commit(group, {TopicPartition(topic, 0): 2, TopicPartition(topic, 2): 1})
    wire = KafkaWire(KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test"), timeout_s=10)
    try:
        node = wire.least_loaded_node()
        for ask, bytes_from in ((Metadata(), 9), (ListGroups(), 3), (FetchOffsets([group, unique("never")]), 8),
                                (ListOffsets.of([(topic, p) for p in range(3)], LATEST), 6)):
            answer = wire.send(ask.request(), node)
            assert isinstance(answer, RawAnswer) and answer.version >= bytes_from  # read from the bytes
            assert ask.decode(answer) == ask.decode(answer.decoded()), type(ask).__name__
        committed = FetchOffsets([group]).decode(wire.send(FetchOffsets([group]).request(), node)).committed
        assert committed == {group: {(topic, 0): 2, (topic, 2): 1}}
    finally:
        wire.close()
