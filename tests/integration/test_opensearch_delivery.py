"""Delivery into a real OpenSearch node through the same queue, spool and ledger as Elasticsearch: a partial
`_bulk` failure (items refused by the mapping and by a write block), an outage of the node with the spool
replayed after it, and lagwatch's own retention of daily indices (the integ-test-zip has no ISM)."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from structlog.testing import capture_logs

from exporter.runtime import wiring as app
from exporter.runtime.daemon import Daemon
from exporter.sinks.elasticsearch import ElasticsearchSink
from exporter.sinks.spool import Spool, SpoolingSink
from tests.harness import opensearch_store, unique
from tests.integration.test_outages import Recording, daemon_config, events, ride_out_an_outage
from tests.integration.test_sink_refusals import batch, real_documents
from tests.scraped_estate import drop

pytestmark = pytest.mark.integration


@pytest.fixture
def spooling(os_url, opensearch, tmp_path):
    """A SpoolingSink over the OpenSearch store under a fresh prefix: (sink, prefix)."""
    prefix = unique("lwosd")
    inner = ElasticsearchSink(opensearch_store(os_url), prefix=prefix)
    yield SpoolingSink(inner, Spool(tmp_path / "spool", max_bytes=10**7), retry_after_s=0), prefix
    drop(opensearch, prefix)


def test_a_partial_bulk_failure_indexes_the_rest_and_counts_each_refusal_with_its_reason(spooling, opensearch):
    sink, prefix = spooling
    first = real_documents()
    assert sink.deliver(batch(first)).indexed == len(first)  # creates today's index
    (today,) = opensearch.indices.get(index=f"{prefix}-lag-*")
    day_before = f"{prefix}-lag-2001.01.01"
    opensearch.indices.create(index=day_before)
    opensearch.indices.put_settings(index=day_before, body={"index.blocks.write": True})
    docs = real_documents(time.time() + 60)  # the next slot: new ids
    broken = dict(docs[0], **{"lagwatch.lag.messages": "many"})  # a long field given text: a 400 item
    blocked = dict(docs[1], **{"lagwatch.slot": 978307200000})  # 2001-01-01: the write-blocked index, a 403 item
    # A batch is one day's `_bulk` body: the write-blocked day is a request of its own, refused item by item.
    refused = sink.deliver(batch([blocked]))
    assert refused.indexed == 0 and refused.retried == 0 and not refused.spooled
    result = sink.deliver(batch([broken] + docs[2:]))
    assert result.indexed == len(docs) - 2 and result.retried == 0 and not result.spooled
    reasons = dict(refused.rejected + result.rejected)
    assert reasons[broken["_id"]].startswith("400 mapper_parsing_exception")
    assert reasons[blocked["_id"]].startswith("403 cluster_block_exception")
    counts = sink.counts()
    assert (counts.rejected, counts.pending, counts.spooled) == (2, 0, 0) and counts.balanced
    assert sink.health().refused is None  # some were indexed: not a configuration problem of the whole sink
    opensearch.indices.refresh(index=today)
    assert opensearch.count(index=today)["count"] == len(first) + len(docs) - 2


def test_retention_deletes_daily_indices_past_retention_days_and_keeps_the_rest(os_url, opensearch):
    prefix = unique("lwosr")
    now = datetime(2026, 3, 31, 12, tzinfo=timezone.utc).timestamp()
    sink = ElasticsearchSink(opensearch_store(os_url), prefix=prefix, retention_days=30, clock=lambda: now)
    try:
        sink.setup()
        names = [f"{prefix}-lag-{day}" for day in ("2026.02.27", "2026.02.28", "2026.03.01", "2026.03.31")]
        for name in names + [f"{prefix}-lag-notaday"]:
            opensearch.indices.create(index=name)
        opensearch.indices.close(index=names[0])  # closed indices are retention's too
        assert sorted(sink.prune()) == names[:2]
        assert sorted(opensearch.indices.get(index=f"{prefix}-lag-*", expand_wildcards="all")) == sorted(
            names[2:] + [f"{prefix}-lag-notaday"])
        assert sink.prune() == []  # once a day
    finally:
        drop(opensearch, prefix)


def test_an_opensearch_outage_is_spooled_and_replayed_with_every_document_once(os_node, kafka, opensearch, tmp_path):
    """The session's node is stopped and started again (same port, same data): its other tests see it back."""
    if not hasattr(os_node, "restart"):
        pytest.skip("LAGWATCH_TEST_OS_URL names a node this test cannot stop")
    topic = kafka.create_topic(unique("os-out"), partitions=2)
    kafka.produce(topic, {0: 30, 1: 20})
    group = unique("os-out-group")
    kafka.consume(group, topic, count=10)
    prefix = unique("lwoso")
    config = daemon_config("os-outage", kafka.bootstrap, os_node.url, group, prefix, tmp_path / "spool",
                           store="opensearch")
    sink = Recording(app.spooling_sink(config, app.elasticsearch_sink(config, app.store_client(config.store))))
    with capture_logs() as logged:
        try:
            ride_out_an_outage(Daemon(config, sink=sink), sink, os_node, logged)
        finally:
            os_node.restart()  # whatever happened, the node serves the session again
    try:
        measured = sink.ids
        opensearch.indices.refresh(index=f"{prefix}-lag-*")
        body = {"size": 10_000, "_source": False, "query": {"match_all": {}}}
        got = [h["_id"] for h in opensearch.search(index=f"{prefix}-lag-*", body=body)["hits"]["hits"]]
        assert len(events(logged, "documents_spooled")) >= 3 and events(logged, "spool_replayed")
        assert len(measured) == len(set(measured)), "two scrapes shared a slot: the test itself is broken"
        assert len(got) == len(set(got)) == len(measured) and set(got) == set(measured)
        counts = sink.counts()
        assert counts.balanced and counts.rejected == counts.dropped == 0 and counts.replayed > 0
    finally:
        drop(opensearch, prefix)
