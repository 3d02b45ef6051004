"""The stores lagwatch writes to, behind the few calls the sink makes (`Store`).

The sink (exporter/sinks/elasticsearch.py) does what Elasticsearch and OpenSearch share: index templates,
daily indices behind an alias, `_bulk` bodies and each item's outcome, retention. What differs lives in a
store: the client library, the product check (each product's client, or server, turns the other away), the
storage modes the server offers, and how a failure reads. `ElasticsearchStore` (elasticsearch-py) is here,
`OpenSearchStore` (elastic_transport, the HTTP layer under elasticsearch-py) in exporter/sinks/opensearch.py.
Every call raises SinkUnavailable (try again later) or SinkRefused (a configuration problem), never the client
library's own exceptions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

from elasticsearch import ApiError, Elasticsearch, TransportError, UnsupportedProductError

from exporter.sinks import privileges
from exporter.sinks.interface import SinkRefused, SinkUnavailable

# What the sink reads back from `_bulk`: {"errors": false, "items": [{"index": {"status": 201}}, ...]}, a
# failed item with its error; not each item's index, id, shard, version and result (items answer in the
# order of the actions).
BULK_FILTER = "errors,items.*.status,items.*.error"


@runtime_checkable
class Store(Protocol):
    section: str  # the config section that names this server ("elasticsearch", "opensearch"), for messages
    product: str  # "Elasticsearch", "OpenSearch"

    def check(self) -> None:
        """SinkRefused, naming the config field, when the server is not this product."""

    def storage(self, wanted: str) -> str:
        """The storage mode to use for `wanted` ("auto", "data_stream", "daily_indices")."""

    def put_index_template(self, name: str, body: dict[str, Any]) -> None: ...

    def privileges(self, names: tuple[str, ...], storage: str) -> privileges.Privileges | None:
        """The user's privileges on `names` (exporter/sinks/privileges.py), or None where they cannot be asked."""

    def put_mapping(self, target: str, body: dict[str, Any]) -> None:
        """Add `body`'s fields to the open indices (or data stream) `target` names; nothing when there are none."""

    def bulk(self, body: bytes, index: str) -> dict[str, Any]:
        """The answer of `POST /<index>/_bulk` (actions without an index of their own), filtered to BULK_FILTER."""

    def index_names(self, pattern: str) -> list[str]:
        """Names of the open and closed indices matching `pattern` (none: an empty list)."""

    def delete_index(self, name: str) -> None: ...

    def close(self) -> None: ...


def as_store(client: Any) -> Store:
    """A Store for `client`: a store as it is; anything else is an elasticsearch-py client (or one the tests
    script) and gets wrapped, so the sink can be given the client directly, as tests and the bench do."""
    return client if isinstance(client, Store) else ElasticsearchStore(client)


_HINTS = {
    401: "check {section}.username/password{api_key}",
    403: "the user lacks privileges on the index template or the indices ({role}: the role lagwatch needs)",
}
_ROLE_DOC = {"elasticsearch": "docs/access.md", "opensearch": "docs/opensearch.md"}


def failure(product: str, section: str, status: int | None, detail: str, what: str) -> SinkUnavailable | SinkRefused:
    """SinkUnavailable when the server was unreachable (status None), overloaded (429) or failing (5xx);
    SinkRefused with a hint when it refused the request itself (other 4xx)."""
    if status is None:
        return SinkUnavailable(f"{product} unreachable during {what}: {detail}")
    if status >= 500 or status == 429:
        return SinkUnavailable(f"{product} refused {what}: {detail}", status)
    api_key = " or api_key" if section == "elasticsearch" else ""
    hint = _HINTS.get(status, f"check the {section} options and any index template on its indices")
    hint = hint.format(section=section, api_key=api_key, role=_ROLE_DOC.get(section, "docs/configuration.md"))
    return SinkRefused(f"{product} refused {what} ({status}): {detail}; {hint}", status)


def other_product(section: str, found: str, product: str, other_section: str) -> SinkRefused:
    """The server at `<section>.hosts` is `found` (the other product, with its version) instead of `product`."""
    return SinkRefused(
        f"{section}.hosts: the server is {found}, not {product}: configure it under `{other_section}:` "
        f"instead of `{section}:` (docs/opensearch.md)"
    )


class ElasticsearchStore:
    section = "elasticsearch"
    product = "Elasticsearch"

    def __init__(self, client: Elasticsearch):
        self.client = client

    @contextmanager
    def _calling(self, what: str) -> Iterator[None]:
        try:
            yield
        except UnsupportedProductError as exc:
            raise self._not_elasticsearch() from exc
        except ApiError as exc:
            if exc.meta.status == 406:  # OpenSearch refuses the client's compatible-with=8 media type
                raise self._not_elasticsearch() from exc
            raise failure(self.product, self.section, exc.meta.status, str(exc), what) from exc
        except (TransportError, ConnectionError) as exc:
            raise failure(self.product, self.section, None, str(exc), what) from exc

    def _not_elasticsearch(self) -> SinkRefused:
        """The client's product check failed (no X-Elastic-Product header): say what the server is instead."""
        try:
            self.client.perform_request("GET", "/")
            body = None
        except UnsupportedProductError as exc:  # what GET / answered, the product check aside
            body = exc.body
        except Exception:  # noqa: BLE001 - the server could not say what it is: the generic message
            body = None
        version = body.get("version") if isinstance(body, dict) else None
        if isinstance(version, dict) and version.get("distribution") == "opensearch":
            return other_product(self.section, f"OpenSearch {version.get('number', '')}".strip(), self.product,
                                 "opensearch")
        return SinkRefused(
            "elasticsearch.hosts: the server does not answer as Elasticsearch (the client's product check found no "
            "X-Elastic-Product header): point it at an Elasticsearch 8.x or 9.x node; an OpenSearch server is "
            "configured under `opensearch:` (docs/opensearch.md)"
        )

    def check(self) -> None:
        """Nothing to ask: the client checks the product on every answer, and _calling reports it."""

    def storage(self, wanted: str) -> str:
        if wanted != "auto":
            return wanted
        with self._calling("setup"):
            info = self.client.nodes.info(metric="plugins")
        # Data streams where every node has the data-streams module (minimal distributions lack it).
        nodes = info.get("nodes", {}).values()
        streams = bool(nodes) and all(
            any(m.get("name") == "data-streams" for m in node.get("modules", [])) for node in nodes
        )
        return "data_stream" if streams else "daily_indices"

    def put_index_template(self, name: str, body: dict[str, Any]) -> None:
        with self._calling("setup"):
            self.client.indices.put_index_template(
                name=name, **{("meta" if key == "_meta" else key): value for key, value in body.items()}
            )

    def privileges(self, names: tuple[str, ...], storage: str) -> privileges.Privileges | None:
        with self._calling("checking the user's privileges"):
            return privileges.check(self.client, names, storage)

    def put_mapping(self, target: str, body: dict[str, Any]) -> None:
        with self._calling("setup"):
            try:
                self.client.indices.put_mapping(index=target, allow_no_indices=True, **body)
            except ApiError as exc:
                if exc.meta.status != 404:  # 404: no such data stream yet, nothing to update
                    raise

    def bulk(self, body: bytes, index: str) -> dict[str, Any]:
        with self._calling("the bulk request"):
            return self.client.bulk(operations=body, index=index, filter_path=BULK_FILTER).body

    def index_names(self, pattern: str) -> list[str]:
        with self._calling("listing indices for retention"):
            try:
                return list(self.client.indices.get(index=pattern, expand_wildcards="open,closed"))
            except ApiError as exc:
                if exc.meta.status == 404:
                    return []
                raise

    def delete_index(self, name: str) -> None:
        with self._calling(f"deleting {name}"):
            self.client.indices.delete(index=name)

    def close(self) -> None:
        self.client.close()
