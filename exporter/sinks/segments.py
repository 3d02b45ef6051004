"""The on-disk spool: batches Elasticsearch could not take, one segment file each, under a total-bytes cap.

Layout of `spool.dir`:
- `<sequence>-<documents>.ndjson`, or `<sequence>-<documents>-a<attempts>.ndjson` once a replay was asked to
  retry part of it: one segment per batch (exporter/output/batch.py), a monotonically increasing 12-digit
  sequence (oldest first). Its first line says what follows (`{"lagwatch_batch":1,"documents":...,"day":...,
  "crc32":...}`), the rest is the batch's `_bulk` body as it was encoded: it is sent again as it is read;
- `dead-letter/`: segments Elasticsearch kept asking to retry after every attempt, same format, each with a
  `.reason` file saying why. Move one back into `spool.dir` (and restart) to have it replayed again.

A segment is written to a temporary name, fsync'd, renamed and the directory fsync'd, so after a crash a
segment is either complete or absent; a write that fails (full disk) removes its temporary file. Only when a
new segment would exceed the cap are the oldest segments deleted; every document lost that way, in a damaged
segment (its checksum tells, then every document that still parses is kept) or in a failed write is counted in
`dropped_documents` (and logged by the caller or here).

Segments written before batches (`<sequence>-<documents>[-a<attempts>].jsonl`: one document with its `_id` per
line) are read once when the spool opens, rewritten as batches under the same sequence, and removed
(exporter/sinks/segment_files.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from exporter import logs
from exporter.output.batch import Batch
from exporter.sinks import segment_files
from exporter.sinks.segment_files import newest_within

_SEGMENT = re.compile(r"^(\d{12})-(\d+)(?:-a(\d+))?\.(ndjson|jsonl)$")
DEAD_LETTER = "dead-letter"


@dataclass(frozen=True)
class Segment:
    sequence: int
    documents: int
    size: int
    path: Path
    attempts: int = 0  # replays in which Elasticsearch asked to retry (part of) this segment


@dataclass(frozen=True)
class Appended:
    """What `Spool.add` did with one batch."""

    spooled: int  # documents of the batch now on disk
    dropped: int  # documents of the batch lost: beyond the cap (its oldest), or all of it when the write failed
    evicted: int  # older spooled documents deleted to make room (oldest segments first)
    error: str | None = None  # why the segment could not be written (full disk, read-only volume)


def _name(sequence: int, documents: int, attempts: int) -> str:
    suffix = f"-a{attempts}" if attempts else ""
    return f"{sequence:012d}-{documents}{suffix}.ndjson"


class Spool:
    """Append-only segments with a total-bytes cap; safe to share between the per-cluster threads."""

    def __init__(self, directory: str | os.PathLike, max_bytes: int):
        self.dir = Path(directory)
        self.dead_letter_dir = self.dir / DEAD_LETTER
        self.max_bytes = int(max_bytes)
        self.log = logs.get().bind(spool=str(self.dir))
        self._lock = threading.Lock()
        self.dropped_documents = 0  # since start: cap, damaged segments, failed writes
        self._busy: set[int] = set()  # segments a replay is sending: never evicted under its feet
        self.dir.mkdir(parents=True, exist_ok=True)
        self._segments: dict[int, Segment] = {}
        older: list[Segment] = []  # written before batches
        for path in self.dir.iterdir():
            match = _SEGMENT.match(path.name)
            if match:
                seq, docs, attempts = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
                found = Segment(seq, docs, path.stat().st_size, path, attempts)
                if match.group(4) == "jsonl":
                    older.append(found)
                    continue
                other = self._segments.get(seq)
                if other is not None:
                    # A crash between writing a rewritten segment and deleting the one it replaces: the rewrite
                    # (more attempts, fewer documents: the rest was indexed) is the one to keep.
                    keep, drop = sorted((found, other), key=lambda s: (-s.attempts, s.documents))
                    drop.path.unlink(missing_ok=True)
                    found = keep
                self._segments[seq] = found
            elif path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)  # a write interrupted by a crash: never renamed, never counted
        self._next = max([*self._segments, *(s.sequence for s in older)], default=0) + 1
        for segment in sorted(older, key=lambda s: s.sequence):
            self._upgrade(segment)
        self.recovered_documents = self.documents  # left by a previous run
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

    def count_dropped(self, documents: int) -> None:
        with self._lock:
            self.dropped_documents += documents

    @contextlib.contextmanager
    def sending(self, segment: Segment):
        """While a replay sends `segment`, the cap evicts other segments, not this one."""
        with self._lock:
            self._busy.add(segment.sequence)
        try:
            yield
        finally:
            with self._lock:
                self._busy.discard(segment.sequence)

    # --- writing -----------------------------------------------------------------------------------

    def append(self, batch: Batch) -> int:
        """Spool one batch; returns documents dropped to stay under the cap (its own and older ones)."""
        done = self.add(batch)
        return done.dropped + done.evicted

    def add(self, batch: Batch) -> Appended:
        """Spool one batch as one segment, oldest documents (older segments first) dropped at the cap.
        A segment that cannot be written leaves nothing behind; its documents count as dropped."""
        if not batch.documents:
            return Appended(0, 0, 0)
        whole = batch.documents
        evicted = evicted_segments = 0
        with self._lock:
            # A batch larger than the whole cap keeps its newest documents (the self document is last).
            batch = newest_within(batch, self.max_bytes)
            total = sum(s.size for s in self._segments.values())
            for seq in sorted(self._segments):
                if total + len(segment_files.content(batch)) <= self.max_bytes:
                    break
                if seq in self._busy:
                    continue
                old = self._segments.pop(seq)
                old.path.unlink(missing_ok=True)
                total -= old.size
                evicted += old.documents
                evicted_segments += 1
            batch = newest_within(batch, self.max_bytes - total)  # the rest is being replayed right now
            dropped = whole - batch.documents
            error, failed = None, 0
            if batch.documents:
                seq = self._next
                self._next += 1
                path = self.dir / _name(seq, batch.documents, 0)
                content = segment_files.content(batch)
                try:
                    self._write(path, content)
                    self._segments[seq] = Segment(seq, batch.documents, len(content), path)
                except OSError as exc:
                    error = str(exc)
                    failed = batch.documents
            self.dropped_documents += dropped + failed + evicted
        if dropped or evicted:
            self.log.warning(
                "spool_dropped",
                documents=dropped + evicted,
                segments=evicted_segments,
                max_bytes=self.max_bytes,
                dropped_total=self.dropped_documents,
                detail="spool full: oldest documents deleted unindexed",
            )
        return Appended(batch.documents - failed, dropped + failed, evicted, error)

    def _write(self, path: Path, content: bytes) -> None:
        tmp = path.with_name(path.name + ".tmp")
        try:
            with open(tmp, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk leaves no half segment behind
            raise
        try:
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)  # the rename itself must survive a power loss
            finally:
                os.close(fd)
        except OSError as exc:  # the segment is complete and renamed: keep it, say the rename may not last
            self.log.warning("spool_dir_sync_failed", path=str(path.parent), error=str(exc))

    def adopt(self, path: Path, documents: int) -> None:
        """Take a segment file written elsewhere (exporter/sinks/writeahead.py) as the newest segment; its
        documents count as recovered. A damaged one is told by its checksum when read."""
        with self._lock:
            sequence = self._next
            self._next += 1
            target = self.dir / _name(sequence, documents, 0)
            os.replace(path, target)
            self._segments[sequence] = Segment(sequence, documents, target.stat().st_size, target)
            self.recovered_documents += documents

    # --- reading -----------------------------------------------------------------------------------

    def read(self, segment: Segment) -> Batch:
        """The segment's batch; documents of a damaged segment that no longer parse (and documents its name
        promised that are missing) are counted as dropped and logged."""
        try:
            raw = segment.path.read_bytes()
        except FileNotFoundError:
            raw = b""
        batch, bad = segment_files.batch_of(raw)
        if not bad and batch.documents == segment.documents:
            return batch
        missing = max(0, segment.documents - batch.documents - bad)
        self.count_dropped(bad + missing)
        self.log.error("spool_segment_corrupt", segment=segment.path.name, unreadable=bad + missing,
                       readable=batch.documents)
        return batch

    def remove(self, segment: Segment) -> None:
        with self._lock:
            self._segments.pop(segment.sequence, None)
        segment.path.unlink(missing_ok=True)

    def replace(self, segment: Segment, batch: Batch, attempts: int | None = None) -> None:
        """Keep only `batch` of a segment (the part a replay could not index), under the same sequence, with
        its attempts. Raises OSError when it cannot be rewritten: the segment then stays as it was."""
        if not batch.documents:
            self.remove(segment)
            return
        attempts = segment.attempts if attempts is None else attempts
        path = self.dir / _name(segment.sequence, batch.documents, attempts)
        content = segment_files.content(batch)
        with self._lock:
            if segment.sequence not in self._segments:
                return  # removed meanwhile: do not bring it back
            self._write(path, content)
            if path != segment.path:
                segment.path.unlink(missing_ok=True)
            self._segments[segment.sequence] = replace(
                segment, documents=batch.documents, size=len(content), path=path, attempts=attempts
            )

    def dead_letter(self, segment: Segment, batch: Batch, reason: str) -> Path:
        """Move `batch` (what is left of `segment`) to the dead-letter directory, with a `.reason` file, and
        the segment out of the spool. Returns the file's path. Raises OSError (the segment then stays)."""
        self.dead_letter_dir.mkdir(parents=True, exist_ok=True)
        path = self.dead_letter_dir / _name(segment.sequence, batch.documents, 0)
        self._write(path, segment_files.content(batch))
        try:
            path.with_suffix(".reason").write_text(reason + "\n")
        except OSError:
            pass  # the documents are safe; the reason is in the log too
        self.remove(segment)
        return path

    def dead_letter_documents(self) -> int:
        """Documents waiting in dead-letter files (from their names: no file is read)."""
        try:
            names = [p.name for p in self.dead_letter_dir.iterdir()]
        except OSError:
            return 0
        return sum(int(m.group(2)) for m in map(_SEGMENT.match, names) if m)

    # --- segments written before batches ---------------------------------------------------------

    def _upgrade(self, segment: Segment) -> None:
        """Rewrite a segment of documents as JSON lines (before batches) as a batch segment under its sequence
        (one more segment per further day its documents span), then remove it."""
        documents, bad = segment_files.read_documents(segment.path)
        if bad:
            self.dropped_documents += bad
            self.log.error("spool_segment_corrupt", segment=segment.path.name, unreadable=bad,
                           readable=len(documents))
        for index, batch in enumerate(segment_files.as_batches(documents)):
            seq = segment.sequence if index == 0 else self._next
            self._next += 0 if index == 0 else 1
            path = self.dir / _name(seq, batch.documents, segment.attempts if index == 0 else 0)
            content = segment_files.content(batch)
            self._write(path, content)
            self._segments[seq] = Segment(seq, batch.documents, len(content), path, segment.attempts if index == 0 else 0)
        segment.path.unlink(missing_ok=True)
        self.log.info("spool_segment_upgraded", segment=segment.path.name, documents=len(documents))
