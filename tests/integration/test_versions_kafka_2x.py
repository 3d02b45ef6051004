"""The version matrix's Kafka 2.x broker (exporter/versions.py KAFKA_LEGACY, with ZooKeeper): no OffsetFetch v8
or FindCoordinator v4, so every group gets requests of its own, with the same exactness. The exactness tests of
test_collector and test_offset_anomalies run again, unchanged, against it, with Kafka 2.8.2's own
`kafka.admin.ConsumerGroupCommand` as the reference (harness.BROKER_VERSIONS); one test more counts the
per-group requests and reads the start-up line that says which path each broker gets."""

from __future__ import annotations

import pytest
import structlog
from kafka import TopicPartition

from exporter import logs
from exporter.versions import KAFKA_LEGACY
from tests.harness import consumer_group_command, unique
from tests.integration import test_collector, test_offset_anomalies

pytestmark = [pytest.mark.integration, pytest.mark.matrix]


@pytest.fixture
def bootstrap(kafka_of_version) -> str:
    """The Kafka 2.x broker; every fixture and test of this module that asks for `bootstrap` (conftest's
    `kafka` driver too) gets it."""
    return kafka_of_version(KAFKA_LEGACY).bootstrap


collector_for = test_collector.collector_for

test_lag_equals_kafka_consumer_group_command_row_by_row = test_collector.test_lag_equals_kafka_consumer_group_command_row_by_row
test_a_commit_beyond_the_log_end_is_negative_lag_as_kafkas_tool_says_and_flagged = (
    test_offset_anomalies.test_a_commit_beyond_the_log_end_is_negative_lag_as_kafkas_tool_says_and_flagged)
test_list_offsets_requests_do_not_grow_with_partitions = test_collector.test_list_offsets_requests_do_not_grow_with_partitions


def test_each_group_gets_its_own_requests_and_the_start_says_so(kafka, bootstrap, collector_for):
    topic = kafka.create_topic(unique("legacy"), partitions=2)
    kafka.produce(topic, {0: 9, 1: 4})
    groups = [unique("legacy-a"), unique("legacy-b"), unique("legacy-c")]
    for index, group in enumerate(groups):
        kafka.commit(group, {TopicPartition(topic, 0): index + 1, TopicPartition(topic, 1): index})
    collector = collector_for(set(groups))
    logs.configure("info")  # kafka_broker_path is an info line: an earlier test may have left the level higher
    with structlog.testing.capture_logs() as events:
        first, second = collector.collect(), collector.collect()
    assert first.requests["FindCoordinator"] == 3 and "FindCoordinator" not in second.requests
    assert first.requests["OffsetFetch"] == second.requests["OffsetFetch"] == 3
    assert not first.errors and not second.errors
    (path,) = [e for e in events if e["event"] == "kafka_broker_path"]  # once, not every scrape
    assert (path["release"], path["offset_fetch"], path["find_coordinator"]) == ("2.8", "per group", "per group")
    theirs = consumer_group_command(bootstrap, groups=groups)
    ours = {(g.group, tp[0], tp[1]): offset for g in second.groups for tp, offset in g.committed.items()}
    assert ours == {key: row["committed"] for key, row in theirs.items()} and len(ours) == 6
