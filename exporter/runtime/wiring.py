"""Builds the running objects from a Config: Kafka and Elasticsearch clients, collectors, pipelines.

The CLI calls these; tests call them too, to run the real daemon in-process against the harness services.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable

from elasticsearch import Elasticsearch
from kafka import KafkaAdminClient

from exporter import logs

from exporter.kafka import connect as kafka_connect

from exporter.kafka import sharding
from exporter.kafka.collector import Collector, Selection
from exporter.sinks.queue import QueuedSink
from exporter.config import Cluster, Config, ElasticsearchConfig, secret_values
from exporter.kafka.wire import KafkaWire
from exporter.runtime.pipeline import ClusterPipeline
from exporter.runtime.scheduler import Scheduler
from exporter.sinks.elasticsearch import ElasticsearchSink
from exporter.sinks.spool import Spool, SpoolingSink
from exporter.alerts.engine import Alerting
from exporter.coordination.alerting import ShardAlerting
from exporter.coordination.coordinator import Coordinator, ShardTaggingSink
from exporter.alerts.notifiers import WebhookNotifier, generic_payload, slack_payload
from exporter.alerts.state import StateStore
from exporter.evaluator.rules import rules_from
from exporter.evaluator.status import StatusConfig

# Enough in-flight requests per broker for one scrape's batched requests.
_MAX_IN_FLIGHT = 16


def register_secrets(config: Config) -> None:
    """Mask every secret of the config in every log line and error text: each secret option, URL passwords
    (Elasticsearch hosts, Kibana, webhooks) and webhook paths (their token)."""
    for secret in secret_values(config):
        logs.register_secret(secret)
    for notifier in config.alerts.notifiers:
        register_webhook_url(notifier.url.get_secret_value())


def register_webhook_url(url: str) -> None:
    """Webhook URLs carry their token in the path or query (Slack: /services/T../B../<token>)."""
    logs.register_secret(url)
    _, _, rest = url.partition("://")
    _, slash, path = rest.partition("/")
    if slash and len(path) >= 3:
        logs.register_secret("/" + path)


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


def selection(config: Config, cluster: Cluster, owner: Callable[[str, str], bool] | None = None) -> Selection:
    """Which groups and topics a scrape reports. `owner(cluster, group)`: replicas sharing the groups
    (exporter/coordination) report only the groups of the shards they own."""
    groups, topics = config.groups, config.topics
    own_client = re.compile(re.escape(cluster.client_id) + r"($|[-_.].*)", re.DOTALL)
    shard = config.scrape.shard_index_count

    def group_selected(name: str) -> bool:
        return (
            groups.matches(name) and not own_client.fullmatch(name) and sharding.owns(cluster.name, name, shard)
            and (owner is None or owner(cluster.name, name))
        )

    return Selection(
        group=group_selected,
        topic=topics.matches,
        groups_per_request=config.scrape.groups_per_request,
    )


def collector(config: Config, cluster: Cluster, owner: Callable[[str, str], bool] | None = None) -> Collector:
    timeout = min(cluster.request_timeout_s, config.scrape.effective_timeout_s)
    return Collector(
        cluster.name,
        lambda: KafkaWire(kafka_admin(cluster), timeout_s=timeout),
        selection(config, cluster, owner),
    )


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


def alert_sink(config: Config, client: Elasticsearch | None) -> ElasticsearchSink | None:
    """Alert transitions: <index_prefix>-alerts, stored like the lag documents, with their own mapping."""
    if client is None or not config.alerts.index:
        return None
    es = config.elasticsearch
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
    config: Config, sink, alerts: Callable[[str], Alerting] | None = None, keep_documents: bool = True,
    coordinator: Coordinator | None = None,
) -> list[ClusterPipeline]:
    """One pipeline per cluster; `alerts(cluster)` (the daemon) adds statuses, rules and notifications.
    The daemon does not keep each scrape's documents once delivered (`keep_documents=False`). With a
    `coordinator`, each reports only the groups of the shards this process owns, and says which in `self`."""
    owner = coordinator.reports if coordinator is not None else None
    if coordinator is not None:
        sink = ShardTaggingSink(sink, coordinator)
    instance = config.scrape.instance or socket.gethostname()
    hooks = {c.name: alerts(c.name) for c in config.clusters} if alerts is not None else {}
    return [
        ClusterPipeline(
            collector(config, cluster, owner),
            sink,
            granularity=config.scrape.granularity.value,
            interval_s=config.scrape.interval_s,
            items_per_record=config.items_per_record,
            history_points=config.time_lag.history_points,
            probe_ages_s=tuple(config.time_lag.probe_ages_s) if config.time_lag.broker_probes else (),
            scrape_timeout_s=config.scrape.effective_timeout_s,
            keep_documents=keep_documents,
            instance=instance,
            evaluate=hooks[cluster.name].evaluate if cluster.name in hooks else None,
            alert=hooks[cluster.name].alert if cluster.name in hooks else None,
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
    """The long-running process: one scheduled scrape job per cluster until `stop()`.

    Nothing slow runs on the scrape path or in start()/reload(): documents go through a delivery worker
    (exporter/delivery.py), notifications through a sender thread per cluster, and Elasticsearch templates are
    installed by the delivery worker, so SIGTERM is honoured at any moment."""

    def __init__(
        self, config: Config, sink=None, es_client: Elasticsearch | None = None
    ):
        self.config = config
        self.log = logs.get()
        # Close on stop only what we built: a client passed in belongs to the caller.
        self._owns_client = es_client is None and sink is None
        self.es_client = es_client if not self._owns_client else elasticsearch_client(config.elasticsearch)
        inner = sink if sink is not None else spooling_sink(config, elasticsearch_sink(config, self.es_client))
        self.sink = QueuedSink(inner)
        self.alert_sink = alert_sink(config, self.es_client)
        # Replicas sharing the groups through lagwatch's own consumer group (exporter/coordination).
        self.coordinator = (
            Coordinator(config, lambda: dict(self._alertings)) if config.coordination is not None else None
        )
        # One alert state store per file: its lock serialises the clusters' read-modify-write, across reloads.
        self._alert_stores: dict[object, StateStore] = {}
        self._alertings: dict[str, Alerting] = {}  # per cluster, the latest built (their senders flush at stop)
        self.pipelines = pipelines(
            config, self.sink, self._alerts_for(config), keep_documents=False, coordinator=self.coordinator
        )
        self.http = None  # exporter.http.HttpServer while running, when http.enabled
        self.scheduler = self._new_scheduler()
        self.stopped = threading.Event()

    def _new_scheduler(self) -> Scheduler:
        # Two workers per cluster (a slot starts while the previous one overruns) plus one for maintenance:
        # a slow cluster never delays another's scrape.
        return Scheduler(max_workers=2 * len(self.pipelines) + 1)

    def start(self) -> None:
        if self.config.http.enabled:
            from exporter.runtime.http import HttpServer

            try:
                self.http = HttpServer(self, self.config.http.host, self.config.http.port).start()
            except OSError as exc:
                # Scraping and indexing (what pages people) go on; /readyz being absent shows the problem.
                self.log.error("http_unavailable", host=self.config.http.host, port=self.config.http.port, error=str(exc))
        self._setup_sink()
        if self.coordinator is not None:
            self.coordinator.start()  # joins the group in its own thread; scrapes report what it is assigned
        self._schedule()
        self.scheduler.start()
        self.log.info(
            "daemon_started",
            clusters=[c.name for c in self.config.clusters],
            interval_s=self.config.scrape.interval_s,
            granularity=self.config.scrape.granularity.value,
        )

    def _schedule(self, scrape_now: set[str] | None = None) -> None:
        """Schedule every pipeline; those in `scrape_now` (default: all) scrape at once, the others at their
        next slot, so a reload never scrapes a kept cluster twice in one slot (same document ids)."""
        for pipeline in self.pipelines:
            name = pipeline.collector.cluster
            self.scheduler.every(
                f"scrape:{name}",
                self.config.scrape.interval_s,
                pipeline.run_slot,
                start_now=scrape_now is None or name in scrape_now,
            )
        self.scheduler.every(
            "maintenance", self.config.elasticsearch.maintenance_interval_s, self._maintenance, start_now=False
        )

    def _setup_sink(self) -> None:
        self.sink.setup()  # in the delivery worker: logs sink_ready or sink_setup_failed

    def _alerts_for(self, config: Config) -> Callable[[str], Alerting]:
        """Per-cluster alerting sharing one state file (and its lock), alert sink and notifiers."""
        location = config.alerts.state_location
        if location not in self._alert_stores:
            self._alert_stores[location] = StateStore(location)
        # Coordinated: the state lives in the coordination topic and moves with the shards.
        store = self.coordinator.store if self.coordinator is not None else self._alert_stores[location]
        ownership = self.coordinator.ownership if self.coordinator is not None else None
        notifier_list = notifiers(config)

        def make(cluster: str) -> Alerting:
            made = alerting(
                config, cluster, store=store, sink=self.alert_sink, notifier_list=notifier_list, background=True,
                ownership=ownership,
            )
            self._alertings[cluster] = made
            return made

        return make

    def _maintenance(self) -> None:
        self.log.info("maintenance_started")
        try:
            if self.alert_sink is not None:
                self.alert_sink.prune()
            deleted = self.sink.prune()
            if deleted:
                self.log.info("indices_pruned", indices=deleted)
        except Exception as exc:  # noqa: BLE001
            self.log.warning("prune_failed", error=str(exc))

    def stop(self, timeout_s: float = 8.0) -> bool:
        """Stop scheduling, let running scrapes finish for up to `timeout_s`, close clients.

        Returns False when a scrape was still running (stuck on the network) and had to be abandoned;
        what it measured is lost, everything delivered or spooled before is kept."""
        deadline = time.monotonic() + timeout_s
        if self.coordinator is not None:
            self._leave_group(deadline)
        self.scheduler.shutdown(wait=False)
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
        # Notifications in flight get the time left; what is not sent stays in the state file's outbox.
        for alerting_ in self._alertings.values():
            alerting_.flush(deadline - time.monotonic())
        # What the delivery worker could not send in the time left is spooled, not lost.
        self.sink.close(timeout_s=max(1.0, deadline - time.monotonic()))
        if self.http is not None:
            self.http.stop()
        if self._owns_client and self.es_client is not None:
            self.es_client.close()
        self.stopped.set()
        if abandoned:
            self.log.warning("scrape_abandoned", clusters=abandoned, waited_s=timeout_s)
        self.log.info("daemon_stopped")
        return not abandoned

    def _leave_group(self, deadline: float) -> None:
        """Leave the coordination group while still scraping: the others are assigned this process's shards
        about a heartbeat later, and a slot starting meanwhile is still scraped here (the shards linger)."""
        left = self.coordinator.leave(timeout_s=max(0.5, min(3.0, (deadline - time.monotonic()) / 2)))
        handover_s = min(self.config.coordination.heartbeat_s + 1.0, max(0.0, deadline - time.monotonic() - 4.0))
        self.log.info("coordination_left", left=left, scraping_on_s=round(handover_s, 1))
        self.stopped.wait(handover_s)  # not set before the end of stop(): a plain wait

    def reload(self, config: Config) -> None:
        """Apply a new config: clusters whose settings did not change keep their history and counters."""
        if config.coordination != self.config.coordination:
            # The membership, its topic and the shards' state are set up once: they change at restart.
            self.log.warning("config_reload_partial", section="coordination", detail="applies at the next restart")
            config = config.model_copy(update={"coordination": self.config.coordination})
        old = {p.collector.cluster: p for p in self.pipelines}
        previous_alertings = dict(self._alertings)
        same_selection = (config.groups, config.topics, config.scrape, config.time_lag, config.records_per_message) == (
            self.config.groups, self.config.topics, self.config.scrape, self.config.time_lag,
            self.config.records_per_message,
        )
        if config.elasticsearch != self.config.elasticsearch:
            self.es_client = elasticsearch_client(config.elasticsearch)
            self._owns_client = True
            # The spool directory carries over: what waits there is replayed to the new sink. The old
            # delivery worker drains (or spools) in the background: a reload never waits on Elasticsearch.
            retired = self.sink
            self.sink = QueuedSink(spooling_sink(config, elasticsearch_sink(config, self.es_client)))
            threading.Thread(target=retired.close, name="lagwatch-retire-sink", daemon=True).start()
            self._setup_sink()
            self.alert_sink = alert_sink(config, self.es_client)
        fresh = pipelines(config, self.sink, self._alerts_for(config), keep_documents=False, coordinator=self.coordinator)
        new_alerting = (config.alerts, config.elasticsearch) != (self.config.alerts, self.config.elasticsearch)
        kept, started = [], []
        previous_clusters = {c.name: c for c in self.config.clusters}
        for index, pipeline in enumerate(fresh):
            name = pipeline.collector.cluster
            cluster = next(c for c in config.clusters if c.name == name)
            if same_selection and previous_clusters.get(name) == cluster and name in old:
                old_pipeline = old.pop(name)
                old_pipeline.sink = pipeline.sink
                if new_alerting:  # new rules/notifiers; alert state comes back from the state file
                    old_pipeline.evaluate, old_pipeline.alert = pipeline.evaluate, pipeline.alert
                elif name in previous_alertings:  # the kept hooks' alerting is the one that flushes at stop
                    self._alertings[name] = previous_alertings[name]
                fresh[index] = old_pipeline
                kept.append(name)
            else:
                started.append(name)
        self.scheduler.remove_all()
        if old:  # clusters removed or changed: close their clients once their last scrape is done
            threading.Thread(
                target=_close_when_idle, args=(list(old.values()),), name="lagwatch-retire", daemon=True
            ).start()
        self.config, self.pipelines = config, fresh
        if len(fresh) + 1 > self.scheduler.max_workers:  # more clusters than workers: a bigger pool
            self.scheduler.shutdown(wait=False)
            self.scheduler = self._new_scheduler()
            self.scheduler.start()
        self._schedule(scrape_now=set(started))
        self.log.info("config_reloaded", kept=kept, started=started, removed=sorted(old))


def _close_when_idle(retired: list[ClusterPipeline], timeout_s: float = 30.0) -> None:
    for pipeline in retired:
        if not pipeline.wait_idle(timeout_s):
            continue  # still scraping: closing its client now would fail that scrape half-way
        try:
            pipeline.collector.close()
        except Exception:  # noqa: BLE001
            pass
