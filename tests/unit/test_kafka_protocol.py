"""Each request family builds the kafka-python request lagwatch means and decodes a response (objects with
the attributes Kafka's responses have) to plain data, keeping per-item error codes with their item."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest
from kafka.protocol.consumer import ConsumerProtocolAssignment, ListOffsetsRequest, OffsetFetchRequest

from exporter.kafka.protocol.describe_configs import DescribeTopicConfigs
from exporter.kafka.protocol.describe_groups import BY_GROUP_TYPE, CLASSIC, DescribeGroups, api_for
from exporter.kafka.protocol.find_coordinator import FindCoordinators
from exporter.kafka.protocol.list_groups import ListGroups
from exporter.kafka.protocol.list_offsets import EARLIEST, LATEST, ListOffsets
from exporter.kafka.protocol.metadata import Metadata
from exporter.kafka.protocol.offset_fetch import FetchOffsets
from exporter.lag.model import Member


def test_metadata_keeps_selected_topics_and_says_which_partitions_have_no_leader():
    response = NS(brokers=[NS(node_id=1, host="b1", port=9092)], topics=[
        NS(name="orders", error_code=0, is_internal=False, topic_id=None, partitions=[
            NS(partition_index=0, error_code=0, leader_id=1), NS(partition_index=1, error_code=0, leader_id=-1)]),
        NS(name="__consumer_offsets", error_code=0, is_internal=True, topic_id=None, partitions=[]),
        NS(name="skipped", error_code=0, is_internal=False, topic_id=None, partitions=[]),
        NS(name="broken", error_code=3, is_internal=False, topic_id=None, partitions=[]),
    ])
    meta = Metadata(topic=lambda name: name != "skipped").decode(response)
    assert meta.brokers == {1: "b1:9092"}
    assert list(meta.topics) == ["orders"] and meta.topics["orders"].partitions == 2
    assert meta.leaders == {("orders", 0): 1}
    assert meta.partition_errors == {("orders", 1): "LeaderNotAvailableError"}
    assert meta.topic_errors == {"broken": "UnknownTopicOrPartitionError"}
    request = Metadata().request()
    assert request.topics is None and request.allow_auto_topic_creation is False


def test_list_groups_fills_what_older_brokers_do_not_send():
    response = NS(error_code=0, groups=[NS(group_id="new", protocol_type="consumer", group_state="Stable",
                                           group_type="consumer"),
                                        NS(group_id="old", protocol_type="")])
    listed = ListGroups().decode(response)
    assert listed.error_code == 0
    assert listed.groups == {"new": ("Stable", "consumer", "consumer"), "old": ("Unknown", None, "")}


def test_find_coordinator_keeps_each_groups_error_with_it():
    response = NS(coordinators=[NS(key="a", node_id=2, error_code=0), NS(key="b", node_id=-1, error_code=15)])
    assert FindCoordinators(["a", "b"]).decode(response) == [("a", 2, 0), ("b", -1, 15)]
    assert FindCoordinators(["a", "b"]).request().coordinator_keys == ["a", "b"]


def test_kafka_2x_brokers_are_asked_one_group_at_a_time_with_the_versions_they_have():
    find = FindCoordinators(["a"], per_group=True)
    assert find.request().key == "a" and find.request()._max_version == 3
    assert find.decode(NS(node_id=2, error_code=0)) == [("a", 2, 0)]
    fetch = FetchOffsets(["g"], per_group=True, topic=lambda name: not name.startswith("__"))
    request = fetch.request()
    assert (request.group_id, request.topics, request._min_version, request._max_version) == ("g", None, 2, 7)
    request.encode(version=7)  # v2-v7 carry one group and "all topics" as null
    response = NS(error_code=0, topics=[
        NS(name="orders", partitions=[NS(partition_index=0, committed_offset=5, error_code=0),
                                      NS(partition_index=1, committed_offset=0, error_code=3)]),
        NS(name="__consumer_offsets", partitions=[NS(partition_index=0, committed_offset=9, error_code=0)])])
    answer = fetch.decode(response)
    assert answer.committed == {"g": {("orders", 0): 5}} and answer.unread == {"g": [("orders", 1)]}
    assert fetch.decode(NS(error_code=30, topics=[])).errors == {"g": 30}  # GROUP_AUTHORIZATION_FAILED


def test_offset_fetch_keeps_selected_topics_and_partition_errors_apart():
    response = NS(groups=[
        NS(group_id="g", error_code=0, topics=[
            NS(name="orders", partitions=[NS(partition_index=0, committed_offset=5, error_code=0),
                                          NS(partition_index=1, committed_offset=-1, error_code=0),
                                          NS(partition_index=2, committed_offset=0, error_code=3)]),
            NS(name="__internal", partitions=[NS(partition_index=0, committed_offset=9, error_code=0)])]),
        NS(group_id="moved", error_code=16, topics=[]),
    ])
    answer = FetchOffsets(["g", "moved"], topic=lambda name: not name.startswith("__")).decode(response)
    assert answer.committed == {"g": {("orders", 0): 5}}
    assert answer.unread == {"g": [("orders", 2)]}
    assert answer.errors == {"moved": 16} and answer.broker_lag == {}
    request = FetchOffsets(["g"]).request()
    assert (request._min_version, request._max_version) == (8, 9)  # v10 replaces topic names with ids


def test_offset_fetch_reads_each_group_of_a_response_on_its_own_topics():
    def group(name, *topics):
        return NS(group_id=name, error_code=0, topics=[
            NS(name=t, partitions=[NS(partition_index=p, committed_offset=o, error_code=0) for p, o in parts])
            for t, parts in topics])
    response = NS(groups=[group("a", ("orders", [(0, 1), (1, 2)]), ("__internal", [(0, 9)])),
                          group("b", ("__internal", [(0, 8)]), ("orders", [(1, 3)]), ("pay", [(0, 4)]))])
    answer = FetchOffsets(["a", "b"], topic=lambda name: not name.startswith("__")).decode(response)
    assert answer.committed == {"a": {("orders", 0): 1, ("orders", 1): 2},
                                "b": {("orders", 1): 3, ("pay", 0): 4}}


@pytest.mark.parametrize("version", [8, 9])
def test_offset_fetch_group_entries_encode_as_kafka_pythons_own(version):
    Group = OffsetFetchRequest.OffsetFetchRequestGroup
    ours = FetchOffsets(["g1", "g2"]).request()
    theirs = OffsetFetchRequest(groups=[Group(group_id=g, topics=None) for g in ["g1", "g2"]],
                                require_stable=False, min_version=8, max_version=9)
    assert ours.encode(version=version) == theirs.encode(version=version)
    assert [repr(g) for g in ours.groups] == [repr(g) for g in theirs.groups]


def test_share_group_offsets_read_start_offsets_and_the_brokers_lag():
    response = NS(groups=[NS(group_id="s", error_code=0, topics=[NS(topic_name="orders", partitions=[
        NS(partition_index=0, start_offset=7, error_code=0, lag=3),
        NS(partition_index=1, start_offset=2, error_code=0, lag=-1)])])])
    answer = FetchOffsets(["s"], share=True).decode(response)
    assert answer.committed == {"s": {("orders", 0): 7, ("orders", 1): 2}}
    assert answer.broker_lag == {"s": {("orders", 0): 3}}
    assert FetchOffsets(["s"], share=True).api == "DescribeShareGroupOffsets"


def test_list_offsets_asks_each_partition_once_with_its_own_time():
    request = ListOffsets.at_times([(("t", 2), 2.5), (("t", 0), 1.0)]).request()
    assert [(p.partition_index, p.timestamp) for p in request.topics[0].partitions] == [(0, 1000), (2, 2500)]
    request = ListOffsets.of([("b", 0), ("a", 1)], EARLIEST).request()
    assert [(t.name, [p.timestamp for p in t.partitions]) for t in request.topics] == [("a", [-2]), ("b", [-2])]
    response = NS(topics=[NS(name="t", partitions=[NS(partition_index=0, error_code=0, offset=9),
                                                   NS(partition_index=1, error_code=6, offset=-1)])])
    assert ListOffsets({}).decode(response) == [(("t", 0), 0, 9), (("t", 1), 6, -1)]


def test_describe_configs_keeps_each_topics_error_apart_from_the_settings_read():
    response = NS(results=[NS(resource_name="a", error_code=0, configs=[NS(name="retention.ms", value="100")]),
                           NS(resource_name="b", error_code=29, configs=[])])
    answer = DescribeTopicConfigs(["a", "b"]).decode(response)
    assert answer.configs == {"a": {"retention.ms": "100"}} and answer.errors == {"b": 29}


def test_each_group_type_is_described_by_its_own_api():
    assert api_for("classic") is CLASSIC and api_for(None) is CLASSIC
    assert {t: api_for(t).name for t in BY_GROUP_TYPE} == {
        "consumer": "ConsumerGroupDescribe", "share": "ShareGroupDescribe", "streams": "StreamsGroupDescribe"}
    assert type(DescribeGroups(["g"], api_for("share")).request()).__name__.startswith("ShareGroupDescribeRequest")


def test_a_classic_member_assignment_is_decoded_and_a_custom_one_still_counts():
    assignment = ConsumerProtocolAssignment(0, [("orders", [0, 1]), ("__x", [0])], b"").encode()
    response = NS(groups=[NS(group_id="g", error_code=0, group_state="Stable", protocol_type="consumer", members=[
        NS(member_id="m1", client_id="c", client_host="/10.0.0.1", member_assignment=assignment),
        NS(member_id="m2", client_id="c", client_host="h", member_assignment=b"\x00garbage")])])
    (row,) = DescribeGroups(["g"], topic=lambda name: not name.startswith("__")).decode(response)
    assert row.members == (Member("m1", "c", "10.0.0.1", (("orders", 0), ("orders", 1))), Member("m2", "c", "h", ()))
    assert (row.state, row.protocol_type, row.epoch) == ("Stable", "consumer", None)


def test_a_streams_member_reads_its_tasks_partitions_of_every_source_topic():
    topology = NS(subtopologies=[NS(subtopology_id="0", source_topics=["in", "in2"])])
    member = NS(member_id="m", client_id="c", client_host="h",
                assignment=NS(active_tasks=[NS(subtopology_id="0", partitions=[1])]))
    response = NS(groups=[NS(group_id="s", error_code=0, group_state="Stable", group_epoch=4, topology=topology,
                             members=[member])])
    (row,) = DescribeGroups(["s"], api_for("streams")).decode(response)
    assert row.members[0].assignment == (("in", 1), ("in2", 1))
    assert (row.protocol_type, row.epoch) == ("streams", 4)


@pytest.mark.parametrize("version", range(0, 11))
def test_list_offsets_partition_entries_encode_as_kafka_pythons_own(version):
    Topic = ListOffsetsRequest.ListOffsetsTopic
    Partition = Topic.ListOffsetsPartition
    ours = ListOffsets({"orders": {1: LATEST, 0: 1_700_000_000_000}, "pay": {0: EARLIEST}}).request()
    theirs = ListOffsetsRequest(
        replica_id=-1, isolation_level=0,
        topics=[Topic(name="orders", partitions=[Partition(partition_index=0, timestamp=1_700_000_000_000,
                                                           current_leader_epoch=-1),
                                                 Partition(partition_index=1, timestamp=LATEST, current_leader_epoch=-1)]),
                Topic(name="pay", partitions=[Partition(partition_index=0, timestamp=EARLIEST, current_leader_epoch=-1)])])
    assert ours.encode(version=version) == theirs.encode(version=version)
    assert repr(ours.topics) == repr(theirs.topics)
