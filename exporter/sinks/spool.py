"""A bounded on-disk spool for documents Elasticsearch could not take, and the sink wrapper that uses it.

Layout: one directory, one JSON-lines segment per failed batch, named `<sequence>-<documents>.jsonl` with
a monotonically increasing 12-digit sequence. A segment is written to a temporary name, fsync'd, renamed
and the directory fsync'd, so after a crash a segment is either complete or absent. The spool survives
restarts of the daemon: segments left by a previous run are replayed like any other.

The total size is capped (`spool.max_bytes`): only when a new segment would exceed it are the oldest
segments deleted, and every dropped document is counted and logged (`spool_dropped`). Replays go oldest
first; documents carry deterministic `_id`s, so a segment replayed twice (a crash between indexing and
deleting it) overwrites instead of duplicating.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporter import logs
from exporter.sinks.elasticsearch import DeliveryResult, SinkUnavailable

_SEGMENT = re.compile(r"^(\d{12})-(\d+)\.jsonl$")


def default_dir() -> Path:
    """$LAGWATCH_STATE_DIR/spool, else the XDG state dir ($XDG_STATE_HOME or ~/.local/state)/lagwatch/spool.

    The container image sets LAGWATCH_SPOOL__DIR=/var/lib/lagwatch/spool (a volume) instead."""
    state = os.environ.get("LAGWATCH_STATE_DIR")
    if state:
        return Path(state).expanduser() / "spool"
    xdg = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(xdg) / "lagwatch" / "spool"


@dataclass(frozen=True)
class Segment:
    sequence: int
    documents: int
    size: int
    path: Path


class Spool:
    """Append-only segments with a total-bytes cap; safe to share between the per-cluster scrape threads."""

    def __init__(self, directory: str | os.PathLike, max_bytes: int):
        self.dir = Path(directory)
        self.max_bytes = int(max_bytes)
        self.log = logs.get().bind(spool=str(self.dir))
        self._lock = threading.Lock()
        self.dropped_documents = 0  # since start: dropped at the cap or unreadable
        self.dir.mkdir(parents=True, exist_ok=True)
        self._segments: dict[int, Segment] = {}
        for path in self.dir.iterdir():
            match = _SEGMENT.match(path.name)
            if match:
                seq, docs = int(match.group(1)), int(match.group(2))
                self._segments[seq] = Segment(seq, docs, path.stat().st_size, path)
            elif path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)  # a write interrupted by a crash: never renamed, never counted
        self._next = max(self._segments, default=0) + 1
        if self._segments:
            self.log.info("spool_found", segments=len(self._segments), documents=self.documents, bytes=self.bytes)

    # --- state -----------------------------------------------------------------------------------

    @property
    def bytes(self) -> int:
        with self._lock:
            return sum(s.size for s in self._segments.values())

    @property
    def documents(self) -> int:
        with self._lock:
            return sum(s.documents for s in self._segments.values())

    def segments(self) -> list[Segment]:
        """Oldest first."""
        with self._lock:
            return [self._segments[k] for k in sorted(self._segments)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._segments)

    # --- writing -----------------------------------------------------------------------------------

    @staticmethod
    def _encode(docs: list[dict[str, Any]]) -> list[bytes]:
        return [json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for d in docs]

    def append(self, docs: list[dict[str, Any]]) -> int:
        """Spool one batch as one segment; returns documents dropped to stay under the cap (oldest first)."""
        if not docs:
            return 0
        lines = self._encode(docs)
        dropped = 0
        # A batch larger than the whole cap keeps its newest documents (the self document is last).
        while lines and sum(map(len, lines)) > self.max_bytes:
            lines.pop(0)
            dropped += 1
        size = sum(map(len, lines))
        dropped_segments = 0
        with self._lock:
            total = sum(s.size for s in self._segments.values())
            for seq in sorted(self._segments):
                if total + size <= self.max_bytes:
                    break
                old = self._segments.pop(seq)
                old.path.unlink(missing_ok=True)
                total -= old.size
                dropped += old.documents
                dropped_segments += 1
            if lines:
                seq = self._next
                self._next += 1
                path = self.dir / f"{seq:012d}-{len(lines)}.jsonl"
                self._write(path, lines)
                self._segments[seq] = Segment(seq, len(lines), size, path)
            self.dropped_documents += dropped
        if dropped:
            self.log.warning(
                "spool_dropped",
                documents=dropped,
                segments=dropped_segments,
                max_bytes=self.max_bytes,
                dropped_total=self.dropped_documents,
                detail="spool full: oldest documents deleted unindexed",
            )
        return dropped

    def _write(self, path: Path, lines: list[bytes]) -> None:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as handle:
            handle.writelines(lines)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)  # the rename itself must survive a power loss
        finally:
            os.close(fd)

    # --- reading -----------------------------------------------------------------------------------

    def read(self, segment: Segment) -> list[dict[str, Any]]:
        """The segment's documents; unreadable lines are skipped, counted as dropped and logged."""
        try:
            raw = segment.path.read_bytes()
        except FileNotFoundError:
            return []
        docs, bad = [], 0
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(doc, dict) and "_id" in doc:
                docs.append(doc)
            else:
                bad += 1
        if bad:
            with self._lock:
                self.dropped_documents += bad
            self.log.error("spool_segment_corrupt", segment=segment.path.name, unreadable=bad, readable=len(docs))
        return docs

    def remove(self, segment: Segment) -> None:
        with self._lock:
            self._segments.pop(segment.sequence, None)
        segment.path.unlink(missing_ok=True)

    def replace(self, segment: Segment, docs: list[dict[str, Any]]) -> None:
        """Keep only `docs` of a segment (the part a replay could not index), under the same sequence."""
        if not docs:
            self.remove(segment)
            return
        lines = self._encode(docs)
        path = self.dir / f"{segment.sequence:012d}-{len(lines)}.jsonl"
        with self._lock:
            if segment.sequence not in self._segments:
                return  # dropped at the cap while a replay was delivering it: do not bring it back
            self._write(path, lines)
            if path != segment.path:
                segment.path.unlink(missing_ok=True)
            self._segments[segment.sequence] = Segment(segment.sequence, len(lines), sum(map(len, lines)), path)


@dataclass(frozen=True)
class SinkHealth:
    reachable: bool | None  # None: nothing delivered yet
    spool_bytes: int
    spool_documents: int
    spool_max_bytes: int
    dropped_documents: int
    dropping: bool  # documents were dropped at the cap since the sink was last reachable
    last_error: str | None

    @property
    def ready(self) -> bool:
        return bool(self.reachable) or not self.dropping


class SpoolingSink:
    """An ElasticsearchSink (or any sink with deliver/setup/prune/name) that spools what it cannot index.

    New documents are sent first (fresh data matters most to alerting), then up to `replay_documents` spooled
    documents per delivery, oldest segment first. While the backlog drains, the scrape loop is never blocked
    for more than one bounded replay.
    """

    def __init__(self, inner, spool: Spool, replay_documents: int = 10_000, retry_after_s: float = 3.0, clock=None):
        self.inner = inner
        self.spool = spool
        self.replay_documents = replay_documents
        # After a failure, later batches within this time go straight to the spool: a scrape delivered in
        # several chunks waits on an unreachable Elasticsearch once, not once per chunk.
        self.retry_after_s = retry_after_s
        self.clock = clock or time.monotonic
        self._failed_at: float | None = None
        self.log = logs.get()
        self._replay_lock = threading.Lock()
        self._reachable: bool | None = None
        self._dropping = False
        self._last_error: str | None = None

    @property
    def name(self) -> str:
        return self.inner.name

    def setup(self):
        return self.inner.setup()

    def prune(self):
        return self.inner.prune()

    def health(self) -> SinkHealth:
        return SinkHealth(
            reachable=self._reachable,
            spool_bytes=self.spool.bytes,
            spool_documents=self.spool.documents,
            spool_max_bytes=self.spool.max_bytes,
            dropped_documents=self.spool.dropped_documents,
            dropping=self._dropping,
            last_error=self._last_error,
        )

    def _spool(self, docs: list[dict[str, Any]], reason: str) -> None:
        try:
            dropped = self.spool.append(docs)
        except OSError as exc:  # disk full, read-only volume: nothing more we can do but say so loudly
            self._dropping = True
            self.log.error("spool_write_failed", documents=len(docs), error=str(exc), spool_dir=str(self.spool.dir))
            return
        if dropped:
            self._dropping = True
        self.log.warning(
            "documents_spooled",
            documents=len(docs),
            reason=reason,
            spool_documents=self.spool.documents,
            spool_bytes=self.spool.bytes,
        )

    def deliver(self, docs: list[dict[str, Any]]) -> DeliveryResult:
        if self._failed_at is not None and self.clock() - self._failed_at < self.retry_after_s:
            self._spool(docs, f"Elasticsearch failed {self.clock() - self._failed_at:.1f}s ago: {self._last_error}")
            return DeliveryResult(spooled=len(docs), error=f"spooled: {self._last_error}")
        try:
            result = self.inner.deliver(docs)
        except Exception as exc:  # noqa: BLE001 - unreachable, or refusing (401/403 after a credential
            # rotation, a broken template): either way the documents wait on disk until it takes them.
            message = str(exc) if isinstance(exc, SinkUnavailable) else f"{type(exc).__name__}: {exc}"
            message = logs.mask(message)
            self._reachable, self._last_error, self._failed_at = False, message, self.clock()
            self._spool(docs, message)
            return DeliveryResult(spooled=len(docs), error=f"spooled: {message}")
        self._reachable, self._last_error, self._failed_at = True, None, None
        if result.retry:
            self._spool(result.retry, "elasticsearch asked to retry (429/5xx items)")
            result.spooled, result.retry = len(result.retry), []
        else:
            self._dropping = False
            self.replay()
        return result

    def replay(self) -> int:
        """Index spooled segments oldest first, at most `replay_documents` per call; returns documents indexed."""
        if not len(self.spool) or not self._replay_lock.acquire(blocking=False):
            return 0  # another cluster's thread is already replaying
        try:
            return self._replay()
        finally:
            self._replay_lock.release()

    def _replay(self) -> int:
        budget, indexed, segments, rejected = self.replay_documents, 0, 0, 0
        for segment in self.spool.segments():
            if budget <= 0:
                break
            docs = self.spool.read(segment)
            try:
                result = self.inner.deliver(docs) if docs else DeliveryResult()
            except SinkUnavailable as exc:
                self._reachable, self._last_error = False, str(exc)
                break
            for doc_id, reason in result.rejected[:10]:
                self.log.error("document_rejected", doc_id=doc_id, reason=reason, replayed=True)
            rejected += len(result.rejected)
            indexed += result.indexed + result.duplicates
            budget -= len(docs)
            if result.retry:
                self.spool.replace(segment, result.retry)  # keep its place in the order
                break
            self.spool.remove(segment)
            segments += 1
        if indexed or segments:
            self.log.info(
                "spool_replayed",
                documents=indexed,
                segments=segments,
                rejected=rejected,
                remaining_documents=self.spool.documents,
                remaining_segments=len(self.spool),
            )
        return indexed
