"""Index lag documents into Elasticsearch or OpenSearch: index template, daily indices or a data stream, bulk,
retention.

The store (exporter/sinks/stores.py: the client and what differs between the two products) is built by the
CLI and passed in. Storage:
- daily indices `<prefix>-lag-YYYY.MM.DD` (UTC day of the scrape slot) behind the alias `<prefix>-lag`,
  old ones deleted after `retention_days`: works on every Elasticsearch, including minimal distributions;
- a data stream `<prefix>-lag` with a data-stream lifecycle, where the server supports data streams
  (`storage: auto` detects it; `data_stream` insists on it); Elasticsearch only.
Every document has a deterministic `_id`, so a retried or duplicated bulk never adds a document.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from importlib import resources
from collections.abc import Callable, Sequence
from typing import Any

from exporter import logs
from exporter.output.batch import Batch
from exporter.sinks.interface import DeliveryResult, SinkRefused, SinkUnavailable
from exporter.sinks.ledger import SinkCounts, SinkHealth
from exporter.sinks.stores import Store, as_store

MANAGED_BY = "lagwatch"
TEMPLATE_VERSION = 1


def mappings(file: str) -> dict[str, Any]:
    return json.loads(resources.files("exporter.resources").joinpath(file).read_text())


def _item_reason(info: dict[str, Any]) -> str:
    reason = info.get("error", {})
    if isinstance(reason, dict):
        reason = f"{reason.get('type')}: {reason.get('reason')}"
    return str(reason)


def lag_mappings() -> dict[str, Any]:
    return mappings("lag-mappings.json")


class ElasticsearchSink:
    """The sink of either product: `client` is a Store, or an elasticsearch-py client (wrapped in one)."""

    def __init__(
        self,
        client: Store | Any,
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
        self.store = as_store(client)
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
        # Why old daily indices cannot be deleted (missing privileges), while that lasts: shown by /readyz.
        self.retention_refused: str | None = None
        self._last_prune_day: str | None = None

    @property
    def name(self) -> str:
        """What dashboards and searches read: the alias or the data stream."""
        return f"{self.prefix}-{self.kind}"

    # --- setup --------------------------------------------------------------------------------

    def setup(self) -> str:
        """Install the index template (idempotent), once the user's privileges are known to be enough. Returns
        the storage mode in use."""
        self.store.check()
        # Before anything is installed: a role without what writing needs would get templates installed
        # (manage_index_templates is not limited by name) and then every document rejected.
        found = self.store.privileges((f"{self.name}*",), self.storage)
        if found is not None and found.missing_write():
            raise SinkRefused(f"{self.store.product} refused setup: {found.describe(found.missing_write())}", 403)
        mode = self.store.storage(self.storage)
        # The data stream, or the daily indices behind the alias: what the template shapes and what may exist.
        target = self.name if mode == "data_stream" else f"{self.name}-*"
        mapping = mappings(self.mappings_file)
        template: dict[str, Any] = {"settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1"},
                                    "mappings": mapping}
        if mode == "data_stream":
            template["lifecycle"] = {"data_retention": f"{self.retention_days}d"}
        else:
            template["aliases"] = {self.name: {}}
        self.store.put_index_template(self.name, {
            "index_patterns": [target],
            **({"data_stream": {}} if mode == "data_stream" else {}),
            "priority": 200,
            "template": template,
            "_meta": {"managed_by": MANAGED_BY, "version": TEMPLATE_VERSION},
        })
        self._add_new_fields_to_existing_indices(target, mapping)
        self.mode = mode
        if found is not None and mode == "daily_indices" and found.missing_retention():
            self.retention_refused = f"retention cannot delete old indices: {found.describe(found.missing_retention())}"
        return mode

    def _add_new_fields_to_existing_indices(self, target: str, mapping: dict[str, Any]) -> None:
        """A template shapes new indices only: today's index (or the data stream's write index) made by an older
        release keeps its strict mapping, which would refuse a field added since until the next day. Added fields
        are put on the existing indices; a change no mapping update can make (a field's type) is logged, and its
        documents are refused and counted as before."""
        try:
            self.store.put_mapping(target, mapping)
        except SinkRefused as refused:
            logs.get().warning("setup_mappings_not_updated", target=target, reason=str(refused))

    # --- writing ------------------------------------------------------------------------------

    def index_for(self, batch: Batch) -> str:
        """The data stream, or the daily index of the batch's day."""
        return self.name if self.mode == "data_stream" else f"{self.name}-{batch.day}"

    def deliver(self, batch: Batch) -> DeliveryResult:
        """Bulk-index in requests of at most `chunk_size` documents, checking every item's result. Items
        Elasticsearch answers 429 (too many requests) for, and a whole request answered 429, are sent again
        after 1 s and 2 s; what is still refused then comes back in `retry` (5xx items at once)."""
        if not batch.documents:
            return DeliveryResult()
        if self.mode is None:
            self.setup()
        result = DeliveryResult()
        retry: list[Batch] = []
        for part in batch.parts(self.chunk_size):
            self._send(part, result, retry)
        if retry:
            result.retry = Batch.joined(retry)
        return result

    def _send(self, part: Batch, result: DeliveryResult, retry: list[Batch]) -> None:
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.sleep(self.initial_backoff_s * 2 ** (attempt - 1))
            try:
                answer = self.store.bulk(part.operations(self._op), self.index_for(part))
            except SinkUnavailable as exc:
                if exc.status != 429 or attempt == self.max_retries:
                    raise
                continue  # the whole request refused for now: the same body again
            if not answer.get("errors"):
                result.indexed += part.documents
                return
            items = answer.get("items", [])
            if len(items) != part.documents:
                raise SinkUnavailable(f"bulk answered {len(items)} items for {part.documents} documents")
            again, later, ids = [], [], None
            for position, item in enumerate(items):
                ((_, info),) = item.items()
                status = info.get("status", 0)
                if 200 <= status < 300:
                    result.indexed += 1
                elif status == 409:
                    result.duplicates += 1
                elif status == 429 and attempt < self.max_retries:
                    again.append(position)
                elif status == 429 or status >= 500:
                    later.append(position)
                    if result.retry_reason is None:
                        result.retry_reason = f"{status} {_item_reason(info)}"
                else:
                    ids = ids or part.ids()
                    result.rejected.append((ids[position], f"{status} {_item_reason(info)}"))
            if later:
                retry.append(part.subset(later))
            if not again:
                return
            part = part.subset(again)

    @property
    def _op(self) -> str:
        return "create" if self.mode == "data_stream" else "index"

    def health(self) -> SinkHealth | None:
        return None  # no ledger of its own: the spool keeps it

    def counts(self) -> SinkCounts | None:
        return None

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
            doomed = self._prune(cutoff)
        except SinkRefused as exc:  # a missing privilege: said by the sink's health until a pass deletes
            self.retention_refused = f"retention cannot delete old indices: {exc}"
            raise
        self._last_prune_day = today.isoformat()
        self.retention_refused = None
        return doomed

    def _prune(self, cutoff) -> list[str]:
        doomed = []
        for index in self.store.index_names(f"{self.name}-*"):
            try:
                day = datetime.strptime(index.rsplit("-", 1)[-1], "%Y.%m.%d").date()
            except ValueError:
                continue  # not one of ours
            if day < cutoff:
                doomed.append(index)
        for index in doomed:
            self.store.delete_index(index)
        return doomed


def install_templates(sinks: Sequence[ElasticsearchSink]) -> list[str]:
    """`lagwatch setup`'s store step: install each sink's index template (lag documents, alert documents) in
    Elasticsearch or OpenSearch and pick its storage; one human-readable line per sink, for the CLI to print."""
    log = logs.get()
    done: list[str] = []
    for sink in sinks:
        mode = sink.setup()
        storage = (
            f"data stream {sink.name} with a {sink.retention_days}-day lifecycle"
            if mode == "data_stream"
            else f"daily indices {sink.name}-YYYY.MM.DD behind the alias {sink.name}, kept {sink.retention_days} days"
        )
        done.append(f"{sink.store.section}: index template {sink.name} installed ({storage})")
        log.info("setup_index_template", template=sink.name, storage=mode)
    return done
