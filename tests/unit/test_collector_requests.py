"""What the collector asks Kafka for, checked on the requests themselves (a recording wire, no broker)."""

from kafka.protocol.metadata import MetadataRequest

from exporter.kafka.collector import Collector, Selection
from exporter.lag.model import ClusterSnapshot, PartitionOffsets


class RecordingWire:
    """Stands in for KafkaWire (our own class): records requests, answers every one with an error."""

    def __init__(self):
        self.sent = []

    def reset_counts(self):
        return {}

    def new_scrape(self):
        pass

    def least_loaded_node(self, exclude=frozenset()):
        return 0

    def send(self, request, node=None):
        self.sent.append(request)
        raise RuntimeError("no broker in a unit test")

    send_any = send

    def send_all(self, calls):
        self.sent.extend(request for request, _ in calls)
        return [RuntimeError("no broker in a unit test") for _ in calls]


def test_metadata_is_asked_for_all_topics_without_ever_creating_one():
    wire = RecordingWire()
    try:
        Collector("c", wire, Selection()).collect()
    except RuntimeError:
        pass
    (metadata,) = [r for r in wire.sent if isinstance(r, MetadataRequest)]
    # topics=None is "all topics"; auto-creation defaults to True in kafka-python's request class.
    assert metadata.topics is None
    assert metadata.allow_auto_topic_creation is False


def test_time_probes_put_each_partition_once_per_request_with_its_own_time():
    wire = RecordingWire()
    snapshot = ClusterSnapshot(
        cluster="c",
        taken_at=1000.0,
        topics={},
        partitions={("t", p): PartitionOffsets("t", p, 10, 0, leader=1) for p in range(3)},
        groups=(),
    )
    Collector("c", wire, Selection()).probe(snapshot, [{("t", 0): 100.0, ("t", 2): 200.5}, {("t", 1): 300.0}])
    first, second = wire.sent
    assert [(p.partition_index, p.timestamp) for p in first.topics[0].partitions] == [(0, 100_000), (2, 200_500)]
    assert [(p.partition_index, p.timestamp) for p in second.topics[0].partitions] == [(1, 300_000)]
