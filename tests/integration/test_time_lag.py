"""Lag in seconds against the real broker, from the records' own timestamps, on the very first scrape; and
what it says when those timestamps cannot be compared with lagwatch's clock."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition

from exporter.config import TimeLagConfig
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


HOUR, DAY = 3600.0, 86400.0


def stamped_topic(kafka, bootstrap, ahead_s: float, count: int = 400, committed: int = 100):
    """`count` records stamped `ahead_s` from now on (negative: in the past), one a second, CreateTime; a group
    committed at `committed` (hundreds behind). The topic lets the broker take stamps up to two days ahead
    (Kafka 4's default refuses more than an hour)."""
    topic = kafka.create_topic(unique("timelag-stamps"), partitions=1, configs={
        "message.timestamp.type": "CreateTime", "message.timestamp.after.max.ms": str(int(2 * DAY * 1000))})
    start = time.time() + ahead_s
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    sent = [producer.send(topic, value=str(i).encode(), partition=0, timestamp_ms=int((start + i) * 1000))
            for i in range(count)]
    producer.flush()
    for future in sent:
        future.get(timeout=30)  # the broker took every stamp
    producer.close()
    group = unique("timelag-stamps-group")
    kafka.commit(group, {TopicPartition(topic, 0): committed})
    return group


def time_lag_documents(result):
    """(partition document, group document) of a one-partition group, as indexed."""
    by_type = {d["lagwatch.doc_type"]: d for d in result.documents if d["lagwatch.doc_type"] != "self"}
    return by_type["partition"], by_type["group"]


def test_records_stamped_ahead_of_lagwatchs_clock_give_a_null_time_lag_marked_clock_skew(kafka, bootstrap):
    group = stamped_topic(kafka, bootstrap, ahead_s=HOUR)  # a producer host whose clock runs an hour fast
    (result,) = scrapes(bootstrap, group)  # a fresh pipeline: no history of its own yet
    (row,) = result.report.partitions
    (totals,) = result.report.groups
    partition_doc, group_doc = time_lag_documents(result)
    print(f"partition {row.time_lag}, group {totals.lag_seconds_max} {totals.time_lag_quality}")
    assert row.lag == 300
    assert (row.time_lag.seconds, row.time_lag.quality.value) == (None, "clock_skew")
    assert (totals.lag_seconds_max, totals.time_lag_quality.value) == (None, "clock_skew")
    for doc in (partition_doc, group_doc):
        assert (doc["lagwatch.lag.seconds"], doc["lagwatch.lag.seconds_quality"]) == (None, "clock_skew")
    # Only the time lag is unknowable: the lag in messages is whole and read.
    assert (group_doc["lagwatch.lag.messages"], group_doc["lagwatch.lag.partial"]) == (300, False)


def test_records_stamped_long_ago_give_at_least_the_ladders_oldest_age(kafka, bootstrap):
    group = stamped_topic(kafka, bootstrap, ahead_s=-30 * DAY)  # replayed or late event-time data
    (result,) = scrapes(bootstrap, group)
    (row,) = result.report.partitions
    _, group_doc = time_lag_documents(result)
    oldest = max(TimeLagConfig().probe_ages_s)  # the default ladder's oldest age (7 days)
    print(f"partition {row.time_lag}, ladder's oldest age {oldest}")
    assert row.lag == 300
    assert row.time_lag.quality is TimeLagQuality.AT_LEAST
    assert row.time_lag.seconds == pytest.approx(oldest)  # a lower bound, not a made-up age
    assert (group_doc["lagwatch.lag.seconds"], group_doc["lagwatch.lag.seconds_quality"]) == (
        pytest.approx(oldest), "at_least")
