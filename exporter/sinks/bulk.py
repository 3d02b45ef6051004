"""Documents to Elasticsearch `_bulk` request bodies, straight to bytes (pure, no I/O).

Each document becomes two NDJSON lines: the action (`{"index":{"_index":...,"_id":...}}`) and its source (the
document without `_id`). A document is serialized once, with orjson, and `_id` (which exporter/output/documents.py
adds last) is cut from the end of those bytes instead of copying the dict without it. What orjson refuses (an
integer beyond 64 bits, a lone surrogate, a type it does not know) goes through the Elasticsearch client's own
JSON serializer, as every document did before. orjson writes a NaN or infinite float as null (unknown), where
the standard library would write a `NaN` token that Elasticsearch rejects; lagwatch produces none (rates divide
by a positive elapsed time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson
from elasticsearch.serializer import JsonSerializer

MAX_BODY_BYTES = 100 * 1024 * 1024  # the client's streaming_bulk default: a body never grows past it
_fallback = JsonSerializer()


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _fallback.dumps(value)


def _source_span(doc: dict[str, Any], id_json: bytes | None) -> tuple[bytes, int, bytes]:
    """(json, end, closer): the source is json[:end] + closer (end -1: all of json); closer ends the line."""
    try:
        raw = orjson.dumps(doc)
    except TypeError:
        return _fallback.dumps({k: v for k, v in doc.items() if k != "_id"}), -1, b"\n"
    if id_json is None:
        return raw, -1, b"\n"
    # `,"_id":<id>}` at the very end can only be the top-level object's last member: a nested object would
    # end in `}}`, a string's quotes are escaped.
    tail = b',"_id":' + id_json + b"}"
    if raw.endswith(tail):
        return raw, len(raw) - len(tail), b"}\n"
    return _dumps({k: v for k, v in doc.items() if k != "_id"}), -1, b"\n"


def source(doc: dict[str, Any]) -> bytes:
    """The document's JSON without its `_id` (the bulk action line carries it)."""
    raw, end, closer = _source_span(doc, _dumps(doc["_id"]) if "_id" in doc else None)
    return (raw if end < 0 else raw[:end]) + closer[:-1]


def bodies(
    docs: Sequence[dict[str, Any]],
    op: str,
    index_for: Callable[[dict[str, Any]], str],
    chunk_size: int,
    max_bytes: int = MAX_BODY_BYTES,
) -> Iterator[tuple[bytes, Sequence[dict[str, Any]]]]:
    """(body, the documents in it, in order): at most `chunk_size` documents and about `max_bytes` per body
    (a single larger document still gets a body of its own)."""
    prefixes: dict[str, bytes] = {}  # one scrape's documents share one or two indices
    body = bytearray()
    start = 0
    for position, doc in enumerate(docs):
        index = index_for(doc)
        prefix = prefixes.get(index)
        if prefix is None:
            prefix = prefixes[index] = b'{"' + op.encode() + b'":{"_index":' + _dumps(index)
        id_json = _dumps(doc["_id"]) if "_id" in doc else None
        line = prefix + (b"}}\n" if id_json is None else b',"_id":' + id_json + b"}}\n")
        raw, end, closer = _source_span(doc, id_json)
        size = len(line) + (len(raw) if end < 0 else end) + len(closer)
        if position > start and (position - start >= chunk_size or len(body) + size > max_bytes):
            yield bytes(body), docs[start:position]
            body = bytearray()
            start = position
        body += line
        body += raw if end < 0 else memoryview(raw)[:end]
        body += closer
    if len(docs) > start:
        yield bytes(body), docs[start:]
