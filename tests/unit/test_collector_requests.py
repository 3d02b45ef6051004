"""What the collector asks Kafka for, checked on the kafka-python requests its asks build (a recording
client, no broker)."""

from exporter.kafka.collector import Collector
from exporter.kafka.protocol.list_offsets import ListOffsets
from exporter.kafka.protocol.metadata import Metadata
from exporter.kafka.selection import Selection
from exporter.lag.model import ClusterSnapshot, PartitionOffsets


class RecordingWire:
    """A Client (exporter/kafka/client.py) that records the asks and answers every one with an error."""

    def __init__(self):
        self.sent = []

    def take_request_counts(self):
        return {}

    def new_scrape(self):
        pass

    def close(self):
        pass

    def send_any(self, request):
        self.sent.append(request)
        raise RuntimeError("no broker in a unit test")

    def send_all(self, calls):
        self.sent.extend(request for request, _ in calls)
        return [RuntimeError("no broker in a unit test") for _ in calls]


def test_metadata_is_asked_for_all_topics_without_ever_creating_one():
    wire = RecordingWire()
    try:
        Collector("c", wire, Selection()).collect()
    except RuntimeError:
        pass
    (ask,) = [r for r in wire.sent if isinstance(r, Metadata)]
    metadata = ask.request()
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
    first, second = (ask.request() for ask in wire.sent)
    assert all(isinstance(ask, ListOffsets) for ask in wire.sent)
    assert [(p.partition_index, p.timestamp) for p in first.topics[0].partitions] == [(0, 100_000), (2, 200_500)]
    assert [(p.partition_index, p.timestamp) for p in second.topics[0].partitions] == [(1, 300_000)]
