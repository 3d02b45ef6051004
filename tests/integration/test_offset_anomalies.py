"""A committed offset beyond the log end, on the real broker: shown as Kafka's own tool shows it (negative
lag) in `lagwatch once`, flagged in documents, never subtracted from sums, ERR in the status."""

from __future__ import annotations

from kafka import KafkaAdminClient, TopicPartition
import pytest

from exporter.output import documents
from exporter.alerts.engine import Alerting
from exporter.kafka.collector import Collector, Selection
from exporter.evaluator.status import StatusConfig
from exporter.kafka.client import KafkaClient
from exporter.kafka.wire import KafkaWire
from exporter.runtime.pipeline import ClusterPipeline
from exporter.output.table import as_json
from tests.harness import consumer_group_command, unique

pytestmark = pytest.mark.integration


def test_a_commit_beyond_the_log_end_is_negative_lag_as_kafkas_tool_says_and_flagged(kafka, bootstrap):
    topic = kafka.create_topic(unique("beyond"), partitions=2)
    kafka.produce(topic, {0: 10, 1: 30})
    group = unique("beyond-group")
    kafka.commit(group, {TopicPartition(topic, 0): 60, TopicPartition(topic, 1): 12})  # 50 past the end of 0

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test")
    collector = Collector("local", KafkaClient(lambda: KafkaWire(admin, timeout_s=10)), Selection(group={group}.__contains__))
    alerting = Alerting("local", status_config=StatusConfig(window=3, stop_after_s=120))
    pipeline = ClusterPipeline(collector, None, evaluate=alerting.evaluate)
    try:
        result = pipeline.run_once()
    finally:
        collector.close()
    theirs = consumer_group_command(bootstrap, groups=[group])
    ours = {(p["group"], p["topic"], p["partition"]): p for p in as_json(result.report)["partitions"]}
    for partition in (0, 1):
        key = (group, topic, partition)
        assert ours[key]["lag"] == theirs[key]["lag"]  # -50 and 18, as Kafka's tool prints them
    assert ours[(group, topic, 0)]["lag"] == -50 and ours[(group, topic, 0)]["committed_beyond_log_end"]

    docs = {(d["lagwatch.doc_type"], d.get("kafka.partition.id")): d for d in result.documents}
    beyond = docs[("partition", 0)]
    assert beyond["lagwatch.committed_beyond_log_end"] is True and beyond["lagwatch.committed_beyond_by"] == 50
    assert beyond["lagwatch.lag.messages"] == 0
    assert beyond["lagwatch.status.code"] == "ERR" and beyond["lagwatch.status.reason"] == "committed_beyond_log_end"
    group_doc = docs[("group", None)]
    assert group_doc["lagwatch.lag.messages"] == 18  # the anomaly does not subtract 50 from the sum
    assert group_doc["lagwatch.partitions_beyond_log_end"] == 1
    assert documents.count(result.report, "partition") == len(result.documents)
