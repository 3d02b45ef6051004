"""Least-privileged lagwatch against a broker as production runs it (tests/security/authorizer.py: KRaft with
StandardAuthorizer, SCRAM-SHA-512, allow.everyone.if.no.acl.found=false). Each case of issue #30 on the real
broker: what the principal is granted (tests/security/acl_scenarios.py), what lagwatch shows, and Kafka's own
ConsumerGroupCommand, run as a super user, for the truth. A value lagwatch could not read because of an ACL is
unknown with the grant that fixes it, never a smaller number that looks whole."""

from __future__ import annotations

import subprocess
import sys

import pytest
from kafka import TopicPartition

from exporter import config as config_module
from exporter.lag import report as lag
from exporter.output import documents
from exporter.output.metrics import LagCollector
from exporter.output.table import as_json
from exporter.runtime import wiring
from exporter.runtime.pipeline import ClusterPipeline
from tests.harness import KafkaDriver, consumer_group_command, logged_cycle, unique, wait_for
from tests.security import acl_scenarios as scenarios
from tests.security.authorizer import NOBODY, USER

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def driver(authorizer_kafka):
    made = KafkaDriver(authorizer_kafka.bootstrap)
    yield made
    made.close()


def pipeline_for(kafka, groups: set[str] | None, principal: str = USER) -> ClusterPipeline:
    raw = {"clusters": [kafka.cluster(principal=principal, request_timeout_s=5)]}
    if groups is not None:
        raw["groups"] = {"allow": sorted(groups)}
    config = config_module.parse(raw, environ={})
    return wiring.pipelines(config, None)[0]


def scrape(kafka, groups: set[str] | None, principal: str = USER, pipeline: ClusterPipeline | None = None):
    """One scrape as `principal`: (the cycle's result, its log events, the report as `lagwatch once` prints it)."""
    result, events = logged_cycle(pipeline or pipeline_for(kafka, groups, principal), close=pipeline is None)
    return result, events, as_json(result.report)


def truth(kafka, group: str) -> int:
    """The group's lag as Kafka's own tool shows it to a super user."""
    return sum(row["lag"] or 0 for row in consumer_group_command(kafka.bootstrap, groups=[group]).values())


def scrape_partial(kafka, scenario):
    """One scrape of a scenario's group, a topic of which lagwatch may not describe, checked against Kafka's
    own tool run as a super user: the granted part is a lower bound, never the sum; the group partial; one
    access_denied line. (the cycle's result, its log events, the report as `lagwatch once` prints it, the
    group's row, that line)"""
    result, events, report = scrape(kafka, scenario.groups)
    assert truth(kafka, scenario.group) == scenarios.TRUTH_LAG
    (group,) = report["groups"]
    assert (group["lag"], group["lag_known"], group["partial"]) == (None, scenarios.GRANTED_LAG, True)
    (line,) = [e for e in events if e["event"] == "access_denied"]  # one line per scrape
    return result, events, report, group, line


@pytest.fixture
def scenario(request, authorizer_kafka, driver):
    made = getattr(scenarios, request.param)(authorizer_kafka, driver)
    yield made
    scenarios.close_all(made)


@pytest.mark.parametrize("scenario", ["fully_granted"], indirect=True)
def test_with_the_documented_grants_every_row_is_exact_and_only_describe_is_ever_asked(authorizer_kafka, scenario):
    kafka = authorizer_kafka
    since = kafka.log_position()
    result, _, report = scrape(kafka, scenario.groups)
    theirs = consumer_group_command(kafka.bootstrap, groups=[scenario.group])
    ours = {(p["group"], p["topic"], p["partition"]): p for p in report["partitions"]}
    assert len(theirs) == 4 and set(ours) == set(theirs)
    for key, row in theirs.items():
        assert (ours[key]["committed_offset"], ours[key]["log_end_offset"], ours[key]["lag"], ours[key]["member_id"]) == (
            row["committed"], row["log_end"], row["lag"], row["consumer_id"]), key
    (group,) = report["groups"]
    assert (group["lag"], group["partial"]) == (scenarios.TRUTH_LAG, False) and not report["errors"]
    # The broker's own account: lagwatch never asked to read, write, join, commit or alter anything, and was
    # denied nothing (Read is never needed: time lag comes from ListOffsets).
    decisions = kafka.decisions(since, principal=USER)
    assert decisions and {d.operation for d in decisions} == {"DESCRIBE", "DESCRIBE_CONFIGS"}
    assert all(d.allowed for d in decisions)
    assert {d.request for d in decisions} <= {"Metadata", "ListGroups", "FindCoordinator", "DescribeGroups",
                                             "OffsetFetch", "ListOffsets", "DescribeConfigs"}
    assert all(topic["retention_ms"] is not None for topic in [{"retention_ms": t.retention_ms}
                                                               for t in result.report.snapshot.topics.values()])


@pytest.mark.parametrize("scenario", ["classic_with_live_member"], indirect=True)
def test_a_live_members_topic_the_principal_may_not_describe_is_unknown_and_the_group_partial(
    authorizer_kafka, scenario
):
    result, events, report, group, line = scrape_partial(authorizer_kafka, scenario)
    assert group["partitions_unknown"] == 2
    grant = f"kafka-acls --add --allow-principal User:{USER} --operation Describe --topic {scenario.denied}"
    denied_rows = [p for p in report["partitions"] if p["topic"] == scenario.denied]
    assert len(denied_rows) == 2 and all(p["lag_unknown"] and p["lag"] is None for p in denied_rows)
    (error,) = report["errors"]
    assert error == {"scope": "topic", "name": scenario.denied, "message": (
        f"Metadata on Topic {scenario.denied} denied (group {scenario.group} reads it): {grant}")}
    rows = {d.get("kafka.partition.id"): d for d in result.documents if d["lagwatch.doc_type"] == "partition"
            and d["kafka.topic.name"] == scenario.denied}
    assert all(d["lagwatch.lag.partial"] and d["lagwatch.error"].endswith(grant) for d in rows.values())
    assert line["grants"] == [grant] and not [e for e in events if e["event"] == "scrape_error"]
    (self_doc,) = [d for d in result.documents if d["lagwatch.doc_type"] == "self"]
    assert self_doc["lagwatch.self.partial_groups"] == 1 and grant in self_doc["lagwatch.self.error_messages"][0]


@pytest.mark.parametrize("scenario", ["kip848_with_live_members"], indirect=True)
def test_a_kip848_group_whose_describe_is_denied_on_a_topic_is_partial_never_the_smaller_sum(
    authorizer_kafka, scenario
):
    # ConsumerGroupDescribe answers TOPIC_AUTHORIZATION_FAILED without naming the topic, and OffsetFetch leaves
    # it out unsaid: what was read is a lower bound, the group partial, the error its grant.
    _, _, report, group, line = scrape_partial(authorizer_kafka, scenario)
    (error,) = report["errors"]
    assert (error["scope"], error["name"]) == ("group", scenario.group)
    assert error["message"].startswith(f"ConsumerGroupDescribe on Group {scenario.group} denied (a member is "
                                       f"assigned a topic User:{USER} may not Describe")
    assert group["error"] == error["message"]
    assert len(line["grants"]) == 1 and f"--allow-principal User:{USER} --operation Describe --topic" in line["grants"][0]


@pytest.mark.parametrize("scenario", ["commit_only"], indirect=True)
def test_a_commit_only_group_on_a_denied_topic_is_the_limit_no_client_sees_and_a_prefix_grant_lifts_it(
    authorizer_kafka, scenario
):
    kafka = authorizer_kafka
    _, _, report = scrape(kafka, scenario.groups)
    (group,) = report["groups"]
    # The broker leaves the denied topic out of every answer without an error: lagwatch shows what Kafka's own
    # tool shows with the same rights (docs/access.md: Describe on every topic a watched group commits to).
    as_principal = sum(row["lag"] or 0 for row in scenarios.tool_as(kafka, scenario.group).values())
    assert group["lag"] == as_principal == scenarios.GRANTED_LAG < truth(kafka, scenario.group)
    prefix = scenario.granted.split("-granted-")[0] + "-"  # "commit-": both of the group's topics
    kafka.grant(("topic", prefix, "describe", "prefixed"), ("topic", prefix, "describe_configs", "prefixed"))
    _, _, report = scrape(kafka, scenario.groups)
    (group,) = report["groups"]
    assert (group["lag"], group["partial"]) == (scenarios.TRUTH_LAG, False) and not report["errors"]


@pytest.mark.parametrize("scenario", ["configs_denied"], indirect=True)
def test_describe_configs_denied_is_named_with_its_grant_and_retention_stays_unknown(authorizer_kafka, scenario):
    result, events, report = scrape(authorizer_kafka, scenario.groups)
    grant = f"kafka-acls --add --allow-principal User:{USER} --operation DescribeConfigs --topic {scenario.granted}"
    assert report["errors"] == [{"scope": "topic", "name": scenario.granted,
                                 "message": f"DescribeConfigs on Topic {scenario.granted} denied: {grant}"}]
    assert result.report.snapshot.topics[scenario.granted].retention_ms is None
    (group,) = report["groups"]
    assert (group["lag"], group["partial"]) == (6, False)  # the lag itself is whole
    (line,) = [e for e in events if e["event"] == "access_denied"]
    assert line["grants"] == [grant]
    metrics = "".join(f"{m.name} {s.labels} {s.value}\n" for m in LagCollector(lambda: [_Status(result)], lambda: None)
                      .collect() for s in m.samples if m.name == "lagwatch_access_denied")
    assert metrics == f"lagwatch_access_denied {{'cluster': 'acl', 'scope': 'topic', 'name': '{scenario.granted}'}} 1.0\n"


class _Status:
    """A pipeline's status for the metrics collector, from one cycle's result."""

    def __init__(self, result):
        from exporter.runtime.pipeline import PipelineStatus

        self._status = PipelineStatus("acl", 30.0).after(result.report, result.report.snapshot.taken_at)

    def status(self):
        return self._status


def test_a_principal_with_no_acl_at_all_is_told_it_sees_no_group(authorizer_kafka):
    _, events, report = scrape(authorizer_kafka, None, principal=NOBODY)
    assert report["up"] and report["groups"] == []
    grant = f"kafka-acls --add --allow-principal User:{NOBODY} --operation Describe --group GROUP"
    (error,) = report["errors"]
    assert error["scope"] == "cluster" and error["message"].startswith(f"ListGroups shows no consumer group to User:{NOBODY}")
    (line,) = [e for e in events if e["event"] == "access_denied"]
    assert line["grants"] == [grant]


def test_a_topic_read_before_and_denied_now_is_unknown_not_gone_and_a_deleted_one_is_gone(authorizer_kafka, driver):
    kafka = authorizer_kafka
    kept, revoked, deleted = (driver.create_topic(unique(name), 1) for name in ("kept", "revoked", "deleted"))
    driver.produce(kept, {0: 10})
    driver.produce(revoked, {0: 20})
    driver.produce(deleted, {0: 30})
    group = unique("acl-revoked")
    driver.commit(group, {TopicPartition(kept, 0): 4, TopicPartition(revoked, 0): 5, TopicPartition(deleted, 0): 6})
    kafka.grant(*scenarios.watched(group, kept, revoked, deleted))
    pipeline = pipeline_for(kafka, {group})
    try:
        _, _, before = scrape(kafka, None, pipeline=pipeline)
        assert before["groups"][0]["lag"] == 45 and not before["errors"]
        kafka.revoke("topic", revoked, "describe")
        driver.admin.delete_topics([deleted])
        wait_for(lambda: deleted not in driver.admin.list_topics(), what=f"{deleted} deleted")
        _, _, after = scrape(kafka, None, pipeline=pipeline)
    finally:
        pipeline.collector.close()
    # Gone from the metadata, both: one explicit Metadata request tells denied (TOPIC_AUTHORIZATION_FAILED:
    # unknown, with the grant) from deleted (UNKNOWN_TOPIC_OR_PARTITION: its commits are history, not lag).
    (group_row,) = after["groups"]
    assert (group_row["lag"], group_row["lag_known"], group_row["partial"]) == (None, 6, True)
    assert [(e["scope"], e["name"]) for e in after["errors"]] == [("topic", revoked)]
    unknown = {p["topic"]: p["lag_unknown"] for p in after["partitions"]}
    # The deleted topic's commit is a row while the broker still holds it (as for any deleted topic: lag
    # null, said why), never unknown.
    assert unknown.pop(deleted, False) is False and unknown == {kept: False, revoked: True}


@pytest.mark.parametrize("scenario", ["classic_with_live_member"], indirect=True)
def test_check_access_prints_what_is_granted_missing_and_allowed_beyond_and_exits_1(
    authorizer_kafka, secure_stack, scenario, tmp_path
):
    from tests.harness import write_config
    from tests.security.secure_es import CUT_USER

    kafka, node = authorizer_kafka, secure_stack.elasticsearch
    kafka.grant(("topic", scenario.granted, "read"))  # more than lagwatch uses: listed, not required
    password = tmp_path / "es"
    password.write_text(node.user_password)
    path = write_config(tmp_path / "lagwatch.yaml", {
        "clusters": [kafka.cluster(name="prod", request_timeout_s=5)], "groups": {"allow": [scenario.group]},
        "elasticsearch": {"hosts": [node.url], "username": CUT_USER, "password_file": str(password),
                          "ca_certs": str(secure_stack.certs.ca)}})
    result = subprocess.run([sys.executable, "-m", "exporter.cli", "check-access", "-c", path],
                            capture_output=True, text=True, timeout=180)
    print(result.stdout)  # docs/access.md shows a run of this test
    assert result.returncode == 1, result.stderr
    grant = f"kafka-acls --add --allow-principal User:{USER} --operation Describe --topic {scenario.denied}"
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert lines[0] == f"kafka prod ({kafka.sasl_address}) as User:{USER}"
    assert f"ok Describe Group {scenario.group}" in lines
    assert f"ok Describe, DescribeConfigs Topic {scenario.granted}" in lines
    assert f"more Read Topic {scenario.granted}: allowed, not used by lagwatch" in lines
    assert f"MISSING Describe Topic {scenario.denied}: {grant}" in lines
    # Not granted either, and asked for by check-access itself (the scrape never reads a denied topic's configs).
    configs = grant.replace("--operation Describe ", "--operation DescribeConfigs ")
    assert f"MISSING DescribeConfigs Topic {scenario.denied}: {configs}" in lines
    assert f"elasticsearch ({node.url}/) as user {CUT_USER}" in lines
    assert "ok delete_index on lagwatch-lag*, lagwatch-alerts*" in lines and "ok auto_configure on lagwatch-lag*, lagwatch-alerts*" in lines
    assert lines[-1] == "result: 2 missing"
