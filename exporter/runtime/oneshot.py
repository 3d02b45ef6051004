"""The work of the one-shot commands, for the CLI to print: one scrape of every cluster (`lagwatch once`), what
lagwatch may do on each cluster and on the store (`lagwatch check-access`) and the set-up of the store
(Elasticsearch or OpenSearch) and Kibana (`lagwatch setup`). Clients are built by exporter/runtime/wiring.py
and closed here; nothing is printed here."""

from __future__ import annotations

from collections.abc import Iterator

from exporter.config import Config
from exporter.kafka import check
from exporter.kafka.check import ClusterAccess
from exporter.kibana import client as kibana
from exporter.runtime import wiring
from exporter.runtime.pipeline import CycleResult
from exporter.sinks import privileges
from exporter.sinks.interface import SinkRefused, SinkUnavailable


class SetupFailed(Exception):
    """A step of `lagwatch setup` failed; the message says which and why (nothing after it ran)."""


def scrape_once(config: Config, index: bool = False) -> Iterator[CycleResult | None]:
    """One cycle of each cluster's pipeline, in the config's order: its result, or None when the cycle failed
    (its error is in the log). With `index`, the documents are bulk-indexed into the store as well."""
    client = wiring.store_client(config.store) if index else None
    sink = wiring.elasticsearch_sink(config, client) if client is not None else None
    try:
        for pipeline in wiring.pipelines(config, sink):
            try:
                yield pipeline.run_once()
            finally:
                pipeline.collector.close()
    finally:
        if client is not None:
            client.close()


def check_access(config: Config) -> Iterator[ClusterAccess]:
    """Each cluster's access (exporter/kafka/check.py), in the config's order."""
    for cluster in config.clusters:
        collector = wiring.collector(config, cluster)
        try:
            yield check.check(collector)
        finally:
            collector.close()


def elasticsearch_access(config: Config) -> tuple[tuple[str, ...], privileges.Privileges | None]:
    """(the index patterns lagwatch writes, its user's privileges there; None where the store cannot be asked:
    no security, or OpenSearch). Raises SinkUnavailable or SinkRefused when the request failed."""
    store = config.store
    names = (f"{store.index_prefix}-lag*",) + ((f"{store.index_prefix}-alerts*",) if config.alerts.index else ())
    client = wiring.store_client(store)
    try:
        return names, client.privileges(names, store.storage)
    finally:
        client.close()


def setup(config: Config) -> Iterator[str]:
    """Index templates in the store (Elasticsearch or OpenSearch), then (with kibana.url) the saved objects and
    the rule in Kibana: one line per step done. Raises SetupFailed at the first step that fails."""
    client = wiring.store_client(config.store)
    sinks = [wiring.elasticsearch_sink(config, client), wiring.alert_sink(config, client)]
    try:
        yield from kibana.setup(config, [s for s in sinks if s is not None])
    except (kibana.KibanaError, SinkUnavailable, SinkRefused) as exc:
        raise SetupFailed(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - e.g. Elasticsearch refused the template: say why, no traceback
        raise SetupFailed(f"{type(exc).__name__}: {exc}") from None
    finally:
        client.close()
