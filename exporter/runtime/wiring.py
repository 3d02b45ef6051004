"""Builds the running objects from a Config: Kafka and Elasticsearch (or OpenSearch) clients, collectors, sinks,
alerting, pipelines. Clients are built here and passed in to what uses them.

The daemon (exporter/runtime/daemon.py), `lagwatch once`/`setup`/`top` and the tests call these.
"""

from __future__ import annotations

import base64
import dataclasses
import socket
from collections.abc import Callable
from typing import Any

from elastic_transport import Transport
from elastic_transport.client_utils import url_to_node_config
from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient

from exporter import __version__
from exporter.kafka import access
from exporter.kafka import connect as kafka_connect

from exporter.kafka import selection as kafka_selection
from exporter.kafka.client import KafkaClient
from exporter.kafka.collector import Collector
from exporter.kafka.selection import Selection
from exporter.config import Cluster, Config, ElasticsearchConfig, OpenSearchConfig, SecurityProtocol, StoreConfig
from exporter.kafka.wire import KafkaWire
from exporter.runtime.pipeline import ClusterPipeline
from exporter.runtime.secrets import register_webhook_url
from exporter.sinks.elasticsearch import ElasticsearchSink
from exporter.sinks.interface import Sink
from exporter.sinks.opensearch import OpenSearchStore
from exporter.sinks.queue import QueuedSink
from exporter.sinks.stores import ElasticsearchStore, Store
from exporter.sinks.spool import Spool, SpoolingSink
from exporter.sinks.writeahead import DIRECTORY as WRITE_AHEAD_DIR, WriteAhead, recover
from exporter.alerts.engine import Alerting
from exporter.coordination.alerting import ShardAlerting
from exporter.coordination.coordinator import Coordinator
from exporter.alerts.notifiers import WebhookNotifier, generic_payload, slack_payload
from exporter.alerts.state import StateStore
from exporter.evaluator.rules import rules_from
from exporter.evaluator.status import StatusConfig

# Enough in-flight requests per broker for one scrape's batched requests.
_MAX_IN_FLIGHT = 16


def kafka_admin(cluster: Cluster) -> KafkaAdminClient:
    """An admin client for reading only: it never joins a group, commits, or auto-creates topics."""
    # kafka_connect bounds the bootstrap by request_timeout_s and says why it failed (TLS, SASL, refused).
    return kafka_connect.admin_client(
        cluster,
        request_timeout_ms=int(cluster.request_timeout_s * 1000) + 5000,
        max_in_flight_requests_per_connection=_MAX_IN_FLIGHT,
    )


def elasticsearch_client(config: ElasticsearchConfig) -> Elasticsearch:
    kwargs: dict = {"request_timeout": config.request_timeout_s, "retry_on_timeout": True, "max_retries": 2}
    if config.username is not None and config.password is not None:
        kwargs["basic_auth"] = (config.username, config.password.get_secret_value())
    if config.api_key is not None:
        kwargs["api_key"] = config.api_key.get_secret_value()
    if config.ca_certs is not None:
        kwargs["ca_certs"] = str(config.ca_certs)
    if not config.verify_certs:
        kwargs["verify_certs"] = False
    return Elasticsearch([str(h) for h in config.hosts], **kwargs)


def opensearch_store(config: OpenSearchConfig) -> OpenSearchStore:
    """The OpenSearch store over elastic_transport, with the Elasticsearch client's timeouts and retries; a
    user:password in a host URL or username/password become basic auth (exporter/sinks/opensearch.py)."""
    nodes = []
    for host in config.hosts:
        node = url_to_node_config(str(host), use_default_ports_for_scheme=True)
        if node.scheme == "https":
            ca = str(config.ca_certs) if config.ca_certs is not None else None
            node = dataclasses.replace(node, ca_certs=ca, verify_certs=config.verify_certs,
                                       ssl_show_warn=config.verify_certs)
        nodes.append(dataclasses.replace(node, request_timeout=config.request_timeout_s))
    headers = {"user-agent": f"lagwatch/{__version__}"}
    if config.username is not None and config.password is not None:
        token = base64.b64encode(f"{config.username}:{config.password.get_secret_value()}".encode()).decode()
        headers["authorization"] = f"Basic {token}"
    return OpenSearchStore(Transport(nodes, max_retries=2, retry_on_timeout=True, meta_header=False), headers)


def store_client(config: StoreConfig) -> Store:
    """The store of the config's elasticsearch or opensearch section (Config.store), with its client."""
    if isinstance(config, OpenSearchConfig):
        return opensearch_store(config)
    return ElasticsearchStore(elasticsearch_client(config))


def selection(config: Config, cluster: Cluster, owner: Callable[[str, str], bool] | None = None) -> Selection:
    """Which groups and topics a scrape reports. `owner(cluster, group)`: replicas sharing the groups
    (exporter/coordination) report only the groups of the shards they own."""
    group_matches = config.groups.matcher()
    own_client = cluster.client_id
    shard = config.scrape.shard_index_count

    def group_selected(name: str) -> bool:
        # Not lagwatch's own groups: its client id alone or followed by one of - _ . (and anything after).
        if name.startswith(own_client) and (len(name) == len(own_client) or name[len(own_client)] in "-_."):
            return False
        return (
            group_matches(name) and (shard is None or kafka_selection.owns(cluster.name, name, shard))
            and (owner is None or owner(cluster.name, name))
        )

    return Selection(
        group=group_selected,
        topic=config.topics.matcher(),
        groups_per_request=config.scrape.groups_per_request,
    )


def collector(config: Config, cluster: Cluster, owner: Callable[[str, str], bool] | None = None) -> Collector:
    timeout = min(cluster.request_timeout_s, config.scrape.effective_timeout_s)
    return Collector(
        cluster.name,
        KafkaClient(lambda: KafkaWire(kafka_admin(cluster), timeout_s=timeout)),
        selection(config, cluster, owner),
        principal=principal(cluster),
    )


def principal(cluster: Cluster) -> str:
    """Who lagwatch is to the cluster's authorizer, as grants name it: the SASL user; User:ANONYMOUS without
    authentication; a placeholder for a TLS client certificate (the broker maps its distinguished name)."""
    security = cluster.security
    if security.protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL):
        return access.principal_of(security.username)
    if security.protocol == SecurityProtocol.SSL and security.ssl_certfile is not None:
        return access.principal_of(None)
    return "User:ANONYMOUS"


def notifiers(config: Config) -> list[WebhookNotifier]:
    made = []
    for n in config.alerts.notifiers:
        url = n.url.get_secret_value()
        register_webhook_url(url)
        made.append(
            WebhookNotifier(
                n.name, url, payload=slack_payload if n.type == "slack" else generic_payload,
                timeout_s=n.timeout_s, retries=n.retries, backoff_s=n.backoff_s,
            )
        )
    return made


def alert_sink(config: Config, client: Store | Elasticsearch | None) -> ElasticsearchSink | None:
    """Alert transitions: <index_prefix>-alerts, stored like the lag documents, with their own mapping."""
    if client is None or not config.alerts.index:
        return None
    es = config.store
    return ElasticsearchSink(
        client, prefix=es.index_prefix, storage=es.storage, retention_days=es.retention_days,
        chunk_size=es.bulk_chunk, kind="alerts", mappings_file="alert-mappings.json",
    )


def alerting(
    config: Config, cluster: str, *, store: StateStore, sink=None, notifier_list=(), clock=None, background=False,
    ownership=None,
) -> Alerting:
    """`ownership` (exporter.coordination.ownership.Ownership): replicas sharing the groups; this process then
    evaluates and notifies only for the groups of the shards it owns."""
    alerts = config.alerts
    threshold_rules, status_rules = rules_from(alerts)
    extra = {"ownership": ownership} if ownership is not None else {}
    return (ShardAlerting if ownership is not None else Alerting)(
        cluster,
        **extra,
        status_config=StatusConfig(alerts.window, alerts.stop_after_s) if alerts.status else None,
        threshold_rules=threshold_rules,
        status_rules=status_rules,
        store=store,
        sink=sink,
        notifiers=notifier_list,
        repeat_s=alerts.repeat_s,
        clock=clock,
        background=background,
    )


def pipelines(
    config: Config, sink: Sink | None, alerts: Callable[[str], Alerting] | None = None, keep_documents: bool = True,
    coordinator: Coordinator | None = None,
) -> list[ClusterPipeline]:
    """One pipeline per cluster; `alerts(cluster)` (the daemon) adds statuses, rules and notifications.
    The daemon does not keep each scrape's documents once delivered (`keep_documents=False`). With a
    `coordinator`, each reports only the groups of the shards this process owns, and says which in `self`."""
    owner = coordinator.reports if coordinator is not None else None
    instance = config.scrape.instance or socket.gethostname()
    hooks = {c.name: alerts(c.name) for c in config.clusters} if alerts is not None else {}
    return [
        ClusterPipeline(
            collector(config, cluster, owner),
            sink,
            granularity=config.scrape.granularity.value,
            interval_s=config.scrape.interval_s,
            items_per_record=config.items_per_record,
            **time_lag_options(config),
            scrape_timeout_s=config.scrape.effective_timeout_s,
            batch_documents=config.elasticsearch.bulk_chunk,
            keep_documents=keep_documents,
            instance=instance,
            self_fields=coordinator.self_fields if coordinator is not None else None,
            evaluate=hooks[cluster.name].evaluate if cluster.name in hooks else None,
            alert=hooks[cluster.name].alert if cluster.name in hooks else None,
        )
        for cluster in config.clusters
    ]


def time_lag_options(config: Config) -> dict[str, Any]:
    """ClusterPipeline's time-lag arguments from the `time_lag` section."""
    time_lag = config.time_lag
    return {
        "history_points": time_lag.history_points,
        "probe_ages_s": tuple(time_lag.probe_ages_s) if time_lag.broker_probes else (),
        "clock_skew_tolerance_s": time_lag.clock_skew_tolerance_s,
    }


def elasticsearch_sink(config: Config, client: Store | Elasticsearch) -> ElasticsearchSink:
    """The lag documents' sink, in Elasticsearch or OpenSearch (whichever store `client` is)."""
    es = config.store
    return ElasticsearchSink(
        client,
        prefix=es.index_prefix,
        storage=es.storage,
        retention_days=es.retention_days,
        chunk_size=es.bulk_chunk,
    )


def delivery_queue(config: Config, inner: Sink, starting: bool = False) -> QueuedSink:
    """The daemon's delivery queue in front of `inner`. In front of the spool, what it holds is written ahead
    to the spool directory; `starting`: first what a killed process left there goes into the spool."""
    if not isinstance(inner, SpoolingSink):
        return QueuedSink(inner, config.delivery.queue_max_bytes)
    if starting:
        recover(inner.spool)
    return QueuedSink(inner, config.delivery.queue_max_bytes, WriteAhead(inner.spool.dir / WRITE_AHEAD_DIR))


def spooling_sink(config: Config, inner: Sink) -> SpoolingSink:
    """What the daemon delivers through: documents the store cannot take wait in the on-disk spool."""
    spool = Spool(config.spool.path, config.spool.max_bytes)
    return SpoolingSink(inner, spool, replay_documents=config.spool.replay_documents)
