"""Per-cluster alerting: statuses every scrape, rules, lifecycle, persisted state, delivery of transitions.

`evaluate(report)` runs once per scrape, before the lag documents are built (they carry the statuses);
`alert(report, statuses)` then runs the rules on both, records the transitions in the state file's outbox
and delivers them: to the alerts index and to every notifier. A transition leaves the outbox only once its
target took it, so a webhook or Elasticsearch outage delays notifications instead of losing them, and a
restart neither repeats nor drops one (a crash between sending and saving can repeat it: at-least-once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from exporter import logs
from exporter.alerts import lifecycle
from exporter.alerts.lifecycle import AlertState, Evaluation, Transition
from exporter.alerts.notifiers import NotifyFailed
from exporter.alerts.state import StateStore
from exporter.evaluator import rules, status
from exporter.evaluator.rules import Condition, StatusRule, ThresholdRule
from exporter.evaluator.status import PartitionWindow, StatusConfig, Statuses
from exporter.lag import held
from exporter.lag.model import LagReport
from exporter.output import batch as batches

INDEX_TARGET = "index"
OUTBOX_MAX = 1000  # per target; beyond it the oldest undelivered transitions are dropped (and logged)


class Alerting:
    def __init__(
        self,
        cluster: str,
        *,
        status_config: StatusConfig | None = StatusConfig(),
        threshold_rules: Sequence[ThresholdRule] = (),
        status_rules: Sequence[StatusRule] = (),
        store: StateStore | None = None,
        sink=None,  # exporter.sinks.interface.Sink: the alerts index
        notifiers: Sequence = (),
        repeat_s: float = 0.0,
        clock: Callable[[], float] | None = None,
        # The daemon sends transitions from a worker thread: a slow webhook never holds up a scrape.
        background: bool = False,
        # Replicas sharing the groups (exporter/coordination): scope(group, since) says whether this process
        # evaluates and notifies for the group, having done so since wall time `since` (None: now). Alerts of
        # other groups are held as they are: neither advanced, nor resolved, nor sent.
        scope: Callable[[str, float | None], bool] | None = None,
    ):
        self.cluster = cluster
        self.status_config = status_config
        self.threshold_rules = [r for r in threshold_rules if r.match.cluster_matches(cluster)]
        self.status_rules = [r for r in status_rules if r.match.cluster_matches(cluster)]
        self.store = store
        self.sink = sink
        self.notifiers = list(notifiers)
        self.repeat_s = repeat_s
        self.clock = clock  # None: the scrape's own time
        self.log = logs.get().bind(cluster=cluster)
        saved = store.load(cluster) if store is not None else {}
        self.alerts: dict[str, AlertState] = {
            k: AlertState.from_json(v) for k, v in saved.get("alerts", {}).items()
        }
        self.windows: dict[tuple[str, str, int], PartitionWindow] = {}
        for group, topic, partition, offset, since in saved.get("stuck", []):
            self.windows[(group, topic, partition)] = PartitionWindow((), since, offset)
        self.outbox: list[dict[str, Any]] = list(saved.get("outbox", []))
        self.background = background
        self.scope = scope
        self._lock = threading.RLock()  # outbox and state file: the scrape thread and the sender share them
        self._wake = threading.Event()
        self._idle = threading.Event()  # set while the sender waits with nothing to send
        self._idle.set()
        self._sender: threading.Thread | None = None
        # The notification being sent, if any (scope: a hand-over waits for it, see coordination/alerting.py).
        self.sending: dict[str, Any] | None = None
        self.sent = threading.Condition(self._lock)  # notified after each send

    def _now(self, report: LagReport) -> float:
        return self.clock() if self.clock is not None else report.snapshot.taken_at

    # --- statuses ---------------------------------------------------------------------------

    def evaluate(self, report: LagReport) -> Statuses | None:
        """Statuses for this scrape: call once per report (each call advances the windows by one sample)."""
        return self._evaluate(report) if self.status_config is not None else None

    def _evaluate(self, report: LagReport) -> Statuses | None:
        self.windows, statuses = status.evaluate_report(self.windows, report, self._now(report), self.status_config)
        return statuses

    # --- rules and lifecycle ----------------------------------------------------------------

    def _condition(self, alert_id: str) -> Condition:
        state = self.alerts.get(alert_id)
        return state.evaluation.condition if state is not None else Condition()

    def _evaluations(self, report: LagReport, statuses: Statuses | None, now: float) -> list[Evaluation]:
        evaluations: list[Evaluation] = []
        failed = {g.group for g in report.groups if g.error is not None}
        for rule in self.threshold_rules:
            if rule.match.per_topic:
                subjects = [
                    (r, r.topic) for r in report.group_topics
                    if rule.match.group_matches(r.group) and rule.match.topic_matches(r.topic)
                ]
            else:
                subjects = [(r, None) for r in report.groups if rule.match.group_matches(r.group) and r.error is None]
            for r, topic in subjects:
                group = r.group
                # A partial aggregate (lag_sum None) is unknown: it neither fires nor resolves. A time lag that is
                # only a lower bound (held.time_lag_known) may fire, never resolve.
                if rule.metric == rules.LAG:
                    value, bound = r.lag_sum, False
                else:
                    value = None if r.partial else r.lag_seconds_max
                    bound = value is not None and not held.time_lag_known(r)
                alert_id = lifecycle.key(rule.name, self.cluster, group, topic)
                cond = rules.step_threshold(rule, value, self._condition(alert_id), now, lower_bound=bound)
                severity = cond.severity or (rule.level(value) if value is not None else None)
                threshold = rule.threshold(severity)
                unit = "messages" if rule.metric == rules.LAG else "s"
                scope = group + (f" on {topic}" if topic else "")
                shown = "unknown" if value is None else f"{'at least ' if bound else ''}{value:g}"
                message = f"{rule.metric} of {scope} is {shown} {unit} (threshold {threshold:g} {unit})"
                evaluations.append(
                    Evaluation(alert_id, rule.name, self.cluster, group, topic, rule.metric,
                               value, threshold, None, cond, message)
                )
        if statuses is not None:
            for rule in self.status_rules:
                for group, st in statuses.groups.items():
                    if (group in failed and st.code.value not in rule.statuses) or not rule.match.group_matches(group):
                        continue
                    alert_id = lifecycle.key(rule.name, self.cluster, group)
                    cond = rules.step_status(rule, st.code.value, st.settled, self._condition(alert_id), now)
                    message = f"group {group} is {st.code.value} ({st.reason})"
                    evaluations.append(
                        Evaluation(alert_id, rule.name, self.cluster, group, None, "status",
                                   float(st.severity), None, st.code.value, cond, message)
                    )
        # A group lagwatch could not read this scrape keeps its alerts exactly as they were.
        evaluated = {e.alert_id for e in evaluations}
        for alert_id, state in self.alerts.items():
            if state.evaluation.group in failed and alert_id not in evaluated:
                evaluations.append(state.evaluation)
        return evaluations

    def alert(self, report: LagReport, statuses: Statuses | None) -> None:
        """Run the rules on this scrape's report and statuses (from `evaluate`), record the transitions and
        deliver them. Alert documents go to their own index through `sink`, never to the lag index."""
        try:
            self._alert(report, statuses)
        except Exception as exc:  # noqa: BLE001 - alerting must never stop lag from being indexed
            self.log.error("alerting_failed", error=f"{type(exc).__name__}: {exc}")

    def _alert(self, report: LagReport, statuses: Statuses | None) -> None:
        now = self._now(report)
        up = report.snapshot.up
        with self._lock:
            evaluations = self._evaluations(report, statuses, now) if up else []
            current, held = self.alerts, {}
            if self.scope is not None:
                # Only groups in scope since before this scrape began: its selection then covered them, so a
                # group absent from it is gone (resolves) rather than not yet scraped by this process.
                began = report.snapshot.taken_at - report.snapshot.duration_s
                evaluations = [e for e in evaluations if self.scope(e.group, began)]
                held = {k: a for k, a in current.items() if not self.scope(a.evaluation.group, began)}
                current = {k: a for k, a in current.items() if k not in held}
            # "No longer reported" only when every broker listed its groups: a process that has not seen a
            # group yet (just started, or its shard just gained) cannot tell it from one a failed broker hides.
            self.alerts, transitions = lifecycle.advance(
                current, evaluations, now, repeat_s=self.repeat_s, complete=up and report.snapshot.groups_complete
            )
            self.alerts.update(held)
            for t in transitions:
                ev = t.evaluation
                self.log.warning(
                    f"alert_{t.kind}", alert=ev.alert_id, severity=t.severity, value=ev.value,
                    threshold=ev.threshold, status=ev.status_code,
                )
                for target in self._targets():
                    self.outbox.append({"target": target, "transition": t.to_json()})
            self._trim_outbox()
            self._save()
            pending = bool(self.outbox)
        if not pending:
            return
        if self.background:
            self._kick()
        else:
            self.send_outbox()

    def _kick(self) -> None:
        if self._sender is None or not self._sender.is_alive():
            self._sender = threading.Thread(
                target=self._send_loop, name=f"lagwatch-notify-{self.cluster}", daemon=True
            )
            self._sender.start()
        self._idle.clear()
        self._wake.set()

    def _send_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                self.send_outbox()
            except Exception as exc:  # noqa: BLE001 - the sender must outlive a bug in one delivery
                self.log.error("alerting_failed", error=f"{type(exc).__name__}: {exc}")
            if not self._wake.is_set():
                self._idle.set()

    def flush(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for the sender to finish its round (at shutdown). What it could not send
        stays in the state file's outbox for the next start."""
        return self._idle.wait(max(0.0, timeout_s))

    def send_outbox(self) -> None:
        """Deliver what waits in the outbox (without holding the lock while a target is slow), then drop
        what was delivered and save. Transitions recorded meanwhile stay for the next round."""
        with self._lock:
            entries = [e for e in self.outbox if self.scope is None or self.scope(_group_of(e), None)]
        if not entries:
            return
        delivered = self._deliver(entries)
        if delivered:
            with self._lock:
                self.outbox = [e for e in self.outbox if id(e) not in delivered]
                self._save()

    def _targets(self) -> list[str]:
        return ([INDEX_TARGET] if self.sink is not None else []) + [n.name for n in self.notifiers]

    def _trim_outbox(self) -> None:
        for target in {e["target"] for e in self.outbox}:
            entries = [e for e in self.outbox if e["target"] == target]
            if len(entries) > OUTBOX_MAX:
                drop = entries[: len(entries) - OUTBOX_MAX]
                self.log.error("alert_outbox_full", target=target, dropped=len(drop))
                dropped = {id(e) for e in drop}
                self.outbox = [e for e in self.outbox if id(e) not in dropped]

    def _save(self) -> None:
        if self.store is None:
            return
        # Records, not keys joined with a separator: a group id may contain any character.
        stuck = [
            [g, t, p, w.stuck_offset, w.stuck_since]
            for (g, t, p), w in self.windows.items()
            if w.stuck_since is not None
        ]
        section = {
            "alerts": {k: v.to_json() for k, v in self.alerts.items()},
            "stuck": stuck,
            "outbox": self.outbox,
        }
        try:
            self.store.save(self.cluster, section)
        except (OSError, ValueError) as exc:
            self.log.error("alert_state_not_saved", path=str(self.store.path), error=str(exc))

    def _deliver(self, outbox: list[dict[str, Any]]) -> set[int]:
        """Send `outbox` entries to their targets; returns the ids (id()) of those delivered."""
        delivered: set[int] = set()
        index_entries = [e for e in outbox if e["target"] == INDEX_TARGET]
        if index_entries and self.sink is not None:
            docs = {}
            for e in index_entries:
                doc = lifecycle.transition_doc(Transition.from_json(e["transition"]))
                docs[doc["_id"]] = (e, doc)
            try:
                retry: set[str] = set()
                for batch in batches.from_documents([doc for _, doc in docs.values()]):
                    result = self.sink.deliver(batch)
                    if result.retry is not None:
                        retry.update(result.retry.ids())
                    for doc_id, reason in result.rejected:
                        self.log.error("alert_document_rejected", doc_id=doc_id, reason=reason)
                delivered |= {id(e) for doc_id, (e, _) in docs.items() if doc_id not in retry}
            except Exception as exc:  # noqa: BLE001 - kept in the outbox for the next scrape
                self.log.warning("alert_documents_not_indexed", error=str(exc), documents=len(docs))
        for notifier in self.notifiers:
            for e in [e for e in outbox if e["target"] == notifier.name]:
                t = Transition.from_json(e["transition"])
                with self._lock:
                    # With a scope, checked just before each send: a group handed over meanwhile (its
                    # transitions went with it) is the next owner's to notify.
                    if self.scope is not None and not self.scope(_group_of(e), None):
                        continue
                    self.sending = e
                try:
                    notifier.send(t)
                except NotifyFailed as exc:
                    # The rest waits for the next scrape: one unreachable endpoint costs one timeout series.
                    self.log.error("notification_failed", notifier=notifier.name, alert=t.evaluation.alert_id,
                                   error=str(exc))
                    break
                else:
                    with self._lock:  # out of the outbox at once: a hand-over never passes it on as unsent
                        self.outbox = [o for o in self.outbox if o is not e]
                finally:
                    with self._lock:
                        self.sending = None
                        self.sent.notify_all()
                delivered.add(id(e))
                self.log.info("notification_sent", notifier=notifier.name, alert=t.evaluation.alert_id,
                              transition=t.kind)
        return delivered


def _group_of(entry: dict[str, Any]) -> str:
    return entry["transition"]["evaluation"]["group"]
