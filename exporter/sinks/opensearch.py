"""OpenSearch as the store (docs/opensearch.md), through opensearch-py: the OpenSearch project's own client,
which speaks both 2.x and 3.x and has no product check of its own. So lagwatch makes one: at setup, `GET /`
must answer with `"distribution": "opensearch"` (OpenSearch always does); an Elasticsearch at
`opensearch.hosts` is refused with a message that says so, not half-used.

What the sink asks of OpenSearch is what every distribution has, the bare integ-test-zip included:
composable index templates, aliases, `_bulk`, listing and deleting indices. Storage is always daily indices
behind an alias, deleted by lagwatch's own retention: OpenSearch's data streams have no lifecycle without the
ISM plugin.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, OpenSearchException, TransportError

from exporter.sinks.interface import SinkRefused
from exporter.sinks.stores import BULK_FILTER, failure, other_product


def _status(exc: TransportError) -> int | None:
    """The HTTP status of an answer; None when there was none (connection refused, timeout: 'N/A')."""
    return exc.status_code if isinstance(exc.status_code, int) else None


def _detail(exc: OpenSearchException) -> str:
    if isinstance(exc, TransportError) and _status(exc) is not None:
        info = exc.info if isinstance(exc.info, dict) else {}
        error = info.get("error")
        if isinstance(error, dict):  # {"type": ..., "reason": ...}: the reason says it, not the repr
            return f"{error.get('type')}: {error.get('reason')}"
        return str(error or exc.error)
    return str(exc)


class OpenSearchStore:
    section = "opensearch"
    product = "OpenSearch"

    def __init__(self, client: OpenSearch):
        self.client = client
        self.version: str | None = None  # the server's, once check() has seen it

    @contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        try:
            yield
        except TransportError as exc:  # connection errors and timeouts included (status 'N/A')
            raise failure(self.product, self.section, _status(exc), _detail(exc), what) from exc
        except OpenSearchException as exc:  # an answer that is not JSON (a proxy's error page, say)
            raise failure(self.product, self.section, None, _detail(exc), what) from exc

    def check(self) -> None:
        """SinkRefused, naming opensearch.hosts, when the server is not OpenSearch."""
        try:
            info = self.client.info()
        except TransportError as exc:
            status = _status(exc)
            if status == 403:  # a user who may not read GET / (cluster:monitor/main): the writes will tell
                return
            if status is None or status in (401, 429) or status >= 500:
                raise failure(self.product, self.section, status, _detail(exc), "setup") from exc
            raise self._not_opensearch(f"GET / answered {status}") from exc
        except OpenSearchException as exc:
            raise failure(self.product, self.section, None, _detail(exc), "setup") from exc
        version = info.get("version") if isinstance(info, dict) else None
        version = version if isinstance(version, dict) else {}
        if version.get("distribution") != "opensearch":
            raise self._not_opensearch('GET / answered without "distribution": "opensearch"', version)
        self.version = version.get("number")

    def _not_opensearch(self, why: str, version: dict[str, Any] | None = None) -> SinkRefused:
        """Elasticsearch (named with its version when its nodes say so) or an unknown server."""
        number = (version or {}).get("number")
        if number is None:  # minimal Elasticsearch distributions answer GET / with 405: ask the nodes
            try:
                nodes = self.client.nodes.info(node_id="_local", filter_path="nodes.*.version,nodes.*.build_flavor")
                node = next(iter(nodes.get("nodes", {}).values()), {})
                number = node.get("version") if "build_flavor" in node else None  # an Elasticsearch-only field
            except OpenSearchException:
                number = None
        if number is not None:
            return other_product(self.section, f"Elasticsearch {number}", self.product, "elasticsearch")
        return SinkRefused(f"opensearch.hosts: the server does not answer as OpenSearch ({why}); point it at an "
                           "OpenSearch 2.x or 3.x node (docs/opensearch.md)")

    def storage(self, wanted: str) -> str:
        if wanted == "data_stream":  # the config refuses it already; a hand-built sink gets the same answer
            raise SinkRefused("opensearch.storage: data streams are not offered on OpenSearch (no lifecycle "
                              "without ISM): use daily_indices")
        return "daily_indices"

    def put_index_template(self, name: str, body: dict[str, Any]) -> None:
        with self._calling("setup"):
            self.client.indices.put_index_template(name=name, body=body)

    def bulk(self, body: bytes, index: str) -> dict[str, Any]:
        with self._calling("the bulk request"):
            return self.client.bulk(body=body, index=index, filter_path=BULK_FILTER)

    def index_names(self, pattern: str) -> list[str]:
        with self._calling("listing indices for retention"):
            try:
                return list(self.client.indices.get(index=pattern, expand_wildcards="open,closed"))
            except NotFoundError:
                return []

    def delete_index(self, name: str) -> None:
        with self._calling(f"deleting {name}"):
            self.client.indices.delete(index=name)

    def close(self) -> None:
        self.client.close()
