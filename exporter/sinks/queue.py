"""Delivery off the scrape path: the scrape hands its batches over and goes on; one worker sends them.

`QueuedSink` wraps the daemon's sink (Elasticsearch with its on-disk spool). `deliver()` only enqueues, so a
slow or hanging Elasticsearch never costs a scrape slot. The queue holds encoded batches (exporter/output/
batch.py: bytes, not documents as objects) and is bounded in bytes (`delivery.queue_max_bytes`): a batch that
does not fit goes straight to the spool (local disk, fast) instead of waiting, and is counted and logged
(`delivery_queue_full`). On close, what the worker could not send in time is spooled too: every measurement
is indexed, spooled, rejected or counted as dropped, never silently lost. With a write-ahead
(exporter/sinks/writeahead.py, the daemon's), what the queue holds is on disk too: a kill -9 loses none of it.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from exporter import logs
from exporter.output.batch import Batch
from exporter.sinks.interface import DeliveryResult
from exporter.sinks.ledger import SinkCounts, SinkHealth
from exporter.sinks.spool import SpoolingSink
from exporter.sinks.writeahead import WriteAhead

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class QueueHealth:
    queued_documents: int
    queued_bytes: int
    max_bytes: int
    spilled_documents: int  # sent straight to the spool because the queue was full
    delivered_batches: int


class QueuedSink:
    """A SpoolingSink behind a queue and a worker thread (see the module docstring)."""

    def __init__(self, inner: SpoolingSink, max_bytes: int = DEFAULT_MAX_BYTES, write_ahead: WriteAhead | None = None):
        self.inner = inner
        self.max_bytes = max_bytes
        self.write_ahead = write_ahead
        self._written: dict[int, Path] = {}  # id(batch) -> its write-ahead file, while queued or in flight
        self.log = logs.get()
        self._queue: collections.deque[Batch] = collections.deque()
        self._queued = 0  # documents
        self._queued_bytes = 0
        self._in_flight: Batch | None = None
        self._cond = threading.Condition()
        self._closing = False
        self._spilled = 0
        self._batches = 0
        self._setup_wanted = False
        self._thread = threading.Thread(target=self._run, name="lagwatch-delivery", daemon=True)
        self._thread.start()

    # --- what the pipeline and the daemon call ---------------------------------------------------

    @property
    def name(self) -> str:
        return self.inner.name

    def setup(self) -> str:
        """Install templates from the worker: start-up never waits on Elasticsearch (SIGTERM stays prompt)."""
        with self._cond:
            self._setup_wanted = True
            self._cond.notify()
        return "deferred"

    def prune(self) -> list[str]:
        return self.inner.prune()

    @property
    def retention_refused(self) -> str | None:
        return self.inner.retention_refused

    def health(self) -> SinkHealth | None:
        return self.inner.health()

    def counts(self) -> SinkCounts | None:
        """The spool's documents by outcome (exporter.sinks.ledger.SinkCounts)."""
        return self.inner.counts()

    def queue_health(self) -> QueueHealth:
        with self._cond:
            return QueueHealth(self._queued, self._queued_bytes, self.max_bytes, self._spilled, self._batches)

    def deliver(self, batch: Batch) -> DeliveryResult:
        if not batch.documents:
            return DeliveryResult()
        with self._cond:
            fits = self._queued_bytes + batch.size <= self.max_bytes and not self._closing
            if fits:
                written = self.write_ahead.write(batch) if self.write_ahead is not None else None
                if written is not None:
                    self._written[id(batch)] = written
                self._queue.append(batch)
                self._queued += batch.documents
                self._queued_bytes += batch.size
                self._cond.notify()
                return DeliveryResult(queued=batch.documents)
            self._spilled += batch.documents
        reason = "delivery queue full" if not self._closing else "daemon stopping"
        self.log.warning("delivery_queue_full", documents=batch.documents, queued=self._queued,
                         queued_bytes=self._queued_bytes, max_bytes=self.max_bytes,
                         detail=f"{reason}: sent to the spool")
        return self.inner.spool_now(batch, reason)

    def close(self, timeout_s: float = 5.0) -> int:
        """Let the worker send what is queued for up to `timeout_s`, then spool the rest (the batch in
        flight included: ids are deterministic, so a batch indexed and spooled is replayed as an overwrite).
        Returns the documents spooled at close."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            while (self._queue or self._in_flight is not None) and time.monotonic() < deadline:
                self._cond.wait(max(0.01, deadline - time.monotonic()))
            left = list(self._queue)
            if self._in_flight is not None:
                left.insert(0, self._in_flight)
            self._queue.clear()
            self._queued = self._queued_bytes = 0
        spooled = 0
        for batch in left:
            self.inner.spool_now(batch, "daemon stopping before Elasticsearch took it")
            self._settled(batch)
            spooled += batch.documents
        if spooled:
            self.log.warning("delivery_spooled_at_stop", documents=spooled)
        return spooled

    # --- the worker -------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._setup_wanted and not self._closing:
                    self._cond.wait()
                if self._setup_wanted:
                    self._setup_wanted = False
                    batch = None
                elif self._queue:
                    batch = self._in_flight = self._queue.popleft()
                    self._queued -= batch.documents
                    self._queued_bytes -= batch.size
                else:
                    return  # closing with nothing left
            if batch is None:
                self._setup()
                continue
            self._send(batch)
            self._settled(batch)
            with self._cond:
                if self._in_flight is batch:
                    self._in_flight = None
                    self._batches += 1
                self._cond.notify_all()
                if self._closing and not self._queue:
                    return

    def _settled(self, batch: Batch) -> None:
        """The batch's outcome is in the spool's ledger: its write-ahead file goes."""
        with self._cond:
            written = self._written.pop(id(batch), None)
        WriteAhead.settled(written)

    def _setup(self) -> None:
        try:
            mode = self.inner.setup()
            self.log.info("sink_ready", storage=mode, target=self.inner.name)
        except Exception as exc:  # noqa: BLE001 - retried by the first delivery
            self.log.error("sink_setup_failed", error=logs.mask(str(exc)))

    def _send(self, batch: Batch) -> None:
        try:
            result = self.inner.deliver(batch)
        except Exception as exc:  # noqa: BLE001 - the spooling sink absorbs outages; anything else is a bug
            self.log.error("sink_unavailable", error=logs.mask(str(exc)), documents=batch.documents)
            self.inner.spool_now(batch, f"{type(exc).__name__}: {exc}")
            return
        if result.retry is not None:  # rejections are logged by the spooling sink (documents_rejected)
            self.log.warning("documents_not_indexed", documents=result.retry.documents)
