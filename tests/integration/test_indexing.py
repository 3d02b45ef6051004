"""Scrapes indexed into the real Elasticsearch node: the documents match, the mapping is ours, no duplicates."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient

from exporter.kafka.collector import Collector, Selection
from exporter.kafka.client import KafkaClient
from exporter.kafka.wire import KafkaWire
from exporter.runtime.pipeline import ClusterPipeline
from exporter.sinks.elasticsearch import ElasticsearchSink, lag_mappings
from tests.harness import unique
from tests.lens_aggs import flatten

pytestmark = pytest.mark.integration


@pytest.fixture
def pipeline_for(bootstrap, es):
    made = []

    def make(groups: set[str], prefix: str, granularity: str = "partition") -> ClusterPipeline:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test")
        collector = Collector("local", KafkaClient(lambda: KafkaWire(admin, timeout_s=10)), Selection(group=groups.__contains__))
        sink = ElasticsearchSink(es, prefix=prefix)
        # A 1 ms slot: scrapes in quick succession are distinct slots (a real interval is >= 1 s).
        pipeline = ClusterPipeline(collector, sink, granularity=granularity, interval_s=0.001)
        made.append((pipeline, prefix))
        return pipeline

    yield make
    for pipeline, prefix in made:
        pipeline.collector.close()
        for index in es.indices.get(index=f"{prefix}-lag-*"):  # wildcard deletes are refused by default
            es.indices.delete(index=index)
        es.indices.delete_index_template(name=f"{prefix}-lag")


def search(es, index: str, **query) -> list[dict]:
    es.indices.refresh(index=index)
    return [h["_source"] for h in es.search(index=index, size=1000, query=query or {"match_all": {}})["hits"]["hits"]]


def test_two_scrapes_index_counts_and_rates_of_a_known_pattern(kafka, es, pipeline_for):
    topic = kafka.create_topic(unique("idx"), partitions=2)
    kafka.produce(topic, {0: 10, 1: 4})
    group = unique("idx-group")
    kafka.consume(group, topic, count=6)
    prefix = unique("lw")
    pipeline = pipeline_for({group}, prefix)

    first = pipeline.run_once()
    kafka.produce(topic, {0: 7, 1: 0})
    kafka.consume(group, topic, count=4)
    second = pipeline.run_once()

    assert first.sink_error is None and second.sink_error is None
    docs = search(es, f"{prefix}-lag")
    assert len(docs) == len(first.documents) + len(second.documents)
    # 2 partitions + 1 group-topic + 1 group + 1 self per scrape
    assert [d["lagwatch.doc_type"] for d in second.documents].count("partition") == 2
    latest = [d for d in docs if d["lagwatch.slot"] == second.documents[0]["lagwatch.slot"]]
    by_type = {(d["lagwatch.doc_type"], d.get("kafka.partition.id")): d for d in latest}
    topic_doc, group_doc = by_type[("topic", None)], by_type[("group", None)]
    assert topic_doc["lagwatch.produce.count"] == 7
    assert topic_doc["lagwatch.consume.count"] == 4
    assert group_doc["lagwatch.lag.messages"] == (10 + 7 + 4) - (6 + 4)
    assert sum(by_type[("partition", p)]["kafka.consumergroup.consumer_lag"] for p in (0, 1)) == 11
    assert by_type[("partition", 0)]["lagwatch.produce.count"] == 7
    assert by_type[("self", None)]["lagwatch.self.up"] is True


def test_indexed_fields_have_the_template_types(kafka, es, pipeline_for):
    topic = kafka.create_topic(unique("types"), partitions=1)
    kafka.produce(topic, {0: 3})
    group = unique("types-group")
    kafka.consume(group, topic, count=1)
    prefix = unique("lw")
    pipeline_for({group}, prefix).run_once()

    mappings = es.indices.get_mapping(index=f"{prefix}-lag-*")
    (index_mapping,) = mappings.body.values()
    actual = flatten(index_mapping["mappings"]["properties"])
    expected = flatten(lag_mappings()["properties"])
    assert {f: t for f, t in actual.items() if f in expected} == expected
    # The only fields outside the template are per-API request counters, mapped as long.
    extra = {f: t for f, t in actual.items() if f not in expected}
    assert extra and all(f.startswith("lagwatch.self.requests.") and t == "long" for f, t in extra.items())


def test_resending_a_bulk_adds_no_documents(kafka, es, pipeline_for):
    topic = kafka.create_topic(unique("dup"), partitions=3)
    kafka.produce(topic, {0: 2, 1: 2, 2: 2})
    group = unique("dup-group")
    kafka.consume(group, topic, count=3)
    prefix = unique("lw")
    pipeline = pipeline_for({group}, prefix)
    result = pipeline.run_once()
    before = len(search(es, f"{prefix}-lag"))

    again = [pipeline.sink.deliver(batch) for batch in result.batches]

    assert sum(r.indexed for r in again) == len(result.documents) and not any(r.rejected for r in again)
    assert len(search(es, f"{prefix}-lag")) == before == len(result.documents)


@pytest.mark.parametrize(
    "granularity, doc_types",
    [("partition", {"partition", "topic", "group", "self"}), ("topic", {"topic", "group", "self"}), ("group", {"group", "self"})],
)
def test_granularity_chooses_the_documents_indexed(kafka, es, pipeline_for, granularity, doc_types):
    topic = kafka.create_topic(unique("gran"), partitions=2)
    kafka.produce(topic, {0: 1, 1: 1})
    group = unique("gran-group")
    kafka.consume(group, topic, count=1)
    prefix = unique("lw")
    pipeline_for({group}, prefix, granularity).run_once()
    assert {d["lagwatch.doc_type"] for d in search(es, f"{prefix}-lag")} == doc_types


def test_odd_group_and_topic_names_round_trip_unchanged(kafka, es, pipeline_for):
    from kafka import TopicPartition

    topic = kafka.create_topic(unique("odd.topic_name-v2"), partitions=1)
    kafka.produce(topic, {0: 5})
    suffix = unique("")
    groups = {f"주문 처리.그룹{suffix}", f"ünïcödé ✓ group{suffix}", f"dots.and spaces  {suffix}", f"tab\tand/slash{suffix}"}
    for group in groups:
        kafka.commit(group, {TopicPartition(topic, 0): 2})
    prefix = unique("lw")
    pipeline_for(groups, prefix).run_once()

    docs = search(es, f"{prefix}-lag", term={"lagwatch.doc_type": "partition"})
    assert {d["kafka.consumergroup.id"] for d in docs} == groups
    for group in groups:
        (hit,) = search(es, f"{prefix}-lag", bool={"filter": [
            {"term": {"kafka.consumergroup.id": group}}, {"term": {"lagwatch.doc_type": "partition"}}]})
        assert hit["kafka.topic.name"] == topic and hit["kafka.consumergroup.consumer_lag"] == 3
