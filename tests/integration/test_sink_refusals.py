"""What the real Elasticsearch node refuses is counted and reported as a configuration problem, not spooled:
a mapping conflict (400 per item), a write-blocked index (403 per item), a conflicting index template
(400 for the whole request at setup)."""

from __future__ import annotations

import time

import pytest

from exporter.output import batch as batches
from exporter.output import encode
from exporter.output.batch import Batch

from exporter.lag import report as lag
from exporter.runtime.http import readiness
from exporter.lag.model import ClusterSnapshot, GroupObservation, PartitionOffsets, TopicInfo
from exporter.sinks.elasticsearch import ElasticsearchSink
from exporter.sinks.interface import SinkRefused
from exporter.sinks.spool import Spool, SpoolingSink
from tests.harness import unique

pytestmark = pytest.mark.integration


def real_documents(taken_at: float | None = None) -> list[dict]:
    """One scrape's documents, built by lagwatch itself (decoded from its batches, each with its `_id`)."""
    taken_at = taken_at or time.time()
    snap = ClusterSnapshot(
        cluster="refusals",
        taken_at=taken_at,
        topics={"orders": TopicInfo("orders", 1)},
        partitions={("orders", 0): PartitionOffsets("orders", 0, 100, log_start_offset=0, leader=1)},
        groups=(GroupObservation("billing", "Empty", committed={("orders", 0): 40}),),
    )
    report = lag.build_report(snap, None, lag.update_histories({}, snap, None), lambda t: 1)
    return [doc for batch in encode.encode(report, "partition", 30.0) for doc in batch.decode()]


def batch(documents: list[dict]) -> Batch:
    (made,) = batches.from_documents(documents)
    return made


@pytest.fixture
def sink_for(es, tmp_path):
    prefixes = []

    def make(prefix: str) -> SpoolingSink:
        prefixes.append(prefix)
        inner = ElasticsearchSink(es, prefix=prefix, storage="daily_indices")
        return SpoolingSink(inner, Spool(tmp_path / prefix, max_bytes=10**7), retry_after_s=0)

    yield make
    for prefix in prefixes:
        for index in es.indices.get(index=f"{prefix}-lag-*", expand_wildcards="all"):
            es.indices.delete(index=index)
        for name in (f"{prefix}-lag", f"{prefix}-other"):
            if es.indices.exists_index_template(name=name):
                es.indices.delete_index_template(name=name)


def test_a_mapping_conflict_is_rejected_with_its_reason_counted_and_not_spooled(sink_for):
    sink = sink_for(unique("lwrej"))
    docs = real_documents()
    broken = dict(docs[0], **{"lagwatch.lag.messages": "many"})  # a long field given text: a real 400
    result = sink.deliver(batch([broken] + docs[1:]))
    assert result.indexed == len(docs) - 1
    ((doc_id, reason),) = result.rejected
    assert doc_id == broken["_id"] and reason.startswith("400 document_parsing_exception")
    counts = sink.counts()
    assert (counts.rejected, counts.indexed, counts.pending) == (1, len(docs) - 1, 0) and counts.balanced
    assert sink.health().ready  # one rejected, the rest indexed: counted, not a configuration problem


def test_elasticsearch_rejecting_every_document_makes_readyz_say_configuration_problem(sink_for, es):
    prefix = unique("lwblock")
    sink = sink_for(prefix)
    docs = real_documents()
    assert sink.deliver(batch(docs[:1])).indexed == 1
    (index,) = es.indices.get(index=f"{prefix}-lag-*")
    es.indices.put_settings(index=index, settings={"index.blocks.write": True})  # a real 403 for every item
    result = sink.deliver(batch(docs[1:]))
    assert result.indexed == 0 and len(result.rejected) == len(docs) - 1
    assert all(r.startswith("403 cluster_block_exception") for _, r in result.rejected)
    assert len(sink.spool) == 0 and sink.counts().rejected == len(docs) - 1
    ready, body = readiness([], sink)
    assert not ready and body["sink"]["reason"].startswith("configuration problem")
    assert "cluster_block_exception" in body["sink"]["reason"]
    es.indices.put_settings(index=index, settings={"index.blocks.write": False})
    assert sink.deliver(batch(docs[1:])).indexed == len(docs) - 1
    assert readiness([], sink)[0]


def test_a_conflicting_index_template_at_setup_is_a_refusal_not_an_outage(sink_for, es):
    prefix = unique("lwtpl")
    # Someone else's template with the same priority on our pattern: Elasticsearch answers 400 to ours.
    es.indices.put_index_template(name=f"{prefix}-other", index_patterns=[f"{prefix}-lag-*"], priority=200)
    sink = sink_for(prefix)
    with pytest.raises(SinkRefused) as raised:
        sink.setup()
    assert raised.value.status == 400 and "index template" in str(raised.value)
    ready, body = readiness([], sink)
    assert not ready and "configuration problem" in body["sink"]["reason"] and "400" in body["sink"]["reason"]
    # Deliveries do not fill the spool with requests that cannot succeed: they are counted as rejected.
    result = sink.deliver(batch(real_documents()))
    assert result.spooled == 0 and result.rejected and len(sink.spool) == 0
    es.indices.delete_index_template(name=f"{prefix}-other")
    sink.setup()
    assert sink.health().ready and sink.deliver(batch(real_documents(time.time() + 60))).indexed > 0
