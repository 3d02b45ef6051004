"""Index lag documents into Elasticsearch: index template, daily indices or a data stream, bulk, retention.

The client is built by the CLI and passed in. Storage:
- daily indices `<prefix>-lag-YYYY.MM.DD` (UTC day of the scrape slot) behind the alias `<prefix>-lag`,
  old ones deleted after `retention_days`: works on every Elasticsearch, including minimal distributions;
- a data stream `<prefix>-lag` with a data-stream lifecycle, where the server supports data streams
  (`storage: auto` detects it; `data_stream` insists on it).
Every document has a deterministic `_id`, so a retried or duplicated bulk never adds a document.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from collections.abc import Callable, Sequence
from typing import Any

from elasticsearch import ApiError, Elasticsearch, TransportError

from exporter import logs
from exporter.output import fields
from exporter.sinks import bulk

MANAGED_BY = "lagwatch"
TEMPLATE_VERSION = 1


class SinkUnavailable(Exception):
    """Elasticsearch could not be reached, is overloaded (429) or failing (5xx): try again later."""


class SinkRefused(Exception):
    """Elasticsearch answered and refuses the request itself (4xx other than 429: credentials, privileges, a
    malformed request, a conflicting index template). Sending it again will not help: a configuration
    problem for the operator, reported as such instead of being retried like an outage."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class DeliveryResult:
    indexed: int = 0
    duplicates: int = 0  # already present (data streams answer 409 for a repeated _id)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (_id, reason): permanent, not retried
    retry: list[dict[str, Any]] = field(default_factory=list)  # documents to send again later
    spooled: int = 0  # kept on disk for a later replay (exporter/sinks/spool.py)
    dropped: int = 0  # lost: the spool could not keep them (its cap, a full disk); counted and logged
    retry_reason: str | None = None  # why Elasticsearch asked to retry (the first such item's error)
    queued: int = 0  # handed to the delivery worker (exporter/sinks/queue.py), outcome logged there
    error: str | None = None  # why nothing was indexed, when a wrapper absorbed the failure


# What deliver reads back: {"errors": false, "items": [{"index": {"status": 201}}, ...]}, a failed item with its
# error; not each item's index, id, shard, version and result (items answer in the order of the actions).
_BULK_FILTER = "errors,items.*.status,items.*.error"


def mappings(file: str) -> dict[str, Any]:
    return json.loads(resources.files("exporter.resources").joinpath(file).read_text())


@functools.lru_cache(maxsize=64)
def _slot_day(slot_ms: int) -> str:
    return datetime.fromtimestamp(slot_ms / 1000, tz=timezone.utc).strftime("%Y.%m.%d")


_HINTS = {
    401: "check elasticsearch.username/password or api_key",
    403: "the user lacks privileges on the index template or the indices (docs/configuration.md: the role lagwatch needs)",
}


def _unavailable(exc: Exception, what: str) -> SinkUnavailable | SinkRefused:
    """SinkUnavailable (try again later: the spool keeps the documents) when Elasticsearch is unreachable,
    overloaded (429) or failing (5xx); SinkRefused when it refused the request itself (4xx)."""
    if isinstance(exc, ApiError):
        status = exc.meta.status
        if status >= 500 or status == 429:
            return SinkUnavailable(f"Elasticsearch refused {what}: {exc}")
        hint = _HINTS.get(status, "check the elasticsearch options and any index template on its indices")
        return SinkRefused(f"Elasticsearch refused {what} ({status}): {exc}; {hint}", status)
    return SinkUnavailable(f"Elasticsearch unreachable during {what}: {exc}")


def _item_reason(info: dict[str, Any]) -> str:
    reason = info.get("error", {})
    if isinstance(reason, dict):
        reason = f"{reason.get('type')}: {reason.get('reason')}"
    return str(reason)


def lag_mappings() -> dict[str, Any]:
    return mappings("lag-mappings.json")


class ElasticsearchSink:
    def __init__(
        self,
        client: Elasticsearch,
        *,
        prefix: str = "lagwatch",
        storage: str = "auto",
        retention_days: int = 30,
        chunk_size: int = 1000,
        clock=time.time,
        kind: str = "lag",  # <prefix>-<kind>: "lag", or "alerts" (exporter/alerts) with its own mapping
        mappings_file: str = "lag-mappings.json",
        max_retries: int = 2,  # for items (or whole requests) Elasticsearch answers 429
        initial_backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.client = client
        self.kind = kind
        self.mappings_file = mappings_file
        self.prefix = prefix
        self.storage = storage
        self.retention_days = retention_days
        self.chunk_size = chunk_size
        self.clock = clock
        self.max_retries = max_retries
        self.initial_backoff_s = initial_backoff_s
        self.sleep = sleep
        self.mode: str | None = None  # "daily_indices" or "data_stream" once set up
        self._last_prune_day: str | None = None

    @property
    def name(self) -> str:
        """What dashboards and searches read: the alias or the data stream."""
        return f"{self.prefix}-{self.kind}"

    # --- setup --------------------------------------------------------------------------------

    def supports_data_streams(self) -> bool:
        """True when every node has the data-streams module (minimal distributions lack it)."""
        info = self.client.nodes.info(metric="plugins")
        nodes = info.get("nodes", {}).values()
        return bool(nodes) and all(
            any(m.get("name") == "data-streams" for m in node.get("modules", [])) for node in nodes
        )

    def setup(self) -> str:
        """Install the index template (idempotent). Returns the storage mode in use."""
        try:
            mode = self.storage
            if mode == "auto":
                mode = "data_stream" if self.supports_data_streams() else "daily_indices"
            meta = {"managed_by": MANAGED_BY, "version": TEMPLATE_VERSION}
            settings = {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
            if mode == "data_stream":
                self.client.indices.put_index_template(
                    name=self.name,
                    index_patterns=[self.name],
                    data_stream={},
                    priority=200,
                    template={
                        "settings": settings,
                        "mappings": mappings(self.mappings_file),
                        "lifecycle": {"data_retention": f"{self.retention_days}d"},
                    },
                    meta=meta,
                )
            else:
                self.client.indices.put_index_template(
                    name=self.name,
                    index_patterns=[f"{self.name}-*"],
                    priority=200,
                    template={
                        "settings": settings,
                        "mappings": mappings(self.mappings_file),
                        "aliases": {self.name: {}},
                    },
                    meta=meta,
                )
        except (TransportError, ConnectionError, ApiError) as exc:
            raise _unavailable(exc, "setup") from exc
        self.mode = mode
        return mode

    # --- writing ------------------------------------------------------------------------------

    def index_for(self, doc: dict[str, Any]) -> str:
        if self.mode == "data_stream":
            return self.name
        if fields.SLOT in doc:
            # One scrape's documents share one slot: the day is formatted once per slot, not per document.
            return f"{self.name}-{_slot_day(doc[fields.SLOT])}"
        # documents without a scrape slot (alert transitions): their own time
        when = datetime.fromisoformat(doc[fields.TIMESTAMP].replace("Z", "+00:00"))
        return f"{self.name}-{when.strftime('%Y.%m.%d')}"

    def bodies(self, docs: Sequence[dict[str, Any]]):
        """The `_bulk` request bodies for these documents: (NDJSON bytes, the documents in them)."""
        return bulk.bodies(docs, self._op, self.index_for, self.chunk_size)

    def deliver(self, docs: list[dict[str, Any]]) -> DeliveryResult:
        """Bulk-index in bodies of `chunk_size` documents, checking every item's result. Items Elasticsearch
        answers 429 (too many requests) for, and a whole request answered 429, are sent again after 1 s and
        2 s; what is still refused then comes back in `retry` (5xx items at once)."""
        if self.mode is None:
            self.setup()
        result = DeliveryResult()
        try:
            for body, batch in self.bodies(docs):
                self._send(body, batch, result)
        except (TransportError, ConnectionError, ApiError) as exc:
            raise _unavailable(exc, "the bulk request") from exc
        return result

    def _send(self, body: bytes, batch: Sequence[dict[str, Any]], result: DeliveryResult) -> None:
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.sleep(self.initial_backoff_s * 2 ** (attempt - 1))
            try:
                answer = self.client.bulk(operations=body, filter_path=_BULK_FILTER).body
            except ApiError as exc:
                if exc.meta.status != 429 or attempt == self.max_retries:
                    raise
                continue  # the whole request refused for now: the same body again
            if not answer.get("errors"):
                result.indexed += len(batch)
                return
            again = []
            items = answer.get("items", [])
            if len(items) != len(batch):
                raise TransportError(f"bulk answered {len(items)} items for {len(batch)} documents")
            for doc, item in zip(batch, items):
                ((_, info),) = item.items()
                status = info.get("status", 0)
                if 200 <= status < 300:
                    result.indexed += 1
                elif status == 409:
                    result.duplicates += 1
                elif status == 429 and attempt < self.max_retries:
                    again.append(doc)
                elif status == 429 or status >= 500:
                    result.retry.append(doc)
                    if result.retry_reason is None:
                        result.retry_reason = f"{status} {_item_reason(info)}"
                else:
                    result.rejected.append((doc.get("_id", "?"), f"{status} {_item_reason(info)}"))
            if not again:
                return
            batch = again
            body = b"".join(part for part, _ in bulk.bodies(again, self._op, self.index_for, len(again)))

    @property
    def _op(self) -> str:
        return "create" if self.mode == "data_stream" else "index"

    # --- retention ------------------------------------------------------------------------------

    def prune(self) -> list[str]:
        """Delete daily indices older than the retention (data streams manage their own lifecycle)."""
        if self.mode != "daily_indices":
            return []
        today = datetime.fromtimestamp(self.clock(), tz=timezone.utc).date()
        if self._last_prune_day == today.isoformat():
            return []
        cutoff = today - timedelta(days=self.retention_days)
        try:
            existing = self.client.indices.get(index=f"{self.name}-*", expand_wildcards="open,closed")
        except ApiError as exc:
            if exc.meta.status == 404:
                return []
            raise
        doomed = []
        for index in existing:
            try:
                day = datetime.strptime(index.rsplit("-", 1)[-1], "%Y.%m.%d").date()
            except ValueError:
                continue  # not one of ours
            if day < cutoff:
                doomed.append(index)
        for index in doomed:
            self.client.indices.delete(index=index)
        self._last_prune_day = today.isoformat()
        return doomed


def install_templates(sinks: Sequence[ElasticsearchSink]) -> list[str]:
    """`lagwatch setup`'s Elasticsearch step: install each sink's index template (lag documents, alert
    documents) and pick its storage; one human-readable line per sink, for the CLI to print."""
    log = logs.get()
    done: list[str] = []
    for sink in sinks:
        mode = sink.setup()
        storage = (
            f"data stream {sink.name} with a {sink.retention_days}-day lifecycle"
            if mode == "data_stream"
            else f"daily indices {sink.name}-YYYY.MM.DD behind the alias {sink.name}, kept {sink.retention_days} days"
        )
        done.append(f"elasticsearch: index template {sink.name} installed ({storage})")
        log.info("setup_index_template", template=sink.name, storage=mode)
    return done
