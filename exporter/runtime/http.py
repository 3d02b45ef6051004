"""The daemon's own HTTP endpoints: /healthz (alive), /readyz (scraping and delivering), /metrics (Prometheus).

Served by exporter/httpserve.py (one asyncio loop on its own thread, a deep listen backlog, idle sockets
closed after `idle_timeout_s`, slow endpoints on worker threads): a slow client never blocks scraping, and a
burst of probes or a pile of idle sockets never blocks /healthz. /metrics is rendered
by prometheus_client from a custom collector that reads each pipeline's latest status (the last LagReport and
cumulative counters) and the sink's health at request time, so nothing is updated twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from exporter import logs
from exporter.runtime.http_server import Response, Server

# A cluster is ready while its last successful scrape is at most this many intervals old.
READY_INTERVALS = 3


def readiness(pipelines: Sequence, sink, now: float | None = None, coordinator=None) -> tuple[bool, dict]:
    """(ready, explanation): every cluster scraped within READY_INTERVALS intervals, and the sink reachable
    or spooling below its cap, and not refusing lagwatch's requests (a configuration problem), and, for
    replicas sharing the groups, a member of the coordination group (which shards it owns is in the body)."""
    now = time.time() if now is None else now
    clusters, ready = {}, True
    for pipeline in pipelines:
        status = pipeline.status()
        limit = READY_INTERVALS * status.interval_s
        age = None if status.last_success is None else now - status.last_success
        ok = age is not None and age <= limit
        entry: dict = {"ready": ok, "last_success_age_s": None if age is None else round(age, 1), "limit_s": limit}
        if not ok:
            report = status.last_report
            if report is None:
                entry["reason"] = "no scrape finished yet"
            else:
                entry["reason"] = "; ".join(
                    f"{e.scope} {e.name}: {e.message}" for e in report.snapshot.errors[:3]
                ) or "no successful scrape within the limit"
        clusters[status.cluster] = entry
        ready = ready and ok
    body: dict = {"clusters": clusters}
    health = sink.health() if sink is not None and hasattr(sink, "health") else None
    if health is not None:
        body["sink"] = {
            "ready": health.ready,
            "reachable": health.reachable,
            "spool_bytes": health.spool_bytes,
            "spool_max_bytes": health.spool_max_bytes,
            "spool_documents": health.spool_documents,
            "dropping": health.dropping,
            "last_error": health.last_error,
            "refused": health.refused,
            "dropped_documents": health.dropped_documents,
            "rejected_documents": health.rejected_documents,
            "dead_lettered_documents": health.dead_lettered_documents,
            "deferred_segments": health.deferred_segments,
            "dead_letter_dir": health.dead_letter_dir,
        }
        reason = health.reason
        if not health.ready and reason:
            body["sink"]["reason"] = reason
        ready = ready and health.ready
    if coordinator is not None:
        member_ready, body["coordination"] = coordinator.readiness()
        ready = ready and member_ready
    body["ready"] = ready
    return ready, body


class LagCollector:
    """prometheus_client custom collector over the pipelines' latest status."""

    def __init__(
        self, pipelines: Callable[[], Sequence], sink: Callable[[], object],
        coordinator: Callable[[], object] = lambda: None,
    ):
        self._pipelines = pipelines
        self._sink = sink
        self._coordinator = coordinator

    def collect(self):
        up = GaugeMetricFamily("lagwatch_up", "1 when the last scrape reached the cluster", labels=["cluster"])
        duration = GaugeMetricFamily(
            "lagwatch_scrape_duration_seconds", "Duration of the last scrape", labels=["cluster"]
        )
        last_success = GaugeMetricFamily(
            "lagwatch_last_success_timestamp_seconds", "Time of the last scrape that reached the cluster",
            labels=["cluster"],
        )
        scrapes = CounterMetricFamily(
            "lagwatch_scrapes", "Scrapes by result (failed: the cluster could not be read at all)",
            labels=["cluster", "result"],
        )
        errors = CounterMetricFamily(
            "lagwatch_scrape_errors", "Per-item scrape errors (group, partition, broker, cluster)",
            labels=["cluster"],
        )
        requests = CounterMetricFamily(
            "lagwatch_kafka_requests", "Kafka requests sent, by API", labels=["cluster", "api"]
        )
        group_lag = GaugeMetricFamily(
            "lagwatch_group_lag", "Consumer group lag in messages (sum over partitions)", labels=["cluster", "group"]
        )
        group_info = GaugeMetricFamily(
            "lagwatch_group_info", "1 per group: its type (classic, consumer, share, streams) and Kafka state",
            labels=["cluster", "group", "type", "state"],
        )
        group_topic_lag = GaugeMetricFamily(
            "lagwatch_group_topic_lag", "Consumer group lag in messages per topic",
            labels=["cluster", "group", "topic"],
        )
        partial = GaugeMetricFamily(
            "lagwatch_group_lag_partial",
            "1 when part of the group's lag could not be read this scrape: its lag series are then absent",
            labels=["cluster", "group"],
        )
        unknown = GaugeMetricFamily(
            "lagwatch_group_partitions_unknown", "Partitions whose lag could not be read this scrape",
            labels=["cluster", "group"],
        )
        lag_seconds = GaugeMetricFamily(
            "lagwatch_group_lag_seconds", "Age of the oldest unread record (max over partitions; absent if unknown)",
            labels=["cluster", "group"],
        )
        topic_lag_seconds = GaugeMetricFamily(
            "lagwatch_group_topic_lag_seconds", "Age of the oldest unread record per topic (absent if unknown)",
            labels=["cluster", "group", "topic"],
        )
        for pipeline in self._pipelines():
            status = pipeline.status()
            cluster = status.cluster
            scrapes.add_metric([cluster, "ok"], status.scrapes_ok)
            scrapes.add_metric([cluster, "failed"], status.scrapes_failed)
            errors.add_metric([cluster], status.errors_total)
            for api, count in status.requests_total:
                requests.add_metric([cluster, api], count)
            if status.last_success is not None:
                last_success.add_metric([cluster], status.last_success)
            report = status.last_report
            if report is None:
                continue
            up.add_metric([cluster], 1.0 if report.snapshot.up else 0.0)
            duration.add_metric([cluster], report.snapshot.duration_s)
            for group in report.groups:
                group_info.add_metric([cluster, group.group, group.group_type or "classic", group.state], 1.0)
                # A partial sum is not exported as if it were whole: the series is absent and
                # lagwatch_group_partitions_unknown says why.
                partial.add_metric([cluster, group.group], 1.0 if group.partial else 0.0)
                unknown.add_metric([cluster, group.group], group.partitions_unknown)
                if group.partial:
                    continue
                group_lag.add_metric([cluster, group.group], group.lag_sum)
                if group.lag_seconds_max is not None:
                    lag_seconds.add_metric([cluster, group.group], group.lag_seconds_max)
            for row in report.group_topics:
                if row.partial:
                    continue
                group_topic_lag.add_metric([cluster, row.group, row.topic], row.lag_sum)
                if row.lag_seconds_max is not None:
                    topic_lag_seconds.add_metric([cluster, row.group, row.topic], row.lag_seconds_max)
        yield from (up, duration, last_success, scrapes, errors, requests)
        yield from (group_lag, group_topic_lag, lag_seconds, topic_lag_seconds, partial, unknown, group_info)
        yield from self._coordination()

        sink = self._sink()
        health = sink.health() if sink is not None and hasattr(sink, "health") else None
        if health is not None:
            yield GaugeMetricFamily("lagwatch_spool_bytes", "Bytes waiting in the spool", value=health.spool_bytes)
            yield GaugeMetricFamily(
                "lagwatch_spool_documents", "Documents waiting in the spool", value=health.spool_documents
            )
            yield GaugeMetricFamily(
                "lagwatch_spool_max_bytes", "Spool size cap (spool.max_bytes)", value=health.spool_max_bytes
            )
            yield CounterMetricFamily(
                "lagwatch_spool_dropped_documents",
                "Documents dropped unindexed (spool full, disk full or not writable, unreadable segment)",
                value=health.dropped_documents,
            )
            yield CounterMetricFamily(
                "lagwatch_documents_rejected",
                "Documents Elasticsearch rejected (4xx items such as mapping conflicts, or refused requests); "
                "never retried",
                value=health.rejected_documents,
            )
            yield CounterMetricFamily(
                "lagwatch_spool_dead_lettered_documents",
                "Spooled documents moved to the dead-letter directory after every replay attempt asked to retry",
                value=health.dead_lettered_documents,
            )
            yield GaugeMetricFamily(
                "lagwatch_sink_refused",
                "1 while Elasticsearch refuses lagwatch's requests (credentials, privileges, template, mapping)",
                value=1.0 if health.refused else 0.0,
            )
            yield GaugeMetricFamily(
                "lagwatch_sink_up", "1 when the last delivery reached Elasticsearch",
                value=1.0 if health.reachable else 0.0,
            )


    def _coordination(self):
        coordinator = self._coordinator()
        if coordinator is None:
            return
        m = coordinator.metrics()
        yield GaugeMetricFamily("lagwatch_shards_owned", "Shards assigned to this process (coordination)",
                                value=m["owned"])
        yield GaugeMetricFamily("lagwatch_shards_evaluating",
                                "Owned shards whose alert state is read back: rules run and notify for them",
                                value=m["evaluating"])
        yield GaugeMetricFamily("lagwatch_shards_total", "Shards: partitions of the coordination topic",
                                value=m["total"])
        yield GaugeMetricFamily("lagwatch_coordination_member", "1 while a member of the coordination group",
                                value=1.0 if m["member"] else 0.0)
        yield CounterMetricFamily("lagwatch_coordination_rebalances",
                                  "Assignment changes of this process (shards gained or lost)", value=m["rebalances"])
        yield CounterMetricFamily("lagwatch_alert_state_records_written",
                                  "Alert state records written to the coordination topic", value=m["records_written"])


class HttpServer:
    """Serves the endpoints for a Daemon-like object (attributes `pipelines` and `sink`, read per request)."""

    def __init__(self, daemon, host: str, port: int, *, idle_timeout_s: float = 10.0, backlog: int = 1024):
        self.daemon = daemon
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(LagCollector(
            lambda: daemon.pipelines, lambda: daemon.sink, lambda: getattr(daemon, "coordinator", None)
        ))
        self.log = logs.get()
        # /healthz answers on the server's loop (it reads nothing); the others on its worker threads.
        self._server = Server(self._respond, host, port, inline=lambda path: path == "/healthz",
                              backlog=backlog, idle_timeout_s=idle_timeout_s)

    @property
    def port(self) -> int:
        return self._server.address[1]

    @property
    def host(self) -> str:
        return self._server.address[0]

    def start(self) -> HttpServer:
        self._server.start()
        self.log.info("http_started", host=self.host, port=self.port, paths=["/healthz", "/readyz", "/metrics"])
        return self

    def stop(self) -> None:
        self._server.stop()

    def _respond(self, path: str) -> Response:
        if path == "/healthz":
            return Response(200, "application/json", b'{"status":"ok"}\n')
        if path == "/readyz":
            ready, body = readiness(
                self.daemon.pipelines, self.daemon.sink, coordinator=getattr(self.daemon, "coordinator", None)
            )
            return Response(200 if ready else 503, "application/json", json.dumps(body).encode() + b"\n")
        if path == "/metrics":
            return Response(200, CONTENT_TYPE_LATEST, generate_latest(self.registry))
        return Response(404, "text/plain", b"not found: try /healthz, /readyz or /metrics\n")
