"""SpoolingSink: Elasticsearch with an on-disk spool (exporter/sinks/segments.py), and an outcome for every
document it is given.

Every document handed to `deliver()` or `spool_now()` ends in exactly one of: indexed (or already there),
rejected by Elasticsearch (a 4xx item such as a mapping conflict, or a request refused as a whole: counted
with the reason, never retried), spooled (on disk, replayed later), or dropped (the spool's cap, a full disk,
an unreadable line: counted and logged). A spooled document later ends indexed, rejected, dropped or
dead-lettered. `counts()` is the ledger; it balances at any moment:

    offered + recovered == indexed + rejected + dropped + dead_lettered + pending

Replays go oldest segment first. A segment whose documents Elasticsearch keeps asking to retry (429/5xx
items) does not hold up the others: it keeps only the documents still to send, waits a growing pause
(`backoff_s`, doubling up to `backoff_max_s`) while the replay goes on with the next segments, and after
`max_attempts` such replays moves to the dead-letter directory. Documents carry deterministic `_id`s, so a
segment replayed twice (a crash between indexing and deleting it) overwrites instead of duplicating.

A request Elasticsearch refuses as a whole (4xx other than 429: credentials, privileges, a conflicting
template), or one in which it rejects every document, is a configuration problem: logged as
`sink_refused`, shown by /readyz until a later delivery indexes again, and its documents are counted as
rejected instead of filling the spool with requests that cannot succeed.
"""

from __future__ import annotations

import threading
import time

from exporter import logs
from exporter.output.batch import Batch
from exporter.sinks.interface import DeliveryResult, Sink, SinkRefused, SinkUnavailable
from exporter.sinks.ledger import SinkCounts, SinkHealth
from exporter.sinks.segments import Appended, Segment, Spool

__all__ = ["SinkCounts", "SinkHealth", "SpoolingSink", "Segment", "Spool"]


def _masked(exc: Exception) -> str:
    message = str(exc) if isinstance(exc, (SinkUnavailable, SinkRefused)) else f"{type(exc).__name__}: {exc}"
    return logs.mask(message)


class SpoolingSink:
    """A sink (exporter/sinks/interface.py: Elasticsearch) whose batches wait on disk when it cannot take them.

    New documents are sent first (fresh data matters most to alerting), then up to `replay_documents` spooled
    documents per delivery. While the backlog drains, a delivery is never held for more than one bounded replay.
    """

    def __init__(
        self,
        inner: Sink,
        spool: Spool,
        replay_documents: int = 10_000,
        retry_after_s: float = 3.0,
        clock=None,
        *,
        max_attempts: int = 10,
        backoff_s: float = 15.0,
        backoff_max_s: float = 600.0,
    ):
        self.inner = inner
        self.spool = spool
        self.replay_documents = replay_documents
        # After a failure, later batches within this time go straight to the spool: a scrape delivered in
        # several chunks waits on an unreachable Elasticsearch once, not once per chunk.
        self.retry_after_s = retry_after_s
        self.clock = clock or time.monotonic
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.log = logs.get()
        self._replay_lock = threading.Lock()
        # Held around every change of the spool and the counters together, so counts() always balances.
        self._state = threading.RLock()
        self._n = {"offered": 0, "indexed": 0, "spooled": 0, "replayed": 0, "rejected": 0, "dead_lettered": 0}
        self._not_before: dict[int, float] = {}  # segment sequence -> clock() before which it is not resent
        self._failed_at: float | None = None
        self._reachable: bool | None = None
        self._dropping = False
        self._last_error: str | None = None
        self._refused: str | None = None

    @property
    def name(self) -> str:
        return self.inner.name

    def setup(self):
        try:
            mode = self.inner.setup()
        except SinkRefused as exc:
            self._refuse(_masked(exc), during="setup")
            raise
        self._refused = None  # the template went in: whether bulk requests do too, the next delivery says
        return mode

    def prune(self):
        return self.inner.prune()

    @property
    def retention_refused(self) -> str | None:
        return self.inner.retention_refused

    # --- what the endpoints and the self document read ---------------------------------------------

    def counts(self) -> SinkCounts:
        with self._state:
            return SinkCounts(
                recovered=self.spool.recovered_documents,
                dropped=self.spool.dropped_documents,
                pending=self.spool.documents,
                **self._n,
            )

    def health(self) -> SinkHealth:
        counts = self.counts()
        return SinkHealth(
            reachable=self._reachable,
            spool_bytes=self.spool.bytes,
            spool_documents=counts.pending,
            spool_max_bytes=self.spool.max_bytes,
            dropped_documents=counts.dropped,
            dropping=self._dropping,
            last_error=self._last_error,
            refused=self._refused or self.inner.retention_refused,
            rejected_documents=counts.rejected,
            dead_lettered_documents=counts.dead_lettered,
            deferred_segments=sum(1 for s in self.spool.segments() if s.attempts),
            dead_letter_dir=str(self.spool.dead_letter_dir),
        )

    # --- delivering ----------------------------------------------------------------------------------

    def _count(self, **amounts: int) -> None:
        with self._state:
            for key, amount in amounts.items():
                self._n[key] += amount

    def _refuse(self, message: str, during: str) -> None:
        self._refused = message
        self.log.error(
            "sink_refused", error=message, during=during,
            detail="Elasticsearch refuses lagwatch's requests: a configuration problem (credentials, privileges, "
                   "index template or mapping); documents are counted as rejected, not spooled, until it is fixed",
        )

    def _spool(self, batch: Batch, reason: str) -> Appended:
        with self._state:
            done = self.spool.add(batch)
            self._n["spooled"] += done.spooled
        if done.dropped or done.evicted:
            self._dropping = True
        if done.error is not None:  # disk full, read-only volume: nothing more we can do but say so loudly
            self.log.error("spool_write_failed", documents=done.dropped, error=done.error,
                           spool_dir=str(self.spool.dir), detail="documents dropped unindexed")
        if done.spooled:
            self.log.warning("documents_spooled", documents=done.spooled, reason=reason,
                             spool_documents=self.spool.documents, spool_bytes=self.spool.bytes)
        return done

    def _spooled(self, batch: Batch, reason: str) -> DeliveryResult:
        done = self._spool(batch, reason)
        if done.dropped:
            why = done.error or f"spool full ({self.spool.max_bytes} bytes)"
            error = f"dropped {done.dropped} of {batch.documents} documents ({why}): {reason}"
        else:
            error = f"spooled: {reason}"
        return DeliveryResult(spooled=done.spooled, dropped=done.dropped, error=error)

    def _rejected(self, batch: Batch, reason: str) -> DeliveryResult:
        self._count(rejected=batch.documents)
        return DeliveryResult(rejected=[(doc_id, reason) for doc_id in batch.ids()], error=f"rejected: {reason}")

    def _note(self, result: DeliveryResult, sent: int, replayed: bool = False) -> None:
        """Count what Elasticsearch indexed and rejected; every document rejected is a configuration problem."""
        indexed = result.indexed + result.duplicates
        self._count(indexed=indexed, replayed=indexed if replayed else 0, rejected=len(result.rejected))
        if result.rejected:
            reasons = list(dict.fromkeys(reason for _, reason in result.rejected))
            self.log.error(
                "documents_rejected", documents=len(result.rejected), reasons=reasons[:3],
                ids=[doc_id for doc_id, _ in result.rejected[:10]], replayed=replayed,
                rejected_total=self._n["rejected"],
            )
            if not replayed and len(result.rejected) == sent and self._refused is None:
                self._refuse(f"every document of the last delivery was rejected: {reasons[0]}", during="bulk")
        if indexed:
            self._refused = None

    def spool_now(self, batch: Batch, reason: str) -> DeliveryResult:
        """Keep a batch on disk without trying Elasticsearch (the delivery queue is full, or stopping)."""
        self._count(offered=batch.documents)
        return self._spooled(batch, reason)

    def deliver(self, batch: Batch) -> DeliveryResult:
        self._count(offered=batch.documents)
        since = None if self._failed_at is None else self.clock() - self._failed_at
        if since is not None and since < self.retry_after_s:
            if self._refused is not None:
                return self._rejected(batch, self._refused)
            return self._spooled(batch, f"Elasticsearch failed {since:.1f}s ago: {self._last_error}")
        try:
            result = self.inner.deliver(batch)
        except SinkRefused as exc:
            message = _masked(exc)
            self._reachable, self._last_error, self._failed_at = True, message, self.clock()
            self._refuse(message, during="bulk")
            return self._rejected(batch, message)
        except Exception as exc:  # noqa: BLE001 - unreachable, overloaded or failing: the spool keeps them
            message = _masked(exc)
            self._reachable, self._last_error, self._failed_at = False, message, self.clock()
            return self._spooled(batch, message)
        self._reachable, self._last_error, self._failed_at = True, None, None
        self._note(result, batch.documents)
        if result.retry is not None:
            done = self._spooled(result.retry, f"Elasticsearch asked to retry: {result.retry_reason}")
            result.spooled, result.dropped, result.retry = done.spooled, done.dropped, None
            if done.dropped:
                result.error = done.error
        else:
            self._dropping = False
            self.replay()
        return result

    # --- replaying -----------------------------------------------------------------------------------

    def replay(self) -> int:
        """Send spooled segments oldest first, at most `replay_documents` per call; returns documents indexed."""
        if not len(self.spool) or not self._replay_lock.acquire(blocking=False):
            return 0  # another thread is already replaying
        try:
            return self._replay()
        finally:
            self._replay_lock.release()

    def _backoff(self, attempts: int) -> float:
        return min(self.backoff_max_s, self.backoff_s * 2 ** (attempts - 1))

    def _replay(self) -> int:
        budget, indexed, segments, rejected = self.replay_documents, 0, 0, 0
        now = self.clock()
        for segment in self.spool.segments():
            if budget <= 0:
                break
            if self._not_before.get(segment.sequence, now) > now:
                continue  # waiting out its pause: the rest of the backlog goes on
            with self.spool.sending(segment):
                with self._state:
                    batch = self.spool.read(segment)
                try:
                    result = self.inner.deliver(batch) if batch.documents else DeliveryResult()
                except SinkRefused as exc:
                    self._refuse(_masked(exc), during="replay")
                    break
                except Exception as exc:  # noqa: BLE001 - unreachable again: the segment stays for later
                    self._reachable, self._last_error = False, _masked(exc)
                    break
                budget -= batch.documents
                if not self._settle(segment, result, now):
                    continue
            self._note(result, batch.documents, replayed=True)
            indexed += result.indexed + result.duplicates
            rejected += len(result.rejected)
            segments += 0 if result.retry is not None else 1
        if indexed or segments:
            self.log.info(
                "spool_replayed", documents=indexed, segments=segments, rejected=rejected,
                remaining_documents=self.spool.documents, remaining_segments=len(self.spool),
            )
        return indexed

    def _settle(self, segment: Segment, result: DeliveryResult, now: float) -> bool:
        """Remove the segment, keep its retry part for a later attempt, or dead-letter it. False when the disk
        would not take the change: the segment then stays whole (its documents are sent again later)."""
        seq = segment.sequence
        if result.retry is None:
            with self._state:
                self.spool.remove(segment)
            self._not_before.pop(seq, None)
            return True
        attempts = segment.attempts + 1
        reason = result.retry_reason or "Elasticsearch asked to retry (429/5xx items)"
        try:
            if attempts >= self.max_attempts:
                with self._state:
                    path = self.spool.dead_letter(segment, result.retry, f"after {attempts} attempts: {reason}")
                    self._n["dead_lettered"] += result.retry.documents
                self._not_before.pop(seq, None)
                self.log.error(
                    "spool_dead_lettered", segment=seq, documents=result.retry.documents, attempts=attempts,
                    reason=reason, path=str(path),
                    detail="moved aside, no longer retried; move the file back into the spool directory to retry",
                )
            else:
                with self._state:
                    self.spool.replace(segment, result.retry, attempts)
                pause = self._backoff(attempts)
                self._not_before[seq] = now + pause
                self.log.warning(
                    "spool_segment_deferred", segment=seq, documents=result.retry.documents, attempts=attempts,
                    max_attempts=self.max_attempts, retry_in_s=pause, reason=reason,
                )
        except OSError as exc:
            self._not_before[seq] = now + self._backoff(attempts)
            self.log.error("spool_rewrite_failed", segment=seq, error=str(exc),
                           detail="segment kept whole; its documents are sent again later")
            return False
        return True
