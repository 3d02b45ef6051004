"""Every group type on the real broker: KIP-848 `consumer` groups described with ConsumerGroupDescribe,
row for row equal to Kafka's own tool, partitions owned but not committed included."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient

from exporter.collector import Collector, Selection
from exporter.kafka_wire import KafkaWire
from exporter.pipeline import ClusterPipeline
from exporter.report_format import as_json
from tests.harness import JavaConsumer, consumer_group_command, unique, wait_for

pytestmark = pytest.mark.integration


def scrape_group(bootstrap: str, group: str):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test")
    collector = Collector("local", KafkaWire(admin, timeout_s=10), Selection(group={group}.__contains__))
    try:
        return ClusterPipeline(collector, None).run_once()
    finally:
        collector.close()


@pytest.mark.parametrize("auto_commit", [True, False], ids=["committing", "owning-without-commit"])
def test_a_kip848_group_shows_its_state_members_and_owned_partitions_like_kafkas_tool(kafka, bootstrap, auto_commit):
    topic = kafka.create_topic(unique("kip848"), partitions=2)
    kafka.produce(topic, {0: 12, 1: 7})
    group = unique("kip848-group")
    member = JavaConsumer(bootstrap, group, topic, protocol="consumer", auto_commit=auto_commit)
    try:
        def settled():
            rows = {k: v for k, v in consumer_group_command(bootstrap).items() if k[0] == group}
            owned = len(rows) == 2 and all(v["consumer_id"] for v in rows.values())
            committed = all(v["committed"] == {0: 12, 1: 7}[k[2]] for k, v in rows.items())
            return owned and (committed if auto_commit else True) and rows

        theirs = wait_for(settled, timeout=90, interval=1, what="the Java member owning both partitions")
        result = scrape_group(bootstrap, group)
    finally:
        member.stop()
    report = as_json(result.report)
    (g,) = report["groups"]
    assert (g["type"], g["state"], g["members"]) == ("consumer", "Stable", 1)
    ours = {(p["group"], p["topic"], p["partition"]): p for p in report["partitions"]}
    assert set(ours) == set(theirs)
    for key, row in theirs.items():
        assert (ours[key]["committed_offset"], ours[key]["log_end_offset"], ours[key]["lag"]) == (
            row["committed"], row["log_end"], row["lag"])
        assert ours[key]["member_id"] == row["consumer_id"]
        assert ours[key]["client_id"] == member.client_id
    (group_doc,) = [d for d in result.documents if d["lagwatch.doc_type"] == "group"]
    assert group_doc["lagwatch.group.type"] == "consumer" and group_doc["lagwatch.group.epoch"] >= 1
    assert not [e for e in result.report.snapshot.errors if e.scope == "group"]
