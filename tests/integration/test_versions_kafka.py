"""The version matrix, Kafka side. The exactness, request-count and group-type tests of test_collector,
test_offset_anomalies and test_group_types run again, unchanged, against a broker of each other Apache
Kafka release CI tests (exporter/versions.py): `bootstrap` is overridden here, so they talk to that broker,
and Kafka's own ConsumerGroupCommand and Java consumer come from the same release (harness.BROKER_VERSIONS).
The main release runs them in their own modules. One more test puts a classic and a KIP-848 group side by
side on every release, the main one included."""

from __future__ import annotations

import os

import pytest
from kafka import KafkaAdminClient

from exporter.kafka.collector import Collector, Selection
from devstack.versions import KAFKA_MATRIX, KAFKA_VERSION
from exporter.versions import KAFKA_LEGACY
from exporter.kafka.client import KafkaClient
from exporter.kafka.wire import KafkaWire
from exporter.output.table import as_json
from tests.harness import JavaConsumer, consumer_group_command, kafka_version_of, unique, wait_for
from tests.integration import test_collector, test_group_types, test_offset_anomalies

pytestmark = [pytest.mark.integration, pytest.mark.matrix]

# Kafka 2.x has no KIP-848 groups: its own module, tests/integration/test_versions_kafka_2x.py.
MODERN = [v for v in KAFKA_MATRIX if v != KAFKA_LEGACY]
EXTRA = [v for v in MODERN if v != KAFKA_VERSION]


@pytest.fixture(params=EXTRA, ids=[f"kafka-{v}" for v in EXTRA])
def bootstrap(request, kafka_of_version) -> str:
    """The broker of one extra release; every fixture and test of this module that asks for `bootstrap`
    (conftest's `kafka` driver too) gets it."""
    return kafka_of_version(request.param).bootstrap


collector_for = test_collector.collector_for

# Exactness: row by row against Kafka's tool (caught up, lagging, live member, partial commits, commits on a
# deleted topic), and a commit beyond the log end shown as the tool shows it (negative lag).
test_lag_equals_kafka_consumer_group_command_row_by_row = test_collector.test_lag_equals_kafka_consumer_group_command_row_by_row
test_a_commit_beyond_the_log_end_is_negative_lag_as_kafkas_tool_says_and_flagged = (
    test_offset_anomalies.test_a_commit_beyond_the_log_end_is_negative_lag_as_kafkas_tool_says_and_flagged)
# Request counts: ListOffsets per leader whatever the partition count; coordinators reused, Empty groups
# not described.
test_list_offsets_requests_do_not_grow_with_partitions = test_collector.test_list_offsets_requests_do_not_grow_with_partitions
test_later_scrapes_reuse_coordinators_and_skip_describing_empty_groups = (
    test_collector.test_later_scrapes_reuse_coordinators_and_skip_describing_empty_groups)
# Group types: a live KIP-848 member (Kafka's Java consumer, group.protocol=consumer), committing or only
# owning its partitions.
test_a_kip848_group_shows_its_state_members_and_owned_partitions_like_kafkas_tool = (
    test_group_types.test_a_kip848_group_shows_its_state_members_and_owned_partitions_like_kafkas_tool)


@pytest.fixture(params=MODERN, ids=[f"kafka-{v}" for v in MODERN])
def release_bootstrap(request, kafka_of_version) -> str:
    """Every release of the matrix: the main one is the suite's own broker (unless that is a cluster somebody
    else runs, of unknown release), the others are started once."""
    if request.param == KAFKA_VERSION and not os.environ.get("LAGWATCH_TEST_BOOTSTRAP"):
        return request.getfixturevalue("kafka_service").bootstrap
    return kafka_of_version(request.param).bootstrap


def test_a_classic_and_a_kip848_group_side_by_side_are_typed_described_and_exact(release_bootstrap):
    from tests.harness import KafkaDriver

    bootstrap = release_bootstrap
    kafka = KafkaDriver(bootstrap)
    topic = kafka.create_topic(unique("types"), partitions=2)
    kafka.produce(topic, {0: 9, 1: 4})
    classic, kip848 = unique("classic"), unique("kip848")
    member = kafka.consume(classic, topic, count=5, keep_open=True)  # kafka-python: the classic protocol
    java = JavaConsumer(bootstrap, kip848, topic, protocol="consumer")
    groups = {classic, kip848}
    try:
        def settled():
            rows = consumer_group_command(bootstrap, groups=sorted(groups))
            owned = len(rows) == 4 and all(v["consumer_id"] for v in rows.values())
            done = all(v["committed"] == {0: 9, 1: 4}[k[2]] for k, v in rows.items() if k[0] == kip848)
            return owned and done and rows

        theirs = wait_for(settled, timeout=90, interval=1, what="both groups' members owning their partitions")
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test")
        collector = Collector("local", KafkaClient(lambda: KafkaWire(admin, timeout_s=10)), Selection(group=groups.__contains__))
        try:
            snapshot = collector.collect()
        finally:
            collector.close()
    finally:
        java.stop()
        member.close(autocommit=False)
        kafka.close()

    from exporter.lag import report as lag

    report = as_json(lag.build_report(snapshot, None, lag.update_histories({}, snapshot, None)))
    by_group = {g["group"]: (g["type"], g["state"], g["members"]) for g in report["groups"]}
    assert by_group == {classic: ("classic", "Stable", 1), kip848: ("consumer", "Stable", 1)}
    # Each protocol described with its own request, once: DescribeGroups for classic, ConsumerGroupDescribe
    # (API key 69) for the KIP-848 group.
    assert snapshot.requests["DescribeGroups"] == 1 and snapshot.requests["ConsumerGroupDescribe"] == 1
    ours = {(p["group"], p["topic"], p["partition"]): p for p in report["partitions"]}
    assert set(ours) == set(theirs)
    mismatches = [k for k, row in theirs.items() if (
        ours[k]["committed_offset"], ours[k]["log_end_offset"], ours[k]["lag"], ours[k]["member_id"]) != (
        row["committed"], row["log_end"], row["lag"], row["consumer_id"])]
    print(f"Kafka {kafka_version_of(bootstrap)}: {len(theirs)} rows compared with ConsumerGroupCommand, "
          f"{len(mismatches)} mismatches")
    assert not mismatches, {k: (ours[k], theirs[k]) for k in mismatches}
    assert {ours[k]["client_id"] for k in ours if k[0] == kip848} == {java.client_id}
    assert not snapshot.errors


@pytest.mark.parametrize("version", EXTRA)
def test_a_broker_of_each_release_writes_its_log(kafka_of_version, version):
    # A failing matrix test prints the broker's log tail; Kafka 3.x logs through reload4j, which needed a
    # configuration of its own (the broker log of 3.9.2 was empty).
    broker = kafka_of_version(version)
    assert "Kafka Server started" in broker.log_path.read_text()
