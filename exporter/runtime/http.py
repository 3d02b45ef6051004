"""The daemon's own HTTP endpoints: /healthz (alive), /readyz (scraping and delivering), /metrics (Prometheus).

Served by exporter/runtime/http_server.py (socketserver with a deep listen backlog, a thread per connection,
idle sockets closed after `idle_timeout_s`): a slow client never blocks scraping, and a burst of probes or a
slow /metrics never blocks /healthz. /metrics is rendered
by prometheus_client from exporter/output/metrics.py's collector, read at request time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from exporter import logs
from exporter.output.metrics import LagCollector
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
    health = sink.health() if sink is not None else None
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


class HttpServer:
    """Serves the endpoints for a Daemon-like object (attributes `pipelines` and `sink`, read per request)."""

    def __init__(self, daemon, host: str, port: int, *, idle_timeout_s: float = 10.0, backlog: int = 1024):
        self.daemon = daemon
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(LagCollector(
            lambda: daemon.pipelines, lambda: daemon.sink, lambda: getattr(daemon, "coordinator", None)
        ))
        self.log = logs.get()
        self._server = Server(self._respond, host, port, backlog=backlog, idle_timeout_s=idle_timeout_s)

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
