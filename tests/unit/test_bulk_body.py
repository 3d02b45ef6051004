"""Documents to `_bulk` bodies (exporter/sinks/bulk.py) and what the sink does with each item's answer.

The bodies are checked by parsing them back: every action line names the document's index and _id, every
source line is the document without _id, field for field and in order. The answers Elasticsearch gives under
load (429 for some items or for a whole request) cannot be had from a real node on demand, so those tests give
the sink a scripted client (failure injection only; tests/integration/test_indexing.py indexes into the
real node).
"""

from __future__ import annotations

import json

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from exporter.output import documents
from exporter.sinks import bulk
from exporter.sinks.elasticsearch import ElasticsearchSink, SinkUnavailable
from tests.unit.test_documents import INTERVAL, make_report


def parse(body: bytes) -> list[tuple[dict, dict]]:
    assert body.endswith(b"\n")
    lines = body.decode().split("\n")[:-1]
    assert len(lines) % 2 == 0
    return [(json.loads(lines[i]), json.loads(lines[i + 1])) for i in range(0, len(lines), 2)]


def without_id(doc: dict) -> list[tuple]:
    return [(k, v) for k, v in doc.items() if k != "_id"]


def index_for(doc: dict) -> str:
    return f"lw-lag-{doc.get('lagwatch.slot', 0)}"


def real_documents() -> list[dict]:
    return documents.build(make_report(), "partition", INTERVAL, instance="host-1")


def test_every_scrape_document_parses_back_to_itself_without_its_id():
    docs = real_documents()
    (body, batch), = bulk.bodies(docs, "index", index_for, chunk_size=1000)
    assert list(batch) == docs
    pairs = parse(body)
    assert len(pairs) == len(docs)
    for (action, source), doc in zip(pairs, docs):
        assert action == {"index": {"_index": index_for(doc), "_id": doc["_id"]}}
        assert list(source.items()) == without_id(doc)


@pytest.mark.parametrize(
    "doc",
    [
        {"a": 1, "_id": "last"},
        {"_id": "first", "a": 1},  # _id not last: the source is made without it
        {"x": {"k": 1, "_id": "i"}, "_id": "i"},  # a nested _id stays
        {"_id": "i", "x": {"k": 1, "_id": "i"}},
        {"_id": "i", "l": [{"_id": "i"}]},
        {"name": 'quote " and ,"_id":"i"}', "_id": "i"},
        {"group": "주문 처리.그룹 ✓\t/", "_id": "ü"},
        {"a": None, "b": [], "c": {}, "d": 1.5e-07, "e": True, "_id": 7},
        {"big": 2**70, "_id": "beyond-64-bits"},  # orjson refuses: the client's serializer writes it
        {"odd": "lone \ud800 surrogate", "_id": "s"},
    ],
)
def test_a_source_is_the_document_without_its_id(doc):
    (body, _), = bulk.bodies([doc], "index", lambda d: "i", chunk_size=10)
    lines = body.split(b"\n")
    assert len(lines) == 3 and lines[2] == b""
    assert json.loads(lines[0]) == {"index": {"_index": "i", "_id": doc["_id"]}}
    assert list(json.loads(lines[1].decode("utf-8", "surrogatepass")).items()) == without_id(doc)
    assert bulk.source(doc) == lines[1]


def test_a_document_without_an_id_gets_an_action_without_one():
    (body, _), = bulk.bodies([{"a": 1}], "create", lambda d: "ds", chunk_size=10)
    assert parse(body) == [({"create": {"_index": "ds"}}, {"a": 1})]


def test_bodies_hold_at_most_chunk_size_documents_in_order():
    docs = [{"n": n, "_id": str(n)} for n in range(7)]
    made = list(bulk.bodies(docs, "index", lambda d: "i", chunk_size=3))
    assert [[d["n"] for d in batch] for _, batch in made] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [[s["n"] for _, s in parse(body)] for body, _ in made] == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(bulk.bodies([], "index", lambda d: "i", chunk_size=3)) == []


def test_a_body_stays_under_the_byte_limit_and_a_larger_document_goes_alone():
    docs = [{"pad": "x" * 100, "_id": str(n)} for n in range(4)] + [{"pad": "y" * 1000, "_id": "big"}]
    made = list(bulk.bodies(docs, "index", lambda d: "i", chunk_size=100, max_bytes=300))
    assert [len(batch) for _, batch in made] == [2, 2, 1]
    assert all(len(body) <= 300 for body, _ in made[:2]) and len(made[2][0]) > 300
    assert [s for body, _ in made for _, s in parse(body)] == [dict(without_id(d)) for d in docs]


# --- the sink's answers to each item ----------------------------------------------------------------


def api_error(status: int) -> ApiError:
    meta = ApiResponseMeta(status, "1.1", HttpHeaders(), 0.01, NodeConfig("http", "127.0.0.1", 9200))
    return ApiError(f"{status} from the scripted client", meta, {"error": "scripted"})


class Answer:
    def __init__(self, body):
        self.body = body


class ScriptedClient:
    """Answers each bulk call with the next scripted status list (or raises the scripted error)."""

    def __init__(self, *script):
        self.script = list(script)
        self.sent: list[list[dict]] = []

    def bulk(self, operations, filter_path=None):
        sources = [s for _, s in parse(operations)]
        self.sent.append(sources)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        if all(200 <= s < 300 for s in step):
            return Answer({"errors": False, "items": [{"index": {"status": s}} for s in step]})
        items = [{"index": {"status": s} if s < 300 else {"status": s, "error": {"type": f"t{s}", "reason": "r"}}}
                 for s in step]
        assert len(items) == len(sources)
        return Answer({"errors": True, "items": items})


def sink_with(client) -> tuple[ElasticsearchSink, list[float]]:
    slept: list[float] = []
    sink = ElasticsearchSink(client, prefix="lw", storage="daily_indices", chunk_size=3, sleep=slept.append)
    sink.mode = "daily_indices"
    return sink, slept


def docs(n: int) -> list[dict]:
    return [{"n": i, "lagwatch.slot": 0, "_id": f"id{i}"} for i in range(n)]


def test_items_answered_429_are_sent_again_alone_after_a_pause():
    client = ScriptedClient([201, 429, 400], [201])
    sink, slept = sink_with(client)
    result = sink.deliver(docs(3))
    assert (result.indexed, result.rejected, result.retry) == (2, [("id2", "400 t400: r")], [])
    assert client.sent == [[{"n": 0, "lagwatch.slot": 0}, {"n": 1, "lagwatch.slot": 0},
                            {"n": 2, "lagwatch.slot": 0}], [{"n": 1, "lagwatch.slot": 0}]]
    assert slept == [1.0]


def test_items_still_429_after_two_retries_come_back_to_retry_later():
    client = ScriptedClient([429, 201], [429], [429])
    sink, slept = sink_with(client)
    result = sink.deliver(docs(2))
    assert result.indexed == 1 and [d["_id"] for d in result.retry] == ["id0"]
    assert result.retry_reason == "429 t429: r"
    assert slept == [1.0, 2.0]


def test_5xx_items_come_back_at_once_and_409_counts_as_a_duplicate():
    client = ScriptedClient([503, 409, 201], [201])
    sink, slept = sink_with(client)
    result = sink.deliver(docs(4))
    assert (result.indexed, result.duplicates, [d["_id"] for d in result.retry]) == (2, 1, ["id0"])
    assert slept == [] and len(client.sent) == 2  # the fourth document went in a second body


def test_a_whole_request_answered_429_is_sent_again_then_refused_as_unavailable():
    client = ScriptedClient(api_error(429), [201, 201])
    sink, slept = sink_with(client)
    assert sink.deliver(docs(2)).indexed == 2 and slept == [1.0] and client.sent[0] == client.sent[1]

    client = ScriptedClient(api_error(429), api_error(429), api_error(429))
    sink, slept = sink_with(client)
    with pytest.raises(SinkUnavailable, match="429"):
        sink.deliver(docs(1))
    assert slept == [1.0, 2.0]


def test_a_request_refused_with_5xx_is_not_resent_here():
    client = ScriptedClient(api_error(503))
    sink, slept = sink_with(client)
    with pytest.raises(SinkUnavailable):
        sink.deliver(docs(1))
    assert slept == [] and len(client.sent) == 1
