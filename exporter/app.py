"""Builds the running objects from a Config: Kafka and Elasticsearch clients, collectors, pipelines.

The CLI calls these; tests call them too, to run the real daemon in-process against the harness services.
"""

from __future__ import annotations

import re
import socket
import threading
import time

from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient

from exporter import logs
from exporter.collector import Collector, Selection
from exporter.config import Cluster, Config, ElasticsearchConfig
from exporter.kafka_wire import KafkaWire
from exporter.pipeline import ClusterPipeline
from exporter.scheduler import Scheduler
from exporter.sinks.elasticsearch import ElasticsearchSink
from exporter.sinks.spool import Spool, SpoolingSink

# Enough in-flight requests per broker for one scrape's batched requests.
_MAX_IN_FLIGHT = 16


def register_secrets(config: Config) -> None:
    for cluster in config.clusters:
        for secret in (cluster.security.password, cluster.security.ssl_password):
            if secret is not None:
                logs.register_secret(secret.get_secret_value())
    for secret in (
        config.elasticsearch.password,
        config.elasticsearch.api_key,
        config.kibana.password,
        config.kibana.api_key,
    ):
        if secret is not None:
            logs.register_secret(secret.get_secret_value())


def kafka_admin(cluster: Cluster) -> KafkaAdminClient:
    """An admin client for reading only: it never joins a group, commits, or auto-creates topics."""
    return KafkaAdminClient(
        bootstrap_servers=list(cluster.bootstrap_servers),
        client_id=cluster.client_id,
        request_timeout_ms=int(cluster.request_timeout_s * 1000) + 5000,
        max_in_flight_requests_per_connection=_MAX_IN_FLIGHT,
        **cluster.security.client_kwargs(),
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


def selection(config: Config, cluster: Cluster) -> Selection:
    groups, topics = config.groups, config.topics
    own_client = re.compile(re.escape(cluster.client_id) + r"($|[-_.].*)")

    def group_selected(name: str) -> bool:
        return groups.matches(name) and not own_client.fullmatch(name)

    return Selection(
        group=group_selected,
        topic=topics.matches,
        groups_per_request=config.scrape.groups_per_request,
    )


def collector(config: Config, cluster: Cluster) -> Collector:
    timeout = min(cluster.request_timeout_s, config.scrape.effective_timeout_s)
    return Collector(
        cluster.name,
        lambda: KafkaWire(kafka_admin(cluster), timeout_s=timeout),
        selection(config, cluster),
    )


def pipelines(config: Config, sink) -> list[ClusterPipeline]:
    instance = socket.gethostname()
    return [
        ClusterPipeline(
            collector(config, cluster),
            sink,
            granularity=config.scrape.granularity.value,
            interval_s=config.scrape.interval_s,
            items_per_record=config.items_per_record,
            history_points=config.time_lag.history_points,
            probe_ages_s=tuple(config.time_lag.probe_ages_s) if config.time_lag.broker_probes else (),
            instance=instance,
        )
        for cluster in config.clusters
    ]


def elasticsearch_sink(config: Config, client: Elasticsearch) -> ElasticsearchSink:
    es = config.elasticsearch
    return ElasticsearchSink(
        client,
        prefix=es.index_prefix,
        storage=es.storage,
        retention_days=es.retention_days,
        chunk_size=es.bulk_chunk,
    )


def spooling_sink(config: Config, inner) -> SpoolingSink:
    """What the daemon delivers through: documents Elasticsearch cannot take wait in the on-disk spool."""
    spool = Spool(config.spool.path, config.spool.max_bytes)
    return SpoolingSink(inner, spool, replay_documents=config.spool.replay_documents)


class Daemon:
    """The long-running process: one scheduled scrape job per cluster until `stop()`."""

    def __init__(self, config: Config, sink=None, es_client: Elasticsearch | None = None):
        self.config = config
        self.log = logs.get()
        self.es_client = es_client if es_client is not None or sink is not None else elasticsearch_client(
            config.elasticsearch
        )
        self.sink = sink if sink is not None else spooling_sink(config, elasticsearch_sink(config, self.es_client))
        self.pipelines = pipelines(config, self.sink)
        self.http = None  # exporter.http.HttpServer while running, when http.enabled
        self.scheduler = Scheduler(max_workers=max(2, len(self.pipelines)))
        self.stopped = threading.Event()

    def start(self) -> None:
        if self.config.http.enabled:
            from exporter.http import HttpServer

            self.http = HttpServer(self, self.config.http.host, self.config.http.port).start()
        self._setup_sink()
        self._schedule()
        self.scheduler.start()
        self.log.info(
            "daemon_started",
            clusters=[c.name for c in self.config.clusters],
            interval_s=self.config.scrape.interval_s,
            granularity=self.config.scrape.granularity.value,
        )

    def _schedule(self) -> None:
        for pipeline in self.pipelines:
            self.scheduler.every(f"scrape:{pipeline.collector.cluster}", self.config.scrape.interval_s, pipeline.run_once)
        self.scheduler.every("maintenance", 3600, self._maintenance, start_now=False)

    def _setup_sink(self) -> None:
        try:
            mode = self.sink.setup()
            self.log.info("sink_ready", storage=mode, target=self.sink.name)
        except Exception as exc:  # noqa: BLE001 - retried on the first delivery
            self.log.error("sink_setup_failed", error=str(exc))

    def _maintenance(self) -> None:
        try:
            deleted = self.sink.prune()
            if deleted:
                self.log.info("indices_pruned", indices=deleted)
        except Exception as exc:  # noqa: BLE001
            self.log.warning("prune_failed", error=str(exc))

    def stop(self, timeout_s: float = 8.0) -> bool:
        """Stop scheduling, let running scrapes finish for up to `timeout_s`, close clients.

        Returns False when a scrape was still running (stuck on the network) and had to be abandoned;
        what it measured is lost, everything delivered or spooled before is kept."""
        self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + timeout_s
        abandoned = [
            p.collector.cluster for p in self.pipelines if not p.wait_idle(deadline - time.monotonic())
        ]
        for pipeline in self.pipelines:
            if pipeline.collector.cluster in abandoned:
                continue
            try:
                pipeline.collector.close()
            except Exception:  # noqa: BLE001 - closing a never-connected client
                pass
        if self.http is not None:
            self.http.stop()
        self.stopped.set()
        if abandoned:
            self.log.warning("scrape_abandoned", clusters=abandoned, waited_s=timeout_s)
        self.log.info("daemon_stopped")
        return not abandoned

    def reload(self, config: Config) -> None:
        """Apply a new config: clusters whose settings did not change keep their history and counters."""
        old = {p.collector.cluster: p for p in self.pipelines}
        same_selection = (config.groups, config.topics, config.scrape, config.time_lag, config.records_per_message) == (
            self.config.groups, self.config.topics, self.config.scrape, self.config.time_lag,
            self.config.records_per_message,
        )
        if config.elasticsearch != self.config.elasticsearch:
            self.es_client = elasticsearch_client(config.elasticsearch)
            self.sink = elasticsearch_sink(config, self.es_client)
            self._setup_sink()
        fresh = pipelines(config, self.sink)
        kept, started = [], []
        previous_clusters = {c.name: c for c in self.config.clusters}
        for index, pipeline in enumerate(fresh):
            name = pipeline.collector.cluster
            cluster = next(c for c in config.clusters if c.name == name)
            if same_selection and previous_clusters.get(name) == cluster and name in old:
                old_pipeline = old.pop(name)
                old_pipeline.sink = self.sink
                fresh[index] = old_pipeline
                kept.append(name)
            else:
                started.append(name)
        self.scheduler.remove_all()
        for pipeline in old.values():  # clusters removed or changed
            pipeline.wait_idle(5.0)
            try:
                pipeline.collector.close()
            except Exception:  # noqa: BLE001
                pass
        self.config, self.pipelines = config, fresh
        self._schedule()
        self.log.info("config_reloaded", kept=kept, started=started, removed=sorted(old))
