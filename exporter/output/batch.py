"""Documents encoded once, ready to send (pure, no I/O).

A Batch is one `_bulk` request body and what a sink needs to know about it. The body is NDJSON: for each document
an action line, `{"index":{"_id":"<id>"}}`, and its source line (the document without `_id`). No `_index` in the
action lines: the sink names the index in the request's path (the batch's `day` picks a daily index), so a batch
written today is still sent where the sink's current settings say. What comes after the scrape (the delivery queue,
the spool, the dead-letter directory) holds these bytes, never the documents as Python objects; a document's id is
read back from its action line only when a delivery needs it (a rejection to report, a subset to send again).

A JSON line never contains a raw newline (JSON escapes it inside strings), so the body splits into its lines
exactly on `\n`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import msgspec

from exporter.output import fields

ACTION = b'{"index":{"_id":'  # how every action line of a batch begins (output/documents.py writes them)
_encoder = msgspec.json.Encoder()


class Batch(msgspec.Struct, frozen=True, gc=False):
    """A `_bulk` request body of `documents` documents (see the module docstring)."""

    body: bytes
    documents: int
    day: str  # the UTC day (YYYY.MM.DD) of the documents' scrape slot: which daily index they belong in

    @property
    def size(self) -> int:
        return len(self.body)

    @staticmethod
    def joined(batches: Sequence[Batch]) -> Batch:
        """Batches of one day as one, in order."""
        return Batch(b"".join(b.body for b in batches), sum(b.documents for b in batches), batches[0].day)

    def operations(self, operation: str = "index") -> bytes:
        """The body with every action asking for `operation`: "index" (add or overwrite), or "create", the only
        one a data stream takes. Only action lines can hold `{"index":{"_id":` with those quotes unescaped:
        inside a source line's strings a quote is escaped, and no lagwatch document has a member named
        "index" holding an object (the count check below would say so)."""
        if operation == "index":
            return self.body
        action = b'{"' + operation.encode() + b'":{"_id":'
        body = self.body.replace(ACTION, action)
        if body.count(action) != self.documents:
            raise ValueError(f"a batch of {self.documents} documents has {body.count(action)} action lines")
        return body

    def pairs(self) -> list[tuple[bytes, bytes]]:
        """(action line, source line) per document, in order, without their newlines."""
        lines = self.body.split(b"\n")
        return list(zip(lines[0::2], lines[1::2]))

    def ids(self) -> list[str]:
        return [document_id_of(action) for action, _ in self.pairs()]

    def subset(self, positions: Iterable[int]) -> Batch:
        """The documents at these positions (0-based, in the batch's order), as a batch of their own."""
        pairs = self.pairs()
        chosen = [pairs[i] for i in positions]
        return Batch(b"".join(action + b"\n" + source + b"\n" for action, source in chosen), len(chosen), self.day)

    def parts(self, max_documents: int) -> Iterator[Batch]:
        """This batch in pieces of at most `max_documents` documents (itself when it is small enough)."""
        if self.documents <= max_documents:
            yield self
            return
        for start in range(0, self.documents, max_documents):
            yield self.subset(range(start, min(start + max_documents, self.documents)))

    def decode(self) -> list[dict[str, Any]]:
        """The documents as dicts, each with its `_id` (for tests and tools: lagwatch itself never needs it)."""
        decoded = []
        for action, source in self.pairs():
            document = msgspec.json.decode(source)
            document["_id"] = document_id_of(action)
            decoded.append(document)
        return decoded


def document_id_of(action: bytes) -> str:
    """The `_id` of an action line (`{"index":{"_id":...}}`, or any other operation)."""
    ((_, target),) = msgspec.json.decode(action).items()
    return target["_id"]


def action_line(document_id: str) -> bytes:
    return ACTION + _encoder.encode(document_id) + b"}}"


@lru_cache(maxsize=64)  # one scrape's documents share one slot: its day is formatted once
def slot_day(slot_ms: int) -> str:
    """The UTC day of a scrape slot (ms), as daily indices name it."""
    return datetime.fromtimestamp(slot_ms / 1000, tz=timezone.utc).strftime("%Y.%m.%d")


def day_of(document: dict[str, Any]) -> str:
    """The day a document belongs to: its scrape slot's, or, without a slot (alert transitions), its time's."""
    if fields.SLOT in document:
        return slot_day(document[fields.SLOT])
    when = datetime.fromisoformat(document[fields.TIMESTAMP].replace("Z", "+00:00"))
    return when.strftime("%Y.%m.%d")


def from_documents(documents: Sequence[dict[str, Any]], max_documents: int = 1000) -> list[Batch]:
    """Documents given as dicts, each with its `_id` (alert transitions, the self document of a skipped slot,
    a spool written by lagwatch before batches), encoded in their order: a new batch where the day changes
    or `max_documents` is reached."""
    batches: list[Batch] = []
    lines: list[bytes] = []
    day = None
    for document in documents:
        source = {k: v for k, v in document.items() if k != "_id"}
        this_day = day_of(document)
        if lines and (this_day != day or len(lines) // 2 >= max_documents):
            batches.append(_joined(lines, day))
            lines = []
        day = this_day
        lines += [action_line(document["_id"]), _encoder.encode(source)]
    if lines:
        batches.append(_joined(lines, day))
    return batches


def _joined(lines: list[bytes], day: str | None) -> Batch:
    return Batch(b"\n".join(lines) + b"\n", len(lines) // 2, day or "")
