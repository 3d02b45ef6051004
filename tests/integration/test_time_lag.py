"""Lag in seconds against the real broker, from the records' own timestamps, on the very first scrape."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition

from exporter.kafka.collector import Collector, Selection
from exporter.kafka.client import KafkaClient
from exporter.kafka.wire import KafkaWire
from exporter.lag.model import TimeLagQuality
from exporter.runtime.pipeline import ClusterPipeline
from tests.harness import unique

pytestmark = pytest.mark.integration


@pytest.fixture
def uneven_history(kafka, bootstrap):
    """31 records whose timestamps bunch up unevenly: record i was produced at now - 1000 s + i² s."""
    topic = kafka.create_topic(unique("timelag"), partitions=1)
    now = time.time()
    stamps = [now - 1000 + i * i for i in range(31)]
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for i, ts in enumerate(stamps):
        producer.send(topic, value=str(i).encode(), partition=0, timestamp_ms=int(ts * 1000))
    producer.flush()
    producer.close()
    group = unique("timelag-group")
    kafka.commit(group, {TopicPartition(topic, 0): 20})  # the next record to read was produced ~600 s ago
    return topic, group, stamps


def scrapes(bootstrap, group, count=1, **options):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test")
    collector = Collector("local", KafkaClient(lambda: KafkaWire(admin, timeout_s=10)), Selection(group={group}.__contains__))
    pipeline = ClusterPipeline(collector, sink=None, **options)
    try:
        return [pipeline.run_once() for _ in range(count)]
    finally:
        collector.close()


def test_first_scrape_knows_time_lag_from_record_timestamps(bootstrap, uneven_history):
    _, group, stamps = uneven_history
    result, second = scrapes(bootstrap, group, count=2)
    (row,) = result.report.partitions
    expected = result.report.snapshot.taken_at - stamps[20]
    assert row.time_lag.quality is TimeLagQuality.INTERPOLATED
    # Linear interpolation between the ladder's points alone would say ~547 s; bisection over the broker's
    # record times narrows it to about 1% of the record's age.
    assert row.time_lag.seconds == pytest.approx(expected, rel=0.015)
    print(f"time lag {row.time_lag.seconds:.1f}s, true {expected:.1f}s, requests {dict(result.report.snapshot.requests)}")
    # The broker's answers joined the history: the next scrape places the offset without asking again.
    assert second.report.snapshot.requests["ListOffsets"] == 2
    assert second.report.partitions[0].time_lag.quality is TimeLagQuality.INTERPOLATED


def test_without_broker_probes_the_first_scrape_says_unknown_not_zero(bootstrap, uneven_history):
    _, group, _ = uneven_history
    (first,) = scrapes(bootstrap, group, probe_ages_s=())
    (row,) = first.report.partitions
    assert row.lag == 11
    assert row.time_lag.seconds is None and row.time_lag.quality is TimeLagQuality.UNKNOWN
