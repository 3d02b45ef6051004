"""The long-running process: one scheduled scrape job per cluster, delivery, alerting and the HTTP
endpoints (`Daemon`), and its life under signals until SIGTERM or SIGINT, SIGHUP reloading the config (`run`).

Objects are built by exporter/runtime/wiring.py; the CLI loads the config and turns the outcome into an exit code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from elasticsearch import Elasticsearch

from exporter import logs
from exporter.alerts.engine import Alerting
from exporter.alerts.state import StateStore
from exporter.config import Config, ConfigError
from exporter.coordination.coordinator import Coordinator
from exporter.runtime import wiring
from exporter.runtime.pipeline import ClusterPipeline
from exporter.runtime.scheduler import Scheduler
from exporter.runtime.secrets import register_secrets
from exporter.runtime.signals import DaemonSignals
from exporter.sinks.stores import Store


def run(config: Config, signals: DaemonSignals, load: Callable[[], Config], *, source: str | None = None,
        stop_timeout_s: float = 8.0) -> bool:
    """Run a Daemon for `config` until `signals` asks to stop, applying `load()` (the config read again; it
    may raise ConfigError) at each SIGHUP. False when a scrape stuck on the network had to be abandoned at stop."""
    log = logs.get()
    daemon = Daemon(config)
    daemon.start()
    while signals.next_reload():
        try:
            new_config = load()
        except ConfigError as exc:
            log.error(
                "config_reload_rejected",
                file=source,
                problems=[f"{path}: {message}" for path, message in exc.problems],
                detail="keeping the running config",
            )
            continue
        register_secrets(new_config)
        try:
            daemon.reload(new_config)
        except Exception as exc:  # noqa: BLE001 - a reload that fails half-way must not end the daemon
            log.error("config_reload_failed", error=f"{type(exc).__name__}: {exc}", detail="scraping goes on")
    log.info("shutdown_requested")
    return daemon.stop(timeout_s=stop_timeout_s)


class Daemon:
    """The long-running process: one scheduled scrape job per cluster until `stop()`.

    Nothing slow runs on the scrape path or in start()/reload(): documents go through a delivery worker
    (exporter/sinks/queue.py), notifications through a sender thread per cluster, and Elasticsearch templates are
    installed by the delivery worker, so SIGTERM is honoured at any moment."""

    def __init__(
        self, config: Config, sink=None, es_client: Store | Elasticsearch | None = None
    ):
        self.config = config
        self.log = logs.get()
        # Close on stop only what we built: a client passed in belongs to the caller.
        self._owns_client = es_client is None and sink is None
        # The store's client (Elasticsearch or OpenSearch, exporter/sinks/stores.py), or the one passed in.
        self.es_client = es_client if not self._owns_client else wiring.store_client(config.store)
        inner = sink if sink is not None else wiring.spooling_sink(config, wiring.elasticsearch_sink(config, self.es_client))
        self.sink = wiring.delivery_queue(config, inner, starting=True)
        self.alert_sink = wiring.alert_sink(config, self.es_client)
        # Replicas sharing the groups through lagwatch's own consumer group (exporter/coordination).
        self.coordinator = (
            Coordinator(config, lambda: dict(self._alertings)) if config.coordination is not None else None
        )
        # One alert state store per file: its lock serialises the clusters' read-modify-write, across reloads.
        self._alert_stores: dict[object, StateStore] = {}
        self._alertings: dict[str, Alerting] = {}  # per cluster, the latest built (their senders flush at stop)
        self.pipelines = wiring.pipelines(
            config, self.sink, self._alerts_for(config), keep_documents=False, coordinator=self.coordinator
        )
        self.http = None  # exporter.runtime.http.HttpServer while running, when http.enabled
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
            "maintenance", self.config.store.maintenance_interval_s, self._maintenance, start_now=False
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
        notifier_list = wiring.notifiers(config)

        def make(cluster: str) -> Alerting:
            made = wiring.alerting(
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
        if config.store != self.config.store:
            self.es_client = wiring.store_client(config.store)
            self._owns_client = True
            # The spool directory carries over: what waits there is replayed to the new sink. The old
            # delivery worker drains (or spools) in the background: a reload never waits on Elasticsearch.
            retired = self.sink
            self.sink = wiring.delivery_queue(
                config, wiring.spooling_sink(config, wiring.elasticsearch_sink(config, self.es_client))
            )
            threading.Thread(target=retired.close, name="lagwatch-retire-sink", daemon=True).start()
            self._setup_sink()
            self.alert_sink = wiring.alert_sink(config, self.es_client)
        fresh = wiring.pipelines(config, self.sink, self._alerts_for(config), keep_documents=False, coordinator=self.coordinator)
        new_alerting = (config.alerts, config.store) != (self.config.alerts, self.config.store)
        kept, started = [], []
        previous_clusters = {c.name: c for c in self.config.clusters}
        for index, pipeline in enumerate(fresh):
            name = pipeline.collector.cluster
            cluster = next(c for c in config.clusters if c.name == name)
            if same_selection and previous_clusters.get(name) == cluster and name in old:
                old_pipeline = old.pop(name)
                # New rules/notifiers: alert state comes back from the state file.
                old_pipeline.carry_on_with(pipeline, hooks=new_alerting)
                if not new_alerting and name in previous_alertings:  # the kept hooks' alerting flushes at stop
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
