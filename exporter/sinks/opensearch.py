"""OpenSearch as the store (docs/opensearch.md), over elastic_transport: the HTTP layer under the Elasticsearch
client, with its connection pool, TLS, timeouts and retries, and no product check (that sits in elasticsearch-py's
client, which refuses OpenSearch). The six requests lagwatch makes are written out here. Why not opensearch-py:
its 3.1+ releases require grpcio and protobuf for a gRPC transport lagwatch would not use, 30 MB more in the
image (measured: 210 MB against a 200 MB budget); this way OpenSearch costs no dependency, and an outage
looks the same to the spool whichever store it is (the same transport errors, retries and timeouts).

lagwatch makes its own product check: at setup, `GET /` must answer with `"distribution": "opensearch"`
(OpenSearch always does); an Elasticsearch at `opensearch.hosts` is refused with a message that says so.

What the sink asks of OpenSearch is what every distribution has, the bare integ-test-zip included:
composable index templates, aliases, `_bulk`, listing and deleting indices. Storage is always daily indices
behind an alias, deleted by lagwatch's own retention: OpenSearch's data streams have no lifecycle without the
ISM plugin.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from elastic_transport import Transport, TransportError

from exporter.sinks.interface import SinkRefused
from exporter.sinks.stores import BULK_FILTER, failure, other_product

_JSON = {"accept": "application/json", "content-type": "application/json"}
_NDJSON = {"accept": "application/json", "content-type": "application/x-ndjson"}


def _detail(body: Any) -> str:
    """An error answer's reason: `{"error": {"type", "reason"}}` as `type: reason`, anything else as text."""
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return str(error)[:300]


class OpenSearchStore:
    section = "opensearch"
    product = "OpenSearch"

    def __init__(self, transport: Transport, headers: dict[str, str] | None = None):
        self.transport = transport
        self.headers = dict(headers or {})  # authorization, when configured
        self.version: str | None = None  # the server's, once check() has seen it

    def _request(self, method: str, target: str, what: str, body: Any = None, *, headers=_JSON,
                 answered: tuple[int, ...] = ()) -> tuple[int, Any]:
        """(status, body) of a 2xx answer or one in `answered`; SinkUnavailable or SinkRefused otherwise."""
        try:
            response = self.transport.perform_request(method, target, body=body, headers={**headers, **self.headers})
        except TransportError as exc:  # unreachable, timed out, TLS, an answer that is not JSON
            raise failure(self.product, self.section, None, str(exc), what) from exc
        status = response.meta.status
        if 200 <= status < 300 or status in answered:
            return status, response.body
        raise failure(self.product, self.section, status, _detail(response.body), what)

    def check(self) -> None:
        """SinkRefused, naming opensearch.hosts, when the server is not OpenSearch."""
        status, info = self._request("GET", "/", "setup", answered=(400, 403, 404, 405, 406))
        if status == 403:  # a user who may not read GET / (cluster:monitor/main): the writes will tell
            return
        version = info.get("version") if isinstance(info, dict) else None
        version = version if isinstance(version, dict) else {}
        if version.get("distribution") == "opensearch":
            self.version = version.get("number")
            return
        number = version.get("number")
        if number is None:  # minimal Elasticsearch distributions answer GET / with 405: ask the nodes
            _, nodes = self._request("GET", "/_nodes/_local?filter_path=nodes.*.version,nodes.*.build_flavor",
                                     "setup", answered=(400, 403, 404, 405))
            node = next(iter((nodes or {}).get("nodes", {}).values()), {}) if isinstance(nodes, dict) else {}
            number = node.get("version") if "build_flavor" in node else None  # an Elasticsearch-only field
        if number is not None:
            raise other_product(self.section, f"Elasticsearch {number}", self.product, "elasticsearch")
        why = f"GET / answered {status}" if status >= 300 else 'GET / answered without "distribution": "opensearch"'
        raise SinkRefused(f"opensearch.hosts: the server does not answer as OpenSearch ({why}); point it at an "
                          "OpenSearch 2.x or 3.x node (docs/opensearch.md)")

    def storage(self, wanted: str) -> str:
        if wanted == "data_stream":  # the config refuses it already; a hand-built sink gets the same answer
            raise SinkRefused("opensearch.storage: data streams are not offered on OpenSearch (no lifecycle "
                              "without ISM): use daily_indices")
        return "daily_indices"

    def put_index_template(self, name: str, body: dict[str, Any]) -> None:
        self._request("PUT", f"/_index_template/{urllib.parse.quote(name)}", "setup", body)

    def privileges(self, names: tuple[str, ...], storage: str) -> None:
        """Not asked: OpenSearch's security plugin has no _has_privileges (its errors name what is missing)."""
        return None

    def put_mapping(self, target: str, body: dict[str, Any]) -> None:
        # 404: no index matches yet, nothing to update
        self._request("PUT", f"/{urllib.parse.quote(target, safe='*')}/_mapping?allow_no_indices=true", "setup",
                      body, answered=(404,))

    def bulk(self, body: bytes, index: str) -> dict[str, Any]:
        return self._request("POST", f"/{urllib.parse.quote(index)}/_bulk?filter_path={BULK_FILTER}",
                             "the bulk request", body, headers=_NDJSON)[1]

    def index_names(self, pattern: str) -> list[str]:
        target = f"/{urllib.parse.quote(pattern, safe='*')}?expand_wildcards=open,closed&filter_path=*.settings.index.uuid"
        status, found = self._request("GET", target, "listing indices for retention", answered=(404,))
        return [] if status == 404 or not isinstance(found, dict) else list(found)

    def delete_index(self, name: str) -> None:
        self._request("DELETE", f"/{urllib.parse.quote(name)}", f"deleting {name}")

    def close(self) -> None:
        self.transport.close()
