"""The delivery queue (exporter/sinks/queue.py): bounded in bytes, never blocking the scrape, and every document
the pipeline hands it ends in the spool's ledger (pure, no services: a fake Elasticsearch held by a gate)."""

from __future__ import annotations

import threading

from structlog.testing import capture_logs

from exporter.sinks.queue import QueuedSink
from tests.harness import wait_for
from tests.unit.test_spool import Clock, StrictFake, docs, spooling


class GatedFake(StrictFake):
    """StrictFake whose deliveries wait until the test opens the gate (a slow Elasticsearch)."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def deliver(self, batch):
        self.waiting.set()
        self.gate.wait(10)
        return super().deliver(batch)


def queued(tmp_path, inner, max_bytes):
    spool = spooling(tmp_path, inner, Clock())
    return QueuedSink(spool, max_bytes=max_bytes), spool


def test_the_queue_holds_batches_up_to_its_bytes_and_spools_the_rest_at_once(tmp_path):
    inner = GatedFake()
    batches = [docs(f"b{i}", 10, pad=100) for i in range(6)]  # all of one size
    size = batches[0].size
    sink, spool = queued(tmp_path, inner, max_bytes=3 * size)
    try:
        first = sink.deliver(batches[0])  # taken by the worker, which then waits on the gate
        wait_for(inner.waiting.is_set, timeout=10, interval=0.01, what="the worker sending the first batch")
        with capture_logs() as logged:
            results = [sink.deliver(batch) for batch in batches[1:]]
        assert first.queued == 10
        assert [r.queued for r in results] == [10, 10, 10, 0, 0]  # three batches' bytes fit, not a fourth
        assert [r.spooled for r in results] == [0, 0, 0, 10, 10]
        health = sink.queue_health()
        assert (health.queued_documents, health.queued_bytes, health.spilled_documents) == (30, 3 * size, 20)
        full = [e for e in logged if e["event"] == "delivery_queue_full"]
        assert len(full) == 2 and full[0]["max_bytes"] == 3 * size and full[0]["documents"] == 10
    finally:
        inner.gate.set()
        sink.close(timeout_s=10)
    assert spool.counts().balanced


def test_every_document_handed_to_the_queue_is_indexed_or_spooled_through_a_stop(tmp_path):
    inner = GatedFake()
    batches = [docs(f"s{i}", 5, pad=50) for i in range(8)]
    sink, spool = queued(tmp_path, inner, max_bytes=2 * batches[0].size)
    produced = 0
    for i, batch in enumerate(batches):  # the worker holds one, the queue two, the rest go to the spool at once
        sink.deliver(batch)
        produced += batch.documents
        if i == 0:
            wait_for(inner.waiting.is_set, timeout=10, interval=0.01, what="the worker sending the first batch")
    spooled_at_stop = sink.close(timeout_s=0.2)  # Elasticsearch still hanging: what is queued goes to disk
    assert spooled_at_stop == 15  # the batch in flight and the two queued
    inner.gate.set()  # Elasticsearch answers the request in flight after all
    sink._thread.join(10)  # the worker delivers it, then replays the spool (Elasticsearch is back) and ends
    counts = spool.counts()
    # The batch in flight was offered twice, to Elasticsearch and to the spool, and is in both: its replay
    # overwrites (deterministic ids). Nothing else is counted twice and nothing is missing.
    assert counts.offered == produced + 5 and counts.balanced
    assert counts.indexed + counts.pending == produced + 5 and counts.indexed >= 5
    assert (counts.rejected, counts.dropped) == (0, 0)


def test_the_ledger_balances_after_the_queue_drains_into_a_flaky_elasticsearch(tmp_path):
    inner = StrictFake()
    inner.reject_ids = {"r0-1", "r3-1"}
    inner.retry_ids = {"r2-0"}
    sink, spool = queued(tmp_path, inner, max_bytes=1024 * 1024)
    for i in range(6):
        inner.down = i in (1, 4)
        sink.deliver(docs(f"r{i}", 4))
        wait_for(lambda: sink.queue_health().delivered_batches == i + 1, timeout=10, interval=0.01, what=f"batch {i} delivered")
    sink.close(timeout_s=5)
    counts = spool.counts()
    assert counts.offered == 24 and counts.balanced
    assert counts.rejected == 2 and counts.indexed + counts.pending == 22


def test_what_a_killed_process_had_queued_is_found_in_the_spool_at_the_next_start(tmp_path):
    """kill -9 with Elasticsearch hanging: the batch in flight and the queued ones were written ahead; the next
    start moves them into the spool and its replay delivers each document once (nothing settled is kept)."""
    from exporter.sinks.spool import Spool, SpoolingSink
    from exporter.sinks.writeahead import DIRECTORY, WriteAhead, recover

    hanging, settled = GatedFake(), docs("done", 3)
    spool = spooling(tmp_path, hanging, Clock())
    sink = QueuedSink(spool, max_bytes=1024 * 1024, write_ahead=WriteAhead(tmp_path / "spool" / DIRECTORY))
    hanging.gate.set()
    sink.deliver(settled)  # indexed before the hang: its file is gone
    wait_for(lambda: sink.queue_health().delivered_batches == 1, timeout=10, interval=0.01, what="first batch")
    hanging.gate.clear()
    hanging.waiting.clear()
    batches = [docs(f"k{i}", 4) for i in range(3)]
    for batch in batches:
        sink.deliver(batch)
    wait_for(hanging.waiting.is_set, timeout=10, interval=0.01, what="the worker hanging on the first")
    assert len(list((tmp_path / "spool" / DIRECTORY).iterdir())) == 3
    # The process dies here: no close(), the worker never returns. A new process opens the same directory.
    again = Spool(tmp_path / "spool", max_bytes=10**6)
    assert recover(again) == 12 and again.recovered_documents == 12
    assert not list((tmp_path / "spool" / DIRECTORY).iterdir())
    back = StrictFake()
    replaying = SpoolingSink(back, again, clock=Clock(), retry_after_s=0)
    replaying.replay()
    assert back.indexed == [doc_id for batch in batches for doc_id in batch.ids()]
    counts = replaying.counts()
    assert (counts.recovered, counts.indexed, counts.pending) == (12, 12, 0) and counts.balanced
    hanging.gate.set()  # let the abandoned worker end
    sink.close(timeout_s=5)


def test_a_batch_whose_write_ahead_cannot_be_written_is_queued_all_the_same(tmp_path):
    from exporter.sinks.writeahead import WriteAhead

    inner = StrictFake()
    spool = spooling(tmp_path, inner, Clock())
    ahead = WriteAhead(tmp_path / "queued")
    ahead.dir = tmp_path / "missing" / "queued"  # as a full disk would: every write fails
    sink = QueuedSink(spool, max_bytes=1024 * 1024, write_ahead=ahead)
    with capture_logs() as logged:
        assert sink.deliver(docs("w", 2)).queued == 2
        wait_for(lambda: sink.queue_health().delivered_batches == 1, timeout=10, interval=0.01, what="delivered")
    sink.close(timeout_s=5)
    assert inner.indexed == ["w-0", "w-1"]
    assert [e["event"] for e in logged if e["event"] == "delivery_write_ahead_failed"] == ["delivery_write_ahead_failed"]
