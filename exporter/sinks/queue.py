"""Delivery off the scrape path: the scrape hands its documents over and goes on; one worker sends them.

`QueuedSink` wraps the daemon's sink (Elasticsearch with its on-disk spool). `deliver()` only enqueues, so a
slow or hanging Elasticsearch never costs a scrape slot. The queue is bounded in documents: a batch that does
not fit goes straight to the spool (local disk, fast) instead of waiting, and is counted and logged
(`delivery_queue_full`). On close, what the worker could not send in time is spooled too: every measurement
is indexed, spooled, rejected or counted as dropped, never silently lost.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Any

from exporter import logs
from exporter.sinks.elasticsearch import DeliveryResult


@dataclass(frozen=True)
class QueueHealth:
    queued_documents: int
    max_documents: int
    spilled_documents: int  # sent straight to the spool because the queue was full
    delivered_batches: int


class QueuedSink:
    def __init__(self, inner, max_documents: int = 200_000):
        self.inner = inner
        self.max_documents = max_documents
        self.log = logs.get()
        self._queue: collections.deque[list[dict[str, Any]]] = collections.deque()
        self._queued = 0
        self._in_flight: list[dict[str, Any]] | None = None
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

    def prune(self):
        return self.inner.prune()

    def health(self):
        return self.inner.health() if hasattr(self.inner, "health") else None

    def counts(self):
        """The inner sink's documents by outcome (exporter.sinks.ledger.SinkCounts), None without a spool."""
        counts = getattr(self.inner, "counts", None)
        return counts() if counts is not None else None

    def queue_health(self) -> QueueHealth:
        with self._cond:
            return QueueHealth(self._queued, self.max_documents, self._spilled, self._batches)

    def deliver(self, docs: list[dict[str, Any]]) -> DeliveryResult:
        if not docs:
            return DeliveryResult()
        with self._cond:
            fits = self._queued + len(docs) <= self.max_documents and not self._closing
            if fits:
                self._queue.append(docs)
                self._queued += len(docs)
                self._cond.notify()
                return DeliveryResult(queued=len(docs))
            self._spilled += len(docs)
        reason = "delivery queue full" if not self._closing else "daemon stopping"
        self.log.warning("delivery_queue_full", documents=len(docs), queued=self._queued,
                         max_documents=self.max_documents, detail=f"{reason}: sent to the spool")
        return self._spool(docs, reason)

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
            self._queued = 0
        spooled = 0
        for batch in left:
            self._spool(batch, "daemon stopping before Elasticsearch took it")
            spooled += len(batch)
        if spooled:
            self.log.warning("delivery_spooled_at_stop", documents=spooled)
        return spooled

    # --- the worker -------------------------------------------------------------------------------

    def _spool(self, docs: list[dict[str, Any]], reason: str) -> DeliveryResult:
        spool_now = getattr(self.inner, "spool_now", None)
        if spool_now is not None:
            return spool_now(docs, reason)
        self.log.error("documents_dropped", documents=len(docs), reason=f"{reason} and no spool")
        return DeliveryResult(error=f"dropped: {reason}")

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
                    self._queued -= len(batch)
                else:
                    return  # closing with nothing left
            if batch is None:
                self._setup()
                continue
            self._send(batch)
            with self._cond:
                if self._in_flight is batch:
                    self._in_flight = None
                    self._batches += 1
                self._cond.notify_all()
                if self._closing and not self._queue:
                    return

    def _setup(self) -> None:
        try:
            mode = self.inner.setup()
            self.log.info("sink_ready", storage=mode, target=self.inner.name)
        except Exception as exc:  # noqa: BLE001 - retried by the first delivery
            self.log.error("sink_setup_failed", error=logs.mask(str(exc)))

    def _send(self, docs: list[dict[str, Any]]) -> None:
        try:
            result = self.inner.deliver(docs)
        except Exception as exc:  # noqa: BLE001 - the spooling sink absorbs outages; anything else is a bug
            self.log.error("sink_unavailable", error=logs.mask(str(exc)), documents=len(docs))
            self._spool(docs, f"{type(exc).__name__}: {exc}")
            return
        if result.retry:  # rejections are logged by the spooling sink (documents_rejected)
            self.log.warning("documents_not_indexed", documents=len(result.retry))
