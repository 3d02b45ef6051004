"""What the OpenSearch store makes of each answer. The answers a bare node cannot give on demand (401, 429 for
a whole request, 5xx, an Elasticsearch that answers GET / with a version) come from a scripted transport:
failure injection only; tests/integration/test_opensearch*.py write to and read from the real node."""

from __future__ import annotations

import pytest
from elastic_transport import ApiResponseMeta, ConnectionError as TransportConnectionError, HttpHeaders, NodeConfig
from elastic_transport import TransportApiResponse

from exporter.config import OpenSearchConfig
from exporter.output.batch import from_documents
from exporter.runtime.wiring import opensearch_store
from exporter.sinks.elasticsearch import ElasticsearchSink
from exporter.sinks.interface import SinkRefused, SinkUnavailable
from exporter.sinks.opensearch import OpenSearchStore

NODE = NodeConfig("http", "127.0.0.1", 9200)


def answer(status: int, body) -> TransportApiResponse:
    return TransportApiResponse(ApiResponseMeta(status, "1.1", HttpHeaders(), 0.01, NODE), body)


class ScriptedTransport:
    """Answers each request with the next scripted answer (or raises the scripted error), recording them."""

    def __init__(self, *script):
        self.script = list(script)
        self.requests: list[tuple[str, str, dict]] = []

    def perform_request(self, method, target, *, body=None, headers=None):
        self.requests.append((method, target, dict(headers or {})))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    def close(self):
        pass


OPENSEARCH = {"version": {"distribution": "opensearch", "number": "2.19.4"}}


@pytest.mark.parametrize(
    "answers, error, message",
    [
        ([answer(200, OPENSEARCH)], None, None),
        ([answer(200, {"version": {"number": "8.19.21", "build_flavor": "default"}})], SinkRefused,
         "opensearch.hosts: the server is Elasticsearch 8.19.21, not OpenSearch: configure it under `elasticsearch:`"),
        ([answer(405, {"error": "Incorrect HTTP method"}), answer(200, {"nodes": {"n": {"version": "9.5.4", "build_flavor": "default"}}})],
         SinkRefused, "the server is Elasticsearch 9.5.4, not OpenSearch"),
        ([answer(404, "not found"), answer(404, "not found")], SinkRefused,
         "opensearch.hosts: the server does not answer as OpenSearch (GET / answered 404)"),
        ([answer(401, {"error": {"type": "security_exception", "reason": "missing authentication"}})], SinkRefused,
         "OpenSearch refused setup (401): security_exception: missing authentication; check opensearch.username/password"),
        ([answer(403, {"error": {"type": "security_exception", "reason": "no permissions for [cluster:monitor/main]"}})],
         None, None),
        ([answer(503, {"error": "unavailable"})], SinkUnavailable, "OpenSearch refused setup: unavailable"),
        ([TransportConnectionError("Connection refused")], SinkUnavailable, "OpenSearch unreachable during setup"),
    ],
    ids=["opensearch", "elasticsearch-full", "elasticsearch-minimal", "unknown", "401", "403-skips", "503", "down"],
)
def test_the_product_check_names_what_the_server_is(answers, error, message):
    store = OpenSearchStore(ScriptedTransport(*answers))
    if error is None:
        store.check()
        return
    with pytest.raises(error) as raised:
        store.check()
    assert message in str(raised.value)
    assert "api_key" not in str(raised.value)  # OpenSearch has none: the hint must not suggest one


def test_a_whole_bulk_answered_429_is_sent_again_and_a_400_is_refused_with_its_reason():
    sent = ScriptedTransport(answer(429, {"error": {"type": "rejected", "reason": "busy"}}),
                             answer(200, {"errors": False, "items": [{"index": {"status": 201}}]}))
    slept: list[float] = []
    sink = ElasticsearchSink(OpenSearchStore(sent), prefix="lw", sleep=slept.append)
    sink.mode = "daily_indices"
    (batch,) = from_documents([{"n": 1, "lagwatch.slot": 0, "_id": "a"}])
    assert sink.deliver(batch).indexed == 1 and slept == [1.0]
    # The batch's daily index in the path: its actions name none.
    assert [r[:2] for r in sent.requests] == [
        ("POST", "/lw-lag-1970.01.01/_bulk?filter_path=errors,items.*.status,items.*.error")] * 2
    assert sent.requests[0][2]["content-type"] == "application/x-ndjson"

    refused = ElasticsearchSink(OpenSearchStore(ScriptedTransport(answer(400, {"error": {"type": "parse", "reason": "bad"}}))),
                                prefix="lw")
    refused.mode = "daily_indices"
    with pytest.raises(SinkRefused, match=r"OpenSearch refused the bulk request \(400\): parse: bad"):
        refused.deliver(batch)


def test_retention_lists_open_and_closed_indices_and_treats_404_as_none():
    store = OpenSearchStore(ScriptedTransport(answer(200, {"lw-lag-2026.01.01": {}, "lw-lag-2026.01.02": {}}),
                                              answer(404, {"error": "index_not_found_exception"})))
    assert store.index_names("lw-lag-*") == ["lw-lag-2026.01.01", "lw-lag-2026.01.02"]
    assert "expand_wildcards=open,closed" in store.transport.requests[0][1]
    assert store.index_names("lw-lag-*") == []


def test_the_store_built_from_config_sends_basic_auth_from_the_options_or_the_url():
    config = OpenSearchConfig(hosts=["https://search.example:9200", "http://u:p%40ss@other:9201"],
                              username="lagwatch", password="s3cret", ca_certs="/etc/ca.pem", request_timeout_s=7)
    store = opensearch_store(config)
    nodes = [n.config for n in store.transport.node_pool.all()]
    by_host = {n.host: n for n in nodes}
    assert by_host["search.example"].ca_certs == "/etc/ca.pem" and by_host["search.example"].verify_certs
    assert {n.request_timeout for n in nodes} == {7}
    assert store.headers["authorization"] == "Basic bGFnd2F0Y2g6czNjcmV0"  # lagwatch:s3cret
    assert by_host["other"].headers["authorization"] == "Basic dTpwQHNz"  # the URL's own user:password
    store.close()
