"""Authorization on scripted answers (tests/unit/kafka_script.py, no broker): what a broker with an authorizer
leaves out without a word, or answers with an error, becomes unknown with the grant that fixes it; never a
smaller number that looks whole. (tests/integration/test_authorizer.py: the same on a real broker.)"""

from __future__ import annotations

from exporter.kafka import access
from exporter.kafka.collector import Collector
from exporter.kafka.protocol.metadata import Metadata
from exporter.kafka.selection import Selection
from exporter.lag import report as lag
from exporter.lag.model import Member
from tests.unit.kafka_script import Group, Script, ScriptedClient

PRINCIPAL = "User:lagwatch"
ORDERS, PAYMENTS = ("orders", 0), ("payments", 0)


def script(**changes) -> Script:
    """orders (granted) and payments, one partition each; group g committed 10 on both."""
    made = Script(partitions={"orders": 1, "payments": 1}, leaders={ORDERS: 1, PAYMENTS: 1},
                  log_end={ORDERS: 50, PAYMENTS: 80}, groups={"g": Group(1, {ORDERS: 10, PAYMENTS: 10})})
    for key, value in changes.items():
        setattr(made, key, value)
    return made


def collector_for(made: Script) -> Collector:
    return Collector("c", ScriptedClient(made), Selection(), principal=PRINCIPAL)


def scrape(collector: Collector):
    snapshot = collector.collect()
    report = lag.build_report(snapshot, None, lag.update_histories({}, snapshot, None))
    return snapshot, report


def test_the_grant_names_the_principal_operation_and_resource_quoted_for_a_shell():
    assert access.grant(PRINCIPAL, "DescribeConfigs", "topic", "orders") == (
        "kafka-acls --add --allow-principal User:lagwatch --operation DescribeConfigs --topic orders")
    assert access.grant(PRINCIPAL, "Describe", "group", "my group").endswith("--group 'my group'")
    assert access.principal_of(None) == "User:PRINCIPAL" and access.principal_of("lw") == "User:lw"


def test_a_live_members_topic_the_principal_may_not_describe_is_unknown_and_the_group_partial():
    members = (Member("m1", "app", "h", (ORDERS, PAYMENTS)),)
    made = script(denied_topics={"payments"})
    made.groups["g"].members, made.groups["g"].state = members, "Stable"
    snapshot, report = scrape(collector_for(made))
    rows = {(r.topic, r.partition): r for r in report.partitions}
    assert rows[PAYMENTS].lag_unknown and rows[PAYMENTS].lag is None and rows[PAYMENTS].committed_offset is None
    denial = ("Metadata on Topic payments denied (group g reads it): kafka-acls --add --allow-principal "
              "User:lagwatch --operation Describe --topic payments")
    assert rows[PAYMENTS].error == denial
    (group,) = report.groups
    assert group.partial and group.lag_sum is None and group.lag_known_sum == 40 and group.partitions_unknown == 1
    (error,) = snapshot.errors
    assert (error.scope, error.name, error.message) == ("topic", "payments", denial)
    assert error.grant.endswith("--operation Describe --topic payments")


def test_a_kip848_describe_denied_on_an_unnamed_topic_makes_the_group_partial_not_smaller():
    # ConsumerGroupDescribe answers TOPIC_AUTHORIZATION_FAILED and OffsetFetch leaves payments out unsaid.
    made = script(denied_topics={"payments"}, codes={("describe", "g"): access.TOPIC_AUTHORIZATION_FAILED})
    made.groups["g"].group_type, made.groups["g"].state = "consumer", "Stable"
    snapshot, report = scrape(collector_for(made))
    (group,) = report.groups
    assert group.partial and group.lag_sum is None and group.lag_known_sum == 40
    (error,) = snapshot.errors
    assert error.scope == "group" and error.message.startswith(
        "ConsumerGroupDescribe on Group g denied (a member is assigned a topic User:lagwatch may not Describe")
    assert group.error == error.message


def test_a_topic_read_before_and_denied_now_stays_unknown_and_a_deleted_one_is_gone():
    made = script()
    collector = collector_for(made)
    _, report = scrape(collector)
    assert report.groups[0].lag_sum == 110
    made.denied_topics = {"payments"}  # the ACL revoked between scrapes
    for _ in range(2):  # and it stays unknown while denied, not forgotten after one scrape
        snapshot, report = scrape(collector)
        assert report.groups[0].partial and report.groups[0].lag_known_sum == 40
        assert [e.name for e in snapshot.errors] == ["payments"]
        assert [(r.topic, r.lag_unknown) for r in report.partitions] == [("orders", False), ("payments", True)]
    made.denied_topics, made.partitions = set(), {"orders": 1}  # deleted, its commit with it
    del made.groups["g"].committed[PAYMENTS]
    snapshot, report = scrape(collector)
    assert not snapshot.errors and report.groups[0].lag_sum == 40 and not report.groups[0].partial
    assert [r.names for r, _ in made.sent_of(Metadata)] == [None, ("payments",)]  # told deleted from denied
    scrape(collector)
    assert [r.names for r, _ in made.sent_of(Metadata)] == [None]  # and not asked again


def test_describe_configs_denied_is_an_error_with_its_grant_and_retention_stays_unknown():
    made = script(denied_configs={"payments"})
    snapshot, report = scrape(collector_for(made))
    (error,) = snapshot.errors
    assert error.message == ("DescribeConfigs on Topic payments denied: kafka-acls --add --allow-principal "
                             "User:lagwatch --operation DescribeConfigs --topic payments")
    assert snapshot.topics["payments"].retention_ms is None and snapshot.topics["orders"].retention_ms
    assert report.groups[0].lag_sum == 110  # lag itself is whole


def test_a_principal_that_sees_no_group_on_a_cluster_with_an_authorizer_is_told_so():
    made = script(groups={}, authorizer=True)
    snapshot, _ = scrape(collector_for(made))
    (error,) = snapshot.errors
    assert error.scope == "cluster" and "ListGroups shows no consumer group to User:lagwatch" in error.message
    assert error.grant == "kafka-acls --add --allow-principal User:lagwatch --operation Describe --group GROUP"
    without = script(groups={}, authorizer=False)  # no authorizer: a cluster without groups is just that
    assert not scrape(collector_for(without))[0].errors


def test_group_authorization_errors_name_the_grant_on_the_group():
    made = script(codes={("find", "g"): access.GROUP_AUTHORIZATION_FAILED})
    snapshot, report = scrape(collector_for(made))
    (error,) = snapshot.errors
    assert error.message == ("FindCoordinator on Group g denied: kafka-acls --add --allow-principal User:lagwatch "
                             "--operation Describe --group g")
    assert report.groups[0].error == error.message


def test_groups_without_consumer_offsets_are_left_out_and_said_once():
    import structlog

    made = script()
    made.groups["connect-cluster"] = Group(1, protocol_type="connect")
    collector = collector_for(made)
    with structlog.testing.capture_logs() as events:
        first, _ = scrape(collector)
        scrape(collector)
    assert [g.group for g in first.groups] == ["g"]
    (said,) = [e for e in events if e["event"] == "groups_not_reported"]
    assert said["by_protocol_type"] == {"connect": 1}


def test_check_access_asks_describe_configs_itself_for_a_topic_the_principal_may_not_describe():
    from exporter.kafka import check

    members = (Member("m1", "app", "h", (ORDERS, PAYMENTS)),)
    for configs_denied in (True, False):
        made = script(denied_topics={"payments"}, denied_configs={"payments"} if configs_denied else set(),
                      authorizer=True)
        made.groups["g"].members, made.groups["g"].state = members, "Stable"
        found = {(r.kind, r.name): r for r in check.check(collector_for(made)).resources}
        payments = found[("topic", "payments")]
        # The scrape never asks DescribeConfigs for a topic it may not describe: never "ok" unasked.
        assert payments.missing == (("Describe", "DescribeConfigs") if configs_denied else ("Describe",))
        assert payments.granted == (() if configs_denied else ("DescribeConfigs",)) and not payments.unknown
        assert found[("topic", "orders")].granted == ("Describe", "DescribeConfigs")
