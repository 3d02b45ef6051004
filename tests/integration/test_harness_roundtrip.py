"""The harness gives real services: lag read back from a real broker, documents from a real node."""

import pytest
from elasticsearch import helpers
from kafka import TopicPartition
from kafka.admin import OffsetSpec

from tests.harness import unique

pytestmark = pytest.mark.integration


def test_lag_of_a_committing_group_is_log_end_minus_committed(kafka):
    topic = kafka.create_topic(unique("roundtrip"), partitions=2)
    kafka.produce(topic, {0: 7, 1: 3})
    group = unique("roundtrip-group")
    kafka.consume(group, topic, count=4)

    committed = kafka.admin.list_group_offsets([group])[group]
    partitions = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    log_end = kafka.admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})

    assert {tp: log_end[tp].offset for tp in partitions} == {partitions[0]: 7, partitions[1]: 3}
    assert sum(committed[tp].offset for tp in committed) == 4
    total_lag = sum(log_end[tp].offset - committed[tp].offset for tp in committed)
    assert total_lag == 10 - 4


def test_bulk_indexed_documents_read_back(es):
    index = unique("roundtrip")
    docs = [{"_index": index, "_id": str(i), "group": "g", "lag": i * 10} for i in range(25)]
    ok, errors = helpers.bulk(es, docs, refresh="wait_for")
    assert (ok, errors) == (25, [])

    result = es.search(index=index, size=0, aggs={"total": {"sum": {"field": "lag"}}})
    assert result["hits"]["total"]["value"] == 25
    assert result["aggregations"]["total"]["value"] == sum(i * 10 for i in range(25))
    es.indices.delete(index=index)
