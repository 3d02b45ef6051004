"""The scrape plan on decoded plain data (tests/unit/kafka_script.py, no broker): the coordinator cache,
per-item errors, chunking and partial failures. A value not read is unknown, never 0, never missing."""

from __future__ import annotations

import pytest

from exporter.kafka.collector import Collector
from exporter.kafka.protocol.describe_groups import DescribeGroups
from exporter.kafka.protocol.find_coordinator import FindCoordinators
from exporter.kafka.protocol.list_offsets import LATEST, ListOffsets
from exporter.kafka.protocol.offset_fetch import FetchOffsets
from exporter.kafka.selection import Selection
from exporter.lag import report as lag
from exporter.lag.model import Member
from tests.unit.kafka_script import Group, Script, ScriptedClient

P0, P1 = ("orders", 0), ("orders", 1)


def two_groups() -> Script:
    """g1 coordinated by broker 1, g2 by broker 2; both committed to both partitions."""
    return Script(groups={"g1": Group(1, {P0: 10, P1: 20}), "g2": Group(2, {P0: 40, P1: 5})})


def scrape(collector: Collector):
    snapshot = collector.collect()
    report = lag.build_report(snapshot, None, lag.update_histories({}, snapshot, None))
    return snapshot, {g.group: g for g in report.groups}


def collector_for(script: Script, **selection) -> Collector:
    return Collector("c", ScriptedClient(script), Selection(**selection))


def broker_2_silent_after_one_scrape():
    """(script, collector, snapshot, report groups) of the scrape after broker 2 stopped answering."""
    script = two_groups()
    collector = collector_for(script)
    scrape(collector)  # learns who lists and coordinates what
    script.down = {2}
    return (script, collector, *scrape(collector))


# --- coordinator cache ----------------------------------------------------------------------------


def test_a_later_scrape_finds_no_coordinator_it_already_knows():
    script = two_groups()
    collector = collector_for(script)
    scrape(collector)
    assert [sorted(r.groups) for r, _ in script.sent_of(FindCoordinators)] == [["g1", "g2"]]
    _, groups = scrape(collector)
    assert script.sent_of(FindCoordinators) == []
    assert {g: r.lag_sum for g, r in groups.items()} == {"g1": 100, "g2": 85}


@pytest.mark.parametrize("code", [14, 15, 16])  # COORDINATOR_LOAD_IN_PROGRESS, _NOT_AVAILABLE, NOT_COORDINATOR
def test_a_moved_coordinator_error_reports_the_group_unread_and_looks_it_up_again(code):
    script = two_groups()
    collector = collector_for(script)
    scrape(collector)
    script.codes[("offsets", "g1")] = code
    script.groups["g1"].coordinator = 2  # the group moved to broker 2
    snapshot, groups = scrape(collector)
    assert groups["g1"].lag_sum is None and groups["g1"].partial  # unknown, not 0
    assert groups["g1"].error.startswith("OffsetFetch: ")
    assert groups["g2"].lag_sum == 85
    del script.codes[("offsets", "g1")]
    _, groups = scrape(collector)
    assert [list(r.groups) for r, _ in script.sent_of(FindCoordinators)] == [["g1"]]  # only the moved one
    assert [n for r, n in script.sent_of(FetchOffsets) if "g1" in r.groups] == [2]
    assert groups["g1"].lag_sum == 100 and groups["g1"].error is None


def test_a_moved_coordinator_in_a_describe_answer_is_looked_up_again():
    script = two_groups()
    script.groups["g1"].state = "Stable"
    collector = collector_for(script)
    scrape(collector)
    script.codes[("describe", "g1")] = 16
    _, groups = scrape(collector)
    assert groups["g1"].error == "DescribeGroups: NotCoordinatorError"
    scrape(collector)
    assert [list(r.groups) for r, _ in script.sent_of(FindCoordinators)] == [["g1"]]


def test_a_dead_coordinator_leaves_its_groups_unknown_and_is_forgotten():
    script, collector, _, groups = broker_2_silent_after_one_scrape()
    assert set(groups) == {"g1", "g2"}
    assert groups["g2"].lag_sum is None and groups["g2"].partitions_unknown == 2
    assert "g2" not in collector.groups.coordinators.known
    script.down = set()
    _, groups = scrape(collector)
    assert [list(r.groups) for r, _ in script.sent_of(FindCoordinators)] == [["g2"]]
    assert groups["g2"].lag_sum == 85


def test_a_coordinator_that_left_the_cluster_is_dropped_from_the_cache():
    script = two_groups()
    collector = collector_for(script)
    scrape(collector)
    script.groups["g2"].coordinator = 1
    del script.brokers[2]
    script.leaders[P1] = 1
    _, groups = scrape(collector)
    assert [list(r.groups) for r, _ in script.sent_of(FindCoordinators)] == [["g2"]]
    assert groups["g2"].lag_sum == 85


# --- per-item errors ------------------------------------------------------------------------------


def test_a_partition_error_in_list_offsets_makes_only_that_partition_unknown():
    script = two_groups()
    script.codes[("list_offsets", P1)] = 6  # NOT_LEADER_OR_FOLLOWER
    snapshot, groups = scrape(collector_for(script))
    assert snapshot.partitions[P1].log_end_offset is None
    assert snapshot.partitions[P1].error == "NotLeaderForPartitionError"
    assert snapshot.partitions[P0].log_end_offset == 50
    g1 = groups["g1"]
    assert (g1.lag_sum, g1.partial, g1.partitions_unknown, g1.lag_known_sum) == (None, True, 1, 40)
    assert [(e.scope, e.name) for e in snapshot.errors] == [("partition", "orders/1")]


def test_a_partition_error_in_offset_fetch_makes_only_that_partition_unread():
    script = two_groups()
    script.codes[("offsets_partition", ("g1", P0))] = 3
    snapshot, groups = scrape(collector_for(script))
    observed = {g.group: g for g in snapshot.groups}["g1"]
    assert observed.committed == {P1: 20} and observed.committed_unread == (P0,)
    assert (groups["g1"].lag_sum, groups["g1"].lag_known_sum, groups["g1"].partitions_unknown) == (None, 60, 1)
    assert groups["g2"].lag_sum == 85


def test_a_group_not_read_lists_where_it_had_committed_or_failed_to_read_when_last_read():
    script = Script(groups={"g1": Group(1, {("orders", 2): 7, P1: 20})})
    script.codes[("offsets_partition", ("g1", P0))] = 3  # P0 committed, but unreadable in the first scrape
    script.groups["g1"].committed[P0] = 10
    collector = collector_for(script)
    first = {g.group: g for g in collector.collect().groups}["g1"]
    assert first.committed_read and first.committed_unread == (P0,)
    script.codes[("offsets", "g1")] = 16  # NOT_COORDINATOR: the group is not read at all
    second = {g.group: g for g in collector.collect().groups}["g1"]
    assert not second.committed_read and second.committed == {}
    assert second.committed_unread == (P0, P1, ("orders", 2))  # sorted, each once


def test_a_find_coordinator_error_for_one_group_leaves_the_others_read():
    script = two_groups()
    script.codes[("find", "g1")] = 15
    snapshot, groups = scrape(collector_for(script))
    assert groups["g1"].error == "FindCoordinator: CoordinatorNotAvailableError"
    assert groups["g1"].lag_sum is None
    assert groups["g2"].lag_sum == 85


def test_a_group_gone_between_listing_and_fetching_has_committed_nothing_and_no_error():
    script = two_groups()
    script.codes[("offsets", "g1")] = 69  # GROUP_ID_NOT_FOUND
    snapshot, groups = scrape(collector_for(script))
    assert groups["g1"].error is None and groups["g1"].lag_sum == 0
    assert {g.group: g for g in snapshot.groups}["g1"].committed_read


# --- chunking -------------------------------------------------------------------------------------


def test_group_requests_carry_at_most_groups_per_request_groups():
    script = Script(groups={f"g{i}": Group(1 + i % 2, {P0: i}) for i in range(7)})
    for name in ("g0", "g1", "g2"):
        script.groups[name].state = "Stable"
    collector = collector_for(script, groups_per_request=2)
    snapshot, groups = scrape(collector)
    assert [len(r.groups) for r, _ in script.sent_of(FindCoordinators)] == [2, 2, 2, 1]
    # Per coordinator: broker 1 has g0 g2 g4 g6, broker 2 has g1 g3 g5.
    assert [(n, list(r.groups)) for r, n in script.sent_of(FetchOffsets)] == [
        (1, ["g0", "g2"]), (1, ["g4", "g6"]), (2, ["g1", "g3"]), (2, ["g5"])]
    # Only groups with members are described.
    assert [(n, list(r.groups)) for r, n in script.sent_of(DescribeGroups)] == [(1, ["g0", "g2"]), (2, ["g1"])]
    assert len(groups) == 7 and not snapshot.errors


def test_each_group_type_is_described_by_its_api_and_share_groups_read_share_offsets():
    script = Script(groups={t: Group(1, {P0: 1}, state="Stable", group_type=t)
                            for t in ("classic", "consumer", "share", "streams")})
    snapshot, groups = scrape(collector_for(script))
    assert [(r.api.name, list(r.groups)) for r, _ in script.sent_of(DescribeGroups)] == [
        ("DescribeGroups", ["classic"]), ("ConsumerGroupDescribe", ["consumer"]),
        ("ShareGroupDescribe", ["share"]), ("StreamsGroupDescribe", ["streams"])]
    assert [(r.api, list(r.groups)) for r, _ in script.sent_of(FetchOffsets)] == [
        ("DescribeShareGroupOffsets", ["share"]), ("OffsetFetch", ["classic", "consumer", "streams"])]
    assert not snapshot.errors and len(groups) == 4


def test_a_failed_describe_names_its_batch_keeps_the_listed_state_and_the_offsets_read():
    script = two_groups()
    script.groups["g1"].state = "Stable"
    script.groups["g1"].group_type = "consumer"
    client = ScriptedClient(script)
    answer = client._answer

    def describe_fails(request, node):
        return RuntimeError("boom") if isinstance(request, DescribeGroups) else answer(request, node)

    client._answer = describe_fails
    _, groups = scrape(Collector("c", client, Selection()))
    assert groups["g1"].error == "describe_848 failed: RuntimeError('boom')"
    assert groups["g1"].state == "Stable" and groups["g1"].lag_sum == 100  # OffsetFetch still answered


def test_log_offsets_are_one_request_per_leader_and_kind_whatever_the_groups():
    script = Script(groups={f"g{i}": Group(1, {P0: 1, P1: 1}) for i in range(5)})
    scrape(collector_for(script))
    asked = sorted((n, sorted(r.times["orders"].items())) for r, n in script.sent_of(ListOffsets))
    assert asked == [(1, [(0, -2)]), (1, [(0, LATEST)]), (2, [(1, -2)]), (2, [(1, LATEST)])]


# --- partial failures -----------------------------------------------------------------------------


def test_a_silent_broker_leaves_its_groups_and_partitions_unknown_and_the_aggregates_partial():
    _, _, snapshot, groups = broker_2_silent_after_one_scrape()
    assert snapshot.partitions[P1].log_end_offset is None and snapshot.partitions[P0].log_end_offset == 50
    g1, g2 = groups["g1"], groups["g2"]
    assert (g1.lag_sum, g1.partial, g1.lag_known_sum) == (None, True, 40)  # P1's leader is broker 2
    assert (g2.lag_sum, g2.partial, g2.partitions_unknown) == (None, True, 2)  # coordinator broker 2
    assert g2.error.startswith("broker 2 did not list its groups")
    broker_errors = [e for e in snapshot.errors if e.scope == "broker"]
    assert {e.name for e in broker_errors} == {"2"}
    # One error per failed broker and request kind, not one per partition it leads.
    assert len([e for e in broker_errors if e.message.startswith("ListOffsets")]) == 1


def test_metadata_failure_fails_the_scrape_instead_of_reporting_nothing():
    script = two_groups()
    script.down = {1, 2}
    with pytest.raises(Exception, match="timed out"):
        collector_for(script).collect()


def test_a_leaderless_partition_is_unknown_and_not_asked_for():
    script = two_groups()
    script.leaders[P1] = None
    snapshot, groups = scrape(collector_for(script))
    assert all(P1[1] not in r.times.get("orders", {}) for r, _ in script.sent_of(ListOffsets))
    assert snapshot.partitions[P1].error == "LeaderNotAvailableError"
    assert groups["g1"].lag_sum is None and groups["g1"].lag_known_sum == 40


# --- which partitions are read ----------------------------------------------------------------------


def test_every_partition_of_a_topic_a_group_reads_is_read_even_never_committed_ones():
    script = Script(partitions={"orders": 2, "audit": 1}, leaders={P0: 1, P1: 2, ("audit", 0): 1},
                    log_end={P0: 50, P1: 80, ("audit", 0): 3},
                    groups={"g1": Group(1, {P0: 10}, state="Stable",
                                        members=(Member("m", "c", "h", (("audit", 0),)),))})
    snapshot, _ = scrape(collector_for(script))
    assert sorted(snapshot.partitions) == [("audit", 0), P0, P1]


# --- connection failures name what the broker advertises ------------------------------------------


@pytest.mark.parametrize("failure, says", [
    ("DNS Resolution failure", "broker 2 advertises b2:9092, which does not resolve from here: check its advertised.listeners"),
    ("111 ECONNREFUSED", "broker 2 advertises b2:9092: is it up, and do its advertised.listeners name an address"),
])
def test_a_broker_lagwatch_cannot_connect_to_is_named_with_the_address_it_advertises(failure, says):
    from kafka.errors import KafkaConnectionError

    script = two_groups()
    script.down, script.failures = {2}, {2: KafkaConnectionError(failure)}
    snapshot, _ = scrape(collector_for(script))
    broker_errors = [e.message for e in snapshot.errors if e.scope == "broker" and e.name == "2"]
    assert broker_errors and all(says in message for message in broker_errors)


# --- Kafka 2.x: one group per FindCoordinator and OffsetFetch ---------------------------------------


def test_a_kafka_2x_cluster_gets_one_request_per_group_and_the_same_exact_lag():
    batched, legacy = two_groups(), two_groups()
    legacy.legacy = True
    expected = {g: r.lag_sum for g, r in scrape(collector_for(batched))[1].items()}
    snapshot, groups = scrape(collector_for(legacy))
    assert {g: r.lag_sum for g, r in groups.items()} == expected == {"g1": 100, "g2": 85}
    assert not snapshot.errors
    assert sorted(r.groups for r, _ in legacy.sent_of(FindCoordinators)) == [["g1"], ["g2"]]
    assert all(r.per_group for r, _ in legacy.sent_of(FindCoordinators))
    fetches = legacy.sent_of(FetchOffsets)
    assert sorted((tuple(r.groups), node) for r, node in fetches) == [(("g1",), 1), (("g2",), 2)]
    assert all(r.per_group for r, _ in fetches)
    assert all(not r.per_group for r, _ in batched.sent_of(FetchOffsets) + batched.sent_of(FindCoordinators))


def test_a_broker_older_than_lagwatch_reads_fails_the_scrape_naming_both_releases():
    from exporter.kafka.collector import UnsupportedBroker
    from exporter.runtime.pipeline import ClusterPipeline

    script = two_groups()
    script.release = (0, 10, 2)
    result = ClusterPipeline(collector_for(script), None).run_once()
    snapshot = result.report.snapshot
    assert not snapshot.up and snapshot.groups == ()
    (error,) = snapshot.errors
    assert error.message == (
        f"{UnsupportedBroker.__name__}: broker 1 (b1:9092) runs Kafka 0.10.2 (from its ApiVersions answer); "
        "lagwatch reads Kafka 2.0 or newer (README: Supported versions)"
    )
