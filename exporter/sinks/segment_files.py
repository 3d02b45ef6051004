"""What one spool segment file holds, and reading it back whole or damaged (pure, no I/O but reading a file).

A segment is one batch (exporter/output/batch.py): a first line saying what follows (`{"lagwatch_batch":1,
"documents":...,"day":...,"crc32":...}`), then the batch's `_bulk` body as it was encoded. The checksum tells a
whole segment from a damaged one without parsing it; of a damaged one, every document that still parses is
kept. Segments written before batches held one document per line, with its `_id` (`read_documents`).
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import msgspec

from exporter.output.batch import Batch, day_of, document_id_of, from_documents


class _Header(msgspec.Struct, frozen=True):
    """A segment's first line."""

    lagwatch_batch: int  # the format: 1
    documents: int
    day: str
    crc32: int  # of the body: a damaged segment is told apart from a whole one without parsing it


HEADER_ROOM = 100  # bytes a header line never exceeds


def content(batch: Batch) -> bytes:
    """A segment file's bytes: the header line, then the body."""
    header = _Header(1, batch.documents, batch.day, zlib.crc32(batch.body))
    return msgspec.json.encode(header) + b"\n" + batch.body


def batch_of(raw: bytes) -> tuple[Batch, int]:
    """The batch a segment file's bytes hold, and how many of its documents could not be read."""
    first, _, body = raw.partition(b"\n")
    try:
        header = msgspec.json.decode(first, type=_Header)
    except msgspec.DecodeError:
        header = None
    if header is not None and header.crc32 == zlib.crc32(body) and body.count(b"\n") == 2 * header.documents:
        return Batch(body, header.documents, header.day), 0
    return _salvaged(body, header.day if header is not None else None)


def newest_within(batch: Batch, room: int) -> Batch:
    """The batch, or, when its segment would not fit in `room` bytes, its newest documents that do."""
    if len(content(batch)) <= room:
        return batch
    pairs = batch.pairs()
    room -= HEADER_ROOM
    keep = len(pairs)
    while keep and len(pairs[keep - 1][0]) + len(pairs[keep - 1][1]) + 2 <= room:
        room -= len(pairs[keep - 1][0]) + len(pairs[keep - 1][1]) + 2
        keep -= 1
    return batch.subset(range(keep, len(pairs)))


def _salvaged(body: bytes, day: str | None) -> tuple[Batch, int]:
    """The documents of a damaged body that still parse, and how many did not."""
    kept: list[bytes] = []
    bad = 0
    lines = body.split(b"\n")
    for action, source in zip(lines[0::2], lines[1::2]):
        try:
            document_id_of(action)
            document = msgspec.json.decode(source)
        except (msgspec.DecodeError, ValueError, KeyError, TypeError):
            bad += 1
            continue
        if not isinstance(document, dict):
            bad += 1
            continue
        day = day or day_of(document)
        kept += [action, source]
    if len(lines) % 2 == 0 and lines[-1]:
        bad += 1  # an action line whose source line is gone
    return Batch(b"".join(line + b"\n" for line in kept), len(kept) // 2, day or ""), bad


def read_documents(path: Path) -> tuple[list[dict[str, Any]], int]:
    """A segment written before batches: its documents (each with its `_id`), and how many lines could not be
    read."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raw = b""
    documents, bad = [], 0
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(document, dict) and "_id" in document:
            documents.append(document)
        else:
            bad += 1
    return documents, bad


def as_batches(documents: list[dict[str, Any]]) -> list[Batch]:
    """Documents of one old segment as batches: one, unless they span more than one day."""
    return from_documents(documents, max_documents=max(1, len(documents)))
