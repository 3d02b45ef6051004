"""One scrape cycle of one cluster: collect -> time-lag probes -> lag model -> statuses -> `_bulk` bytes -> sink
-> alerts (docs/architecture.md "One scrape"; statuses and alerts through the callbacks wiring passes in).

Holds what must survive between scrapes (the previous snapshot, the time-lag prober); the scheduler calls
`run_once` every interval. Failures of Kafka or the sink are logged and reported, never raised.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from exporter import logs
from exporter.config import TimeLagConfig
from exporter.evaluator.status import Statuses
from exporter.lag import held
from exporter.lag.model import ClusterSnapshot, LagReport, ScrapeError
from exporter.lag.prober import TimeLagProber
from exporter.lag.report import build_report
from exporter.output import batch as batches
from exporter.output import documents, encode
from exporter.output.batch import Batch
from exporter.runtime import gcpause
from exporter.sinks.interface import Sink

_TIME_LAG = TimeLagConfig()  # the defaults of `time_lag:` (tests and tools build pipelines without a config)


@dataclass(frozen=True)
class PipelineStatus:
    """What the health and metrics endpoints read about one cluster: replaced whole after every scrape."""

    cluster: str
    interval_s: float
    last_report: LagReport | None = None
    last_success: float | None = None  # wall-clock time of the last scrape that reached the cluster
    scrapes_ok: int = 0
    scrapes_failed: int = 0
    errors_total: int = 0  # per-item scrape errors (groups, partitions, brokers) summed over all scrapes
    slots_skipped: int = 0  # slots not scraped because the previous scrape was still running
    requests_total: tuple[tuple[str, int], ...] = ()  # (api, count) summed over all scrapes

    def after(self, report: LagReport, last_success: float | None) -> PipelineStatus:
        snapshot = report.snapshot
        totals = dict(self.requests_total)
        for api, count in snapshot.requests.items():
            totals[api] = totals.get(api, 0) + count
        return dataclasses.replace(
            self,
            last_report=report,
            last_success=last_success,
            scrapes_ok=self.scrapes_ok + (1 if snapshot.up else 0),
            scrapes_failed=self.scrapes_failed + (0 if snapshot.up else 1),
            errors_total=self.errors_total + len(snapshot.errors),
            requests_total=tuple(sorted(totals.items())),
        )


@dataclass
class CycleResult:
    report: LagReport
    delivered: int
    sink_error: str | None
    document_count: int = 0
    statuses: Statuses | None = None  # None: not evaluated (no evaluator, the cluster was down, or it failed)
    batches: list[Batch] = field(default_factory=list)  # empty unless the pipeline keeps them (keep_documents)

    @property
    def documents(self) -> list[dict[str, Any]]:
        """The kept batches' documents as dicts, each with its `_id` (tests and tools)."""
        return [doc for batch in self.batches for doc in batch.decode()]


class ClusterPipeline:
    def __init__(
        self,
        collector,
        sink: Sink | None,
        *,
        granularity: str = "partition",
        interval_s: float = 30.0,
        items_per_record: Callable[[str], int] = lambda topic: 1,
        history_points: int = _TIME_LAG.history_points,
        probe_ages_s: tuple[float, ...] = _TIME_LAG.probe_ages_s,
        probe_every_s: float = 600.0,
        probe_refine_rounds: int = 12,
        clock_skew_tolerance_s: float = _TIME_LAG.clock_skew_tolerance_s,
        scrape_timeout_s: float | None = None,
        # Documents per batch (one `_bulk` request each): elasticsearch.bulk_chunk.
        batch_documents: int = 1000,
        keep_documents: bool = True,
        instance: str = "",
        # Fields for the self document, asked for at each scrape (replicas: the shards this process owns).
        self_fields: Callable[[], dict[str, Any]] | None = None,
        # Statuses for the documents, once per report, before they are built (alerts.engine.Alerting.evaluate).
        evaluate: Callable[[LagReport], Statuses | None] | None = None,
        # Then the alert rules on the report and those statuses (Alerting.alert), after the lag documents.
        alert: Callable[[LagReport, Statuses | None], None] | None = None,
        clock=time.time,
    ):
        self.collector = collector
        self.sink = sink
        self.granularity = granularity
        self.interval_s = interval_s
        self.items_per_record = items_per_record
        self.scrape_timeout_s = scrape_timeout_s if scrape_timeout_s is not None else 0.8 * interval_s
        self.batch_documents = batch_documents
        self.keep_documents = keep_documents
        self.instance = instance
        self.self_fields = self_fields
        self.evaluate = evaluate
        self.alert = alert
        self.clock = clock
        self.previous: ClusterSnapshot | None = None
        # Each group's last known time lag, for its documents while it is not known (exporter/lag/held.py).
        self.time_lag_carried: dict[str, float] = {}
        self.prober = TimeLagProber(
            probe_ages_s, history_points, every_s=probe_every_s, refine_rounds=probe_refine_rounds,
            skew_tolerance_s=clock_skew_tolerance_s,
        )
        self.log = logs.get().bind(cluster=collector.cluster)
        self._busy = threading.Lock()
        self._last_slot_ms: int | None = None
        self._status = PipelineStatus(collector.cluster, interval_s)

    def scrape(self) -> ClusterSnapshot:
        """Collect, falling back to an `up: false` snapshot when the cluster cannot be read at all."""
        started = time.monotonic()
        try:
            return self.collector.collect()
        except Exception as exc:  # noqa: BLE001 - the daemon outlives any broker outage
            message = logs.failure_text(exc)
            self.log.error("scrape_failed", error=message)
            return ClusterSnapshot(
                cluster=self.collector.cluster,
                taken_at=self.clock(),
                topics={},
                partitions={},
                groups=(),
                errors=(ScrapeError("cluster", self.collector.cluster, message),),
                duration_s=time.monotonic() - started,
                up=False,
            )

    def _time_lag(self, snapshot: ClusterSnapshot, deadline: float) -> ClusterSnapshot:
        """This scrape's points join the histories, then the broker's where they still cannot place a
        committed offset (exporter/lag/prober.py), while the scrape's time budget (`deadline`) lasts."""
        spent = 0.0

        def probe(rounds):
            nonlocal spent
            started = time.monotonic()
            try:
                return self.collector.probe(snapshot, rounds)
            finally:
                spent += time.monotonic() - started

        skewed_before = set(self.prober.skewed)
        try:
            found = self.prober.observe(
                snapshot, self.previous, probe, lambda: time.monotonic() >= deadline, clock=self.clock
            )
        except Exception as exc:  # noqa: BLE001 - probes only refine time lag
            self.log.warning("time_probe_failed", error=f"{type(exc).__name__}: {exc}")
            return snapshot
        skewed = {tp: ahead for tp, ahead in self.prober.skewed.items() if tp not in skewed_before}
        if skewed:  # said once per partition, when found: its time lag is null (clock_skew) from now on
            self.log.warning("time_lag_clock_skew", count=len(skewed), ahead_s=round(max(skewed.values()), 1),
                             partitions=[f"{topic}/{partition}" for topic, partition in sorted(skewed)[:20]])
        if found is None:
            return snapshot
        requests = dict(snapshot.requests)
        for api, count in self.collector.take_request_counts().items():
            requests[api] = requests.get(api, 0) + count
        return msgspec.structs.replace(
            snapshot, time_probes=found, requests=requests, duration_s=snapshot.duration_s + spent
        )

    def status(self) -> PipelineStatus:
        """The latest report and counters; safe to call from another thread (an immutable snapshot)."""
        return self._status

    def carry_on_with(self, fresh: ClusterPipeline, *, hooks: bool) -> None:
        """A config reload keeps this pipeline (its history and counters) for an unchanged cluster: it delivers
        to the freshly built pipeline's sink from now on and, with `hooks`, takes its statuses and alerting."""
        self.sink = fresh.sink
        if hooks:
            self.evaluate, self.alert = fresh.evaluate, fresh.alert

    def run_once(self) -> CycleResult | None:
        """One scrape now (tests, `lagwatch once`): waits for a running one to finish first."""
        with self._busy:
            return self._guarded_cycle(None)

    def run_slot(self) -> CycleResult | None:
        """What the scheduler calls at every slot. A slot whose scrape cannot start because the previous
        one is still running is not lost from view: it gets a `self` document saying it was skipped."""
        now = self.clock()
        slot_ms = documents.slot(now, self.interval_s)
        if self._last_slot_ms is not None and slot_ms <= self._last_slot_ms:
            slot_ms = self._last_slot_ms + max(1, int(self.interval_s * 1000))  # never two scrapes in one slot
        if not self._busy.acquire(blocking=False):
            self._skip(now, slot_ms, "previous scrape still running")
            return None
        try:
            self._last_slot_ms = slot_ms
            return self._guarded_cycle(slot_ms)
        finally:
            self._busy.release()

    def _skip(self, now: float, slot_ms: int, reason: str) -> None:
        self._status = dataclasses.replace(self._status, slots_skipped=self._status.slots_skipped + 1)
        self.log.warning("scrape_skipped", slot=slot_ms, reason=reason)
        doc = documents.skipped_slot_doc(self.collector.cluster, now, slot_ms, reason, self.instance)
        if self.self_fields is not None:
            doc.update(self.self_fields())
        for batch in batches.from_documents([doc]):
            self._deliver(batch)

    def _guarded_cycle(self, slot_ms: int | None) -> CycleResult | None:
        with gcpause.paused():
            try:
                return self._cycle(slot_ms)
            except Exception as exc:  # noqa: BLE001 - a bug in one cycle must not silence the next ones
                self.log.error("scrape_cycle_failed", error=f"{type(exc).__name__}: {exc}")
                self._status = dataclasses.replace(self._status, scrapes_failed=self._status.scrapes_failed + 1)
                return None

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no cycle is running (for shutdown); False if one is still running after `timeout`."""
        if self._busy.acquire(timeout=max(0.0, timeout)):
            self._busy.release()
            return True
        return False

    def _cycle(self, slot_ms: int | None = None) -> CycleResult:
        deadline = time.monotonic() + self.scrape_timeout_s
        snapshot = self.scrape()
        if snapshot.errors:  # error texts reach documents and /readyz: never with a secret in them
            masked = tuple(msgspec.structs.replace(e, message=logs.mask(e.message)) for e in snapshot.errors)
            snapshot = msgspec.structs.replace(snapshot, errors=masked)
        if snapshot.up:
            snapshot = self._time_lag(snapshot, deadline)
        report = build_report(
            snapshot, self.previous if snapshot.up else None, self.prober.histories, self.items_per_record,
            self.prober.skewed,
        )
        statuses = self._statuses(report)
        self.time_lag_carried = held.carry(self.time_lag_carried, report.groups, snapshot.up)
        # Lag documents first: alerting may wait on slow notifiers and must not delay them. They are encoded and
        # delivered a batch at a time, so a large estate's scrape is never held in memory whole.
        doc_count = documents.count(report, self.granularity)
        kept: list[Batch] = []
        delivered, sink_error = 0, None
        for batch in encode.encode(
            report, self.granularity, self.interval_s, self.instance, statuses, slot_ms, self._delivery_counts(),
            self.self_fields, self.batch_documents, self.time_lag_carried, self._sink_refused(),
        ):
            if self.keep_documents:
                kept.append(batch)
            count, error = self._deliver(batch)
            delivered, sink_error = delivered + count, sink_error or error
        refused = self._sink_refused()  # the daemon's sink delivers off this path: what it saw so far
        if refused and not sink_error:
            sink_error = f"refused: {refused}"
        if self.alert is not None:
            self.alert(report, statuses)
        if snapshot.up:
            self.previous = snapshot
        self._status = self._status.after(report, snapshot.taken_at if snapshot.up else self._status.last_success)
        denials = [e for e in snapshot.errors if e.grant]
        for error in [e for e in snapshot.errors if not e.grant][:20]:
            self.log.warning("scrape_error", scope=error.scope, name=error.name, error=error.message)
        if denials:  # one line per scrape, whatever the number of resources: what was denied, what fixes it
            self.log.warning("access_denied", count=len(denials), denied=[e.message for e in denials[:20]],
                             grants=list(dict.fromkeys(e.grant for e in denials))[:20])
        partial_groups = sum(1 for g in report.groups if g.partial)
        lag_known = sum(g.lag_known_sum for g in report.groups) if snapshot.up else None
        self.log.info(
            "scrape_done",
            slot=slot_ms,
            up=snapshot.up,
            groups=len(snapshot.groups),
            partitions=len(report.partitions),
            # As in the documents: the sum only when every group's is whole, else null; `lag_known`: what was
            # read (a lower bound while partial_groups > 0; null when the cluster could not be read at all).
            lag=None if partial_groups else lag_known,
            lag_known=lag_known,
            partial_groups=partial_groups,
            documents=doc_count,
            delivered=delivered,  # handed to the sink (the daemon: queued for its delivery worker)
            kafka_requests=sum(snapshot.requests.values()),
            errors=len(snapshot.errors),
            duration_ms=round(snapshot.duration_s * 1000, 1),
            sink_error=sink_error,
        )
        return CycleResult(report, delivered, sink_error, doc_count, statuses, kept)

    def _sink_refused(self) -> str | None:
        """Why Elasticsearch refuses lagwatch's requests, while it does (a configuration problem)."""
        found = self.sink.health() if self.sink is not None else None
        return found.refused if found is not None else None

    def _delivery_counts(self) -> dict[str, int] | None:
        found = self.sink.counts() if self.sink is not None else None
        if found is None:
            return None
        fields = ("indexed", "spooled", "rejected", "dropped", "dead_lettered", "pending")
        return {name: getattr(found, name) for name in fields}

    def _statuses(self, report: LagReport) -> Statuses | None:
        if self.evaluate is None:
            return None
        try:
            return self.evaluate(report)
        except Exception as exc:  # noqa: BLE001 - a bug in evaluation must not stop lag from being indexed
            self.log.error("status_evaluation_failed", error=f"{type(exc).__name__}: {exc}")
            return None

    def _deliver(self, batch: Batch) -> tuple[int, str | None]:
        if self.sink is None:
            return 0, None
        try:
            result = self.sink.deliver(batch)
        except Exception as exc:  # noqa: BLE001 - an unreachable sink must not stop scraping
            self.log.error("sink_unavailable", error=str(exc), documents=batch.documents)
            return 0, logs.mask(str(exc))
        for doc_id, reason in result.rejected[:10]:
            self.log.error("document_rejected", doc_id=doc_id, reason=reason)
        if result.retry is not None:
            self.log.warning("documents_not_indexed", documents=result.retry.documents)
        error = result.error
        if error is None and result.rejected:  # refused item by item: not delivered, and said so
            error = f"rejected {len(result.rejected)} of {batch.documents} documents: {result.rejected[0][1]}"
        return result.indexed + result.duplicates + result.queued, error
