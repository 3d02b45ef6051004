"""The decoders that read OffsetFetch, ListGroups and ListOffsets answers straight from their bytes give what
the decoders over kafka-python's objects give, for every version they read: the bytes here are kafka-python's
own encoding of responses full of the awkward cases (errors at every level, null and long metadata, unicode
names, tagged fields, topics not selected)."""

from __future__ import annotations

import uuid

import pytest
from kafka.protocol.admin import ListGroupsResponse
from kafka.protocol.consumer import ListOffsetsRequest, ListOffsetsResponse, OffsetFetchRequest, OffsetFetchResponse

from exporter.kafka.protocol.list_groups import ListGroups
from exporter.kafka.protocol.list_offsets import ListOffsets
from exporter.kafka.protocol.offset_fetch import FetchOffsets
from exporter.kafka.protocol.raw import RawAnswer, skip_tags, uvarint


def both(decoder, response_class, response, version):
    """(the decode of the raw bytes, the decode of kafka-python's objects for the same bytes)."""
    body = bytes(response.encode(version=version))
    answer = RawAnswer(version, body, response_class[version])
    return decoder.decode(answer), decoder.decode(response_class[version].decode(body))


def offset_fetch_response():
    Group = OffsetFetchResponse.OffsetFetchResponseGroup
    Topic = Group.OffsetFetchResponseTopics
    Partition = Topic.OffsetFetchResponsePartitions

    def part(index, offset, error=0, metadata=None):
        return Partition(partition_index=index, committed_offset=offset, committed_leader_epoch=7,
                         metadata=metadata, error_code=error)

    return OffsetFetchResponse(throttle_time_ms=12, groups=[
        Group(group_id="orders", topics=[
            Topic(name="orders", partitions=[part(0, 5), part(1, -1), part(2, 1 << 40, metadata="m" * 300)]),
            Topic(name="__consumer_offsets", partitions=[part(0, 3)]),
            Topic(name="pay€", partitions=[part(0, 2, error=3), part(3, 9, metadata="")]),
        ], error_code=0),
        Group(group_id="moved", topics=[], error_code=16),
        Group(group_id="moved-with-topics", topics=[Topic(name="orders", partitions=[part(0, 1)])], error_code=15),
        Group(group_id="", topics=[Topic(name="orders", partitions=[part(9, 0)])], error_code=0),
        Group(group_id="g" * 200, topics=[Topic(name="t" * 200, partitions=[part(i, i) for i in range(150)])],
              error_code=0),
    ])


@pytest.mark.parametrize("version", [8, 9])
def test_offset_fetch_bytes_decode_as_the_objects_do(version):
    fetch = FetchOffsets(["orders", "moved"], topic=lambda name: not name.startswith("__"))
    ours, theirs = both(fetch, OffsetFetchResponse, offset_fetch_response(), version)
    assert ours == theirs
    assert ours.committed["orders"] == {("orders", 0): 5, ("orders", 2): 1 << 40, ("pay€", 3): 9}
    assert ours.unread == {"orders": [("pay€", 0)]}
    assert ours.errors == {"moved": 16, "moved-with-topics": 15}


def test_offset_fetch_of_a_version_without_a_bytes_decoder_is_decoded_by_kafka_python():
    response = offset_fetch_response()
    body = bytes(response.encode(version=10))
    fetch = FetchOffsets(["orders"])
    assert fetch.decode(RawAnswer(10, body, OffsetFetchResponse[10])) == fetch.decode(OffsetFetchResponse[10].decode(body))


def list_groups_response():
    Group = ListGroupsResponse.ListedGroup
    return ListGroupsResponse(throttle_time_ms=0, error_code=0, groups=[
        Group(group_id="orders", protocol_type="consumer", group_state="Stable", group_type="classic"),
        Group(group_id="flink", protocol_type="", group_state="Empty", group_type="classic"),
        Group(group_id="kip848", protocol_type="consumer", group_state="Stable", group_type="consumer"),
        Group(group_id="share€", protocol_type="share", group_state="", group_type=""),
    ])


@pytest.mark.parametrize("version", range(0, 6))
def test_list_groups_bytes_decode_as_the_objects_do(version):
    ours, theirs = both(ListGroups(), ListGroupsResponse, list_groups_response(), version)
    assert ours == theirs
    assert set(ours.groups) == {"orders", "flink", "kip848", "share€"}


def list_offsets_response():
    Topic = ListOffsetsResponse.ListOffsetsTopicResponse
    Partition = Topic.ListOffsetsPartitionResponse
    return ListOffsetsResponse(throttle_time_ms=0, topics=[
        Topic(name="orders", partitions=[
            Partition(partition_index=0, error_code=0, timestamp=-1, offset=42, leader_epoch=3),
            Partition(partition_index=1, error_code=6, timestamp=-1, offset=-1, leader_epoch=-1),
            Partition(partition_index=2, error_code=0, timestamp=1_700_000_000_000, offset=1 << 50, leader_epoch=0),
        ]),
        Topic(name="pay€", partitions=[]),
        Topic(name="t" * 300, partitions=[Partition(partition_index=i, error_code=0, timestamp=-1, offset=i,
                                                    leader_epoch=1) for i in range(200)]),
    ])


@pytest.mark.parametrize("version", range(1, 12))
def test_list_offsets_bytes_decode_as_the_objects_do(version):
    ours, theirs = both(ListOffsets({}), ListOffsetsResponse, list_offsets_response(), version)
    assert ours == theirs
    assert ours[:3] == [(("orders", 0), 0, 42), (("orders", 1), 6, -1), (("orders", 2), 0, 1 << 50)]


def test_tagged_fields_are_skipped_whatever_they_hold():
    # two tags: tag 0 with 3 bytes, tag 300 (a two-byte varint) with 130 bytes (a two-byte size)
    section = bytes([2, 0, 3, 1, 2, 3]) + bytes([0xAC, 0x02, 0x82, 0x01]) + bytes(130)
    assert skip_tags(section + b"\xff", 0) == len(section)
    assert skip_tags(b"\x00\xff", 0) == 1
    assert uvarint(bytes([0xAC, 0x02]), 0) == (300, 2)


@pytest.mark.parametrize("version", [8, 9])
@pytest.mark.parametrize("names", [["g1", "g2"], [], ["é" * 70, "", "x" * 300], [f"g{i}" for i in range(200)]], ids=len)
def test_offset_fetch_requests_encode_as_kafka_pythons_own(version, names):
    Group = OffsetFetchRequest.OffsetFetchRequestGroup
    ours = FetchOffsets(names).request()
    theirs = OffsetFetchRequest(groups=[Group(group_id=g, topics=None) for g in names],
                                require_stable=False, min_version=8, max_version=9)
    assert ours.writes(version)  # the bytes compared below are lagwatch's own, not kafka-python's fallback
    assert ours.encode(version=version) == bytes(theirs.encode(version=version))
    for request in (ours, theirs):
        request.with_header(correlation_id=7, client_id="lagwatch")
    assert ours.encode(header=True, framed=True) == bytes(theirs.encode(header=True, framed=True))


@pytest.mark.parametrize("version", range(0, 12))
def test_list_offsets_requests_encode_as_kafka_pythons_own(version):
    times = {"orders": {0: -1, 1: -2, 7: 1_700_000_000_000}, "é" * 100: {p: -1 for p in range(130)}, "x": {}}
    ours = ListOffsets(times).request()
    theirs = ListOffsetsRequest(replica_id=-1, isolation_level=0, topics=[
        ListOffsetsRequest.ListOffsetsTopic(name=t, partitions=[
            ListOffsetsRequest.ListOffsetsTopic.ListOffsetsPartition(partition_index=p, timestamp=ts,
                                                                     current_leader_epoch=-1)
            for p, ts in sorted(parts.items())]) for t, parts in sorted(times.items())])
    assert ours.writes(version) is (version >= 6)  # lagwatch's own bytes from v6, kafka-python's before
    assert bytes(ours.encode(version=version)) == bytes(theirs.encode(version=version))
    for request in (ours, theirs):
        request.with_header(correlation_id=7, client_id="lagwatch")
    assert bytes(ours.encode(header=True, framed=True)) == bytes(theirs.encode(header=True, framed=True))


def metadata_response():
    from kafka.protocol.metadata import MetadataResponse

    Broker = MetadataResponse.MetadataResponseBroker
    Topic = MetadataResponse.MetadataResponseTopic
    Partition = Topic.MetadataResponsePartition

    def part(index, leader, error=0, replicas=(1, 2, 3)):
        return Partition(error_code=error, partition_index=index, leader_id=leader, leader_epoch=4,
                         replica_nodes=list(replicas), isr_nodes=list(replicas[:2]), offline_replicas=[])

    return MetadataResponse(
        throttle_time_ms=0, cluster_id="c€", controller_id=2,
        brokers=[Broker(node_id=1, host="127.0.0.1", port=9092, rack=None),
                 Broker(node_id=2, host="b" * 200, port=19092, rack="eu-1a")],
        topics=[
            Topic(error_code=0, name="orders", topic_id=uuid.UUID(int=7), is_internal=False, partitions=[
                part(0, 1), part(1, -1), part(2, 2, error=9), part(3, 3, replicas=tuple(range(40)))]),
            Topic(error_code=0, name="__consumer_offsets", topic_id=uuid.UUID(int=8), is_internal=True,
                  partitions=[part(0, 1)]),
            Topic(error_code=3, name="gone", topic_id=None, is_internal=False, partitions=[]),
            Topic(error_code=0, name="pay€", topic_id=None, is_internal=False, partitions=[part(0, 2)]),
            Topic(error_code=0, name="skipped", topic_id=uuid.UUID(int=9), is_internal=False, partitions=[part(0, 1)]),
        ])


@pytest.mark.parametrize("version", range(0, 14))
def test_metadata_bytes_decode_as_the_objects_do(version):
    from kafka.protocol.metadata import MetadataResponse

    from exporter.kafka.protocol.metadata import Metadata

    ask = Metadata(topic=lambda name: name != "skipped")
    ours, theirs = both(ask, MetadataResponse, metadata_response(), version)
    assert ours == theirs
    assert ours.brokers == {1: "127.0.0.1:9092", 2: "b" * 200 + ":19092"}
    internal = {"__consumer_offsets"} if version == 0 else set()  # v0 does not say which topics are internal
    assert set(ours.topics) == {"orders", "pay€"} | internal
    assert ours.topic_errors == {"gone": "UnknownTopicOrPartitionError"}
    assert ours.leaders == {("orders", 0): 1, ("orders", 3): 3, ("pay€", 0): 2} | {(t, 0): 1 for t in internal}
    assert ours.partition_errors == {("orders", 1): "LeaderNotAvailableError", ("orders", 2): "ReplicaNotAvailableError"}


def test_routing_takes_a_metadata_answer_only_when_its_brokers_differ_from_kafka_pythons_table():
    from types import SimpleNamespace as NS

    from exporter.kafka.wire import KafkaWire

    class Cluster:
        def __init__(self):
            self.known = [NS(node_id=1, host="h1", port=9092)]
            self.updates = []

        def brokers(self):
            return self.known

        def update_metadata(self, response):
            self.updates.append(response)

    wire = object.__new__(KafkaWire)
    wire._manager = NS(cluster=Cluster())
    answer = RawAnswer(12, b"", NS(decode=lambda body: "kafka-python's objects"))
    wire.use_metadata(answer, {1: "h1:9092"})
    assert wire._manager.cluster.updates == []  # already routed to exactly these
    wire.use_metadata(answer, {1: "h1:9092", 2: "h2:9092"})  # a broker joined (or rejoined)
    wire.use_metadata(answer, {1: "h1:9093"})  # one moved
    assert wire._manager.cluster.updates == ["kafka-python's objects"] * 2
