"""Every group type on the real broker: KIP-848 `consumer` groups described with ConsumerGroupDescribe,
row for row equal to Kafka's own tool, partitions owned but not committed included."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient

from exporter.kafka.collector import Collector, Selection
from exporter.kafka.client import KafkaClient
from exporter.kafka.wire import KafkaWire
from exporter.runtime.pipeline import ClusterPipeline
from exporter.output.table import as_json
from tests.harness import JavaConsumer, consumer_group_command, unique, wait_for

pytestmark = pytest.mark.integration


def scrape_group(bootstrap: str, group: str):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test")
    collector = Collector("local", KafkaClient(lambda: KafkaWire(admin, timeout_s=10)), Selection(group={group}.__contains__))
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
            rows = consumer_group_command(bootstrap, groups=[group])
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


SHARE_KAFKA = "4.4.0"  # share groups on by default, DescribeShareGroupOffsets v1 carries the broker's lag


def share_group_command(bootstrap: str, group: str) -> dict[tuple[str, str, int], tuple[int | None, int | None]]:
    """Kafka's own `kafka-share-groups --describe`: {(group, topic, partition): (start offset, lag)}."""
    from devstack.kafka import run_kafka_tool

    result = run_kafka_tool("org.apache.kafka.tools.consumer.group.ShareGroupCommand",
                            ["--bootstrap-server", bootstrap, "--describe", "--group", group], version=SHARE_KAFKA)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {}
    for line in result.stdout.splitlines():
        cells = line.split()
        if len(cells) == 5 and cells[0] == group and cells[2].isdigit():
            rows[(cells[0], cells[1], int(cells[2]))] = tuple(None if c == "-" else int(c) for c in cells[3:5])
    return rows


def test_a_share_group_is_reported_row_for_row_as_kafkas_share_group_command_shows_it(kafka_of_version):
    from tests.harness import KafkaDriver

    broker = kafka_of_version(SHARE_KAFKA)
    driver = KafkaDriver(broker.bootstrap)
    topic = driver.create_topic(unique("share"), partitions=2)
    group = unique("share-group")
    from devstack.kafka import run_kafka_tool

    # Share groups start at the latest offset by default; earliest makes the test independent of when the
    # member first fetches.
    configured = run_kafka_tool("org.apache.kafka.tools.ConfigCommand", [
        "--bootstrap-server", broker.bootstrap, "--alter", "--entity-type", "groups", "--entity-name", group,
        "--add-config", "share.auto.offset.reset=earliest"], version=SHARE_KAFKA)
    assert configured.returncode == 0, configured.stderr[-2000:]
    member = JavaConsumer(broker.bootstrap, group, topic, share=True, version=SHARE_KAFKA)
    try:
        driver.produce(topic, {0: 10, 1: 5})  # read and acknowledged by the live member
        # The broker's lag drops to 0 once the member acknowledged what it read (the share-partition start
        # offset itself moves later, when the broker's state is persisted).
        wait_for(lambda: (rows := share_group_command(broker.bootstrap, group)) and
                 all(lag == 0 for _, lag in rows.values()), timeout=90, interval=1,
                 what="the member acknowledging what it read")
    finally:
        member.stop()
    driver.produce(topic, {0: 7, 1: 2})  # nobody reads these: the group's lag
    theirs = wait_for(lambda: (rows := share_group_command(broker.bootstrap, group)) and
                      sorted(lag for _, lag in rows.values()) == [2, 7] and rows,
                      timeout=60, interval=1, what="the share group's lag")
    result = scrape_group(broker.bootstrap, group)
    driver.close()
    report = as_json(result.report)
    (g,) = report["groups"]
    assert g["type"] == "share"
    ours = {(p["group"], p["topic"], p["partition"]): (p["committed_offset"], p["lag"]) for p in report["partitions"]}
    assert ours == theirs, (ours, theirs)
    assert g["lag"] == sum(lag for _, lag in theirs.values())
    (group_doc,) = [d for d in result.documents if d["lagwatch.doc_type"] == "group"]
    assert group_doc["lagwatch.group.type"] == "share"
    assert not [e for e in result.report.snapshot.errors if e.scope == "group"]


def streams_group_command(bootstrap: str, group: str) -> dict[tuple[str, str, int], dict[str, int | None]]:
    """Kafka's own `kafka-streams-groups --describe --offsets` (columns GROUP TOPIC PARTITION OFFSET-LAG on
    4.4), rows keyed by (group, topic, partition)."""
    from devstack.kafka import run_kafka_tool

    result = run_kafka_tool("org.apache.kafka.tools.streams.StreamsGroupCommand",
                            ["--bootstrap-server", bootstrap, "--describe", "--offsets", "--group", group],
                            version=SHARE_KAFKA)
    if result.returncode != 0 and "not found" in result.stderr:
        return {}  # the application has not joined yet
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [line.split() for line in result.stdout.splitlines() if line.strip()]
    header = next(cells for cells in lines if cells[0] == "GROUP")
    rows = {}
    for cells in lines:
        if cells[0] != group or len(cells) != len(header):
            continue
        row = dict(zip(header, cells))
        value = {k: None if v == "-" else int(v) for k, v in row.items() if k not in ("GROUP", "TOPIC")}
        rows[(group, row["TOPIC"], int(row["PARTITION"]))] = value
    return rows


def test_a_streams_group_is_reported_with_its_members_and_the_lag_kafkas_tool_shows(kafka_of_version):
    from tests.harness import KafkaDriver, StreamsApp

    broker = kafka_of_version(SHARE_KAFKA)  # streams.version 1 is on by default from 4.4
    driver = KafkaDriver(broker.bootstrap)
    topic = driver.create_topic(unique("streams"), partitions=2)
    driver.produce(topic, {0: 10, 1: 4})
    group = unique("streams-app")
    app = StreamsApp(broker.bootstrap, group, topic, SHARE_KAFKA)
    try:
        theirs = wait_for(lambda: (rows := streams_group_command(broker.bootstrap, group)) and len(rows) == 2
                          and all(r.get("OFFSET-LAG") == 0 for r in rows.values()) and rows,
                          timeout=120, interval=2, what="the streams app committing both partitions")
        result = scrape_group(broker.bootstrap, group)
    finally:
        app.stop()
        driver.close()
    report = as_json(result.report)
    (g,) = report["groups"]
    assert (g["type"], g["state"], g["members"]) == ("streams", "Stable", 1)
    ours = {(p["group"], p["topic"], p["partition"]): p for p in report["partitions"]}
    assert set(ours) == set(theirs)
    for key, row in theirs.items():
        assert ours[key]["lag"] == row["OFFSET-LAG"]
        assert ours[key]["committed_offset"] == {0: 10, 1: 4}[key[2]] == ours[key]["log_end_offset"]
        assert ours[key]["client_id"] is not None and ours[key]["client_id"].startswith(group)
    assert not [e for e in result.report.snapshot.errors if e.scope == "group"]
