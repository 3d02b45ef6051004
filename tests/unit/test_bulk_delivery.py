"""What the Elasticsearch sink sends for a batch (exporter/sinks/elasticsearch.py) and what it does with each
item's answer.

A scrape's batches are checked by parsing them back: every action line names the document's _id and no index
(the request's path does), every source line is the document without _id. The answers Elasticsearch gives
under load (429 for some items or for a whole request) cannot be had from a real node on demand, so those tests
give the sink a scripted client (failure injection only; tests/integration/test_indexing.py indexes into the
real node).
"""

from __future__ import annotations

import json

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from exporter.output import batch as batches
from exporter.output import encode
from exporter.sinks.elasticsearch import ElasticsearchSink
from exporter.sinks.interface import SinkUnavailable
from tests.unit.test_documents import INTERVAL, build, make_report


def parse(body: bytes) -> list[tuple[dict, dict]]:
    assert body.endswith(b"\n")
    lines = body.decode().split("\n")[:-1]
    assert len(lines) % 2 == 0
    return [(json.loads(lines[i]), json.loads(lines[i + 1])) for i in range(0, len(lines), 2)]


def test_every_scrape_document_parses_back_to_itself_without_its_id():
    docs = build(make_report(), "partition", INTERVAL, instance="host-1")
    made = list(encode.encode(make_report(), "partition", INTERVAL, instance="host-1"))
    pairs = [pair for batch in made for pair in parse(batch.body)]
    assert len(pairs) == len(docs) == sum(batch.documents for batch in made)
    for (action, source), doc in zip(pairs, docs):
        assert action == {"index": {"_id": doc["_id"]}}
        assert source == {k: v for k, v in doc.items() if k != "_id"}


def test_a_scrape_is_cut_into_batches_of_the_chunk_size_one_kind_of_document_each():
    made = list(encode.encode(make_report(), "partition", INTERVAL, batch_documents=2))
    kinds = [{source["lagwatch.doc_type"] for _, source in parse(batch.body)} for batch in made]
    assert [batch.documents for batch in made] == [2, 1, 2, 2, 1]
    assert kinds == [{"partition"}, {"partition"}, {"topic"}, {"group"}, {"self"}]  # 3, 2, 2 and 1 of them


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
        self.actions: list[tuple[list[dict], str]] = []

    def bulk(self, operations, index=None, filter_path=None):
        pairs = parse(operations)
        self.sent.append([s for _, s in pairs])
        self.actions.append(([a for a, _ in pairs], index))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        if all(200 <= s < 300 for s in step):
            return Answer({"errors": False, "items": [{"index": {"status": s}} for s in step]})
        items = [{"index": {"status": s} if s < 300 else {"status": s, "error": {"type": f"t{s}", "reason": "r"}}}
                 for s in step]
        assert len(items) == len(pairs)
        return Answer({"errors": True, "items": items})


def sink_with(client) -> tuple[ElasticsearchSink, list[float]]:
    slept: list[float] = []
    sink = ElasticsearchSink(client, prefix="lw", storage="daily_indices", chunk_size=3, sleep=slept.append)
    sink.mode = "daily_indices"
    return sink, slept


def docs(n: int) -> batches.Batch:
    (made,) = batches.from_documents([{"n": i, "lagwatch.slot": 0, "_id": f"id{i}"} for i in range(n)])
    return made


def test_items_answered_429_are_sent_again_alone_after_a_pause():
    client = ScriptedClient([201, 429, 400], [201])
    sink, slept = sink_with(client)
    result = sink.deliver(docs(3))
    assert (result.indexed, result.rejected, result.retry) == (2, [("id2", "400 t400: r")], None)
    assert client.sent == [[{"n": 0, "lagwatch.slot": 0}, {"n": 1, "lagwatch.slot": 0},
                            {"n": 2, "lagwatch.slot": 0}], [{"n": 1, "lagwatch.slot": 0}]]
    assert slept == [1.0]


def test_items_still_429_after_two_retries_come_back_to_retry_later():
    client = ScriptedClient([429, 201], [429], [429])
    sink, slept = sink_with(client)
    result = sink.deliver(docs(2))
    assert result.indexed == 1 and result.retry.ids() == ["id0"]
    assert result.retry_reason == "429 t429: r"
    assert slept == [1.0, 2.0]


def test_5xx_items_come_back_at_once_and_409_counts_as_a_duplicate():
    client = ScriptedClient([503, 409, 201], [201])
    sink, slept = sink_with(client)
    result = sink.deliver(docs(4))
    assert (result.indexed, result.duplicates, result.retry.ids()) == (2, 1, ["id0"])
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


def test_a_batch_goes_to_the_daily_index_of_its_day_or_to_the_data_stream_as_create():
    client = ScriptedClient([201, 201], [201, 201])
    sink, _ = sink_with(client)
    sink.deliver(docs(2))
    sink.mode = "data_stream"
    sink.deliver(docs(2))
    assert client.actions == [
        ([{"index": {"_id": "id0"}}, {"index": {"_id": "id1"}}], "lw-lag-1970.01.01"),
        ([{"create": {"_id": "id0"}}, {"create": {"_id": "id1"}}], "lw-lag"),
    ]


def test_what_is_asked_to_retry_in_several_requests_comes_back_as_one_batch_in_order():
    client = ScriptedClient([503, 201, 503], [201, 503, 201], [503])
    sink, _ = sink_with(client)
    result = sink.deliver(docs(7))
    assert result.retry.ids() == ["id0", "id2", "id4", "id6"] and result.retry.day == "1970.01.01"
    assert result.indexed == 3
