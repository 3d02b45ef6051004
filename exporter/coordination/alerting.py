"""Alerting for replicas that share the groups: one process evaluates and notifies for each group.

The engine (exporter/alerts/engine.py) evaluates rules and sends transitions only for groups in its `scope`:
here, groups of shards this process owns and whose state it has read back. When the process gains a shard,
`adopt` merges the state read from the topic (alerts, STOP clocks, undelivered transitions); when it loses
one, `release` takes that state out for the final write, after the sender's round in flight (if any) has
finished, so the next owner neither repeats a transition this one sent nor misses one it did not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from exporter.alerts.engine import Alerting
from exporter.alerts.lifecycle import AlertState
from exporter.coordination.ownership import Ownership
from exporter.evaluator.status import PartitionWindow


def _group_of(entry: Mapping[str, Any]) -> str:
    return entry["transition"]["evaluation"]["group"]


class ShardAlerting(Alerting):
    def __init__(self, cluster: str, *, ownership: Ownership, **kwargs):
        super().__init__(
            cluster, scope=lambda group, since: ownership.evaluates(cluster, group, since), **kwargs
        )

    def evaluate(self, report):
        # Under the lock: `adopt` (the member's thread) adds STOP clocks to the windows this rebuilds.
        with self._lock:
            return super().evaluate(report)

    def _evaluate(self, report):
        # A scrape that began before a shard's state was read back did not select its groups: their
        # adopted STOP clocks must outlive it (the status windows keep only the groups a scrape reported).
        began = report.snapshot.taken_at - report.snapshot.duration_s
        adopted_since = {
            k: w for k, w in self.windows.items() if self.scope(k[0], None) and not self.scope(k[0], began)
        }
        statuses = super()._evaluate(report)
        for key, window in adopted_since.items():
            self.windows.setdefault(key, window)
        return statuses

    def adopt(self, section: Mapping[str, Any]) -> None:
        """Merge the state of gained groups (idempotent: adopting the same state twice changes nothing)."""
        with self._lock:
            for alert_id, state in section.get("alerts", {}).items():
                self.alerts[alert_id] = AlertState.from_json(state)
            for group, topic, partition, offset, since in section.get("stuck", []):
                key = (group, topic, partition)
                window = self.windows.get(key)
                if window is None:
                    self.windows[key] = PartitionWindow((), since, offset)
                elif window.stuck_offset == offset and window.stuck_since is not None and since < window.stuck_since:
                    # Stuck at that offset since before this process first saw it: STOP's clock runs on.
                    self.windows[key] = PartitionWindow(window.samples, since, offset)
            for entry in section.get("outbox", []):
                if entry not in self.outbox:
                    self.outbox.append(entry)
            pending = bool(self.outbox)
        if pending:
            if self.background:
                self._kick()
            # else: sent with the next scrape's round (tests drive send_outbox themselves)

    def release(self, belongs: Callable[[str], bool], wait_s: float) -> dict[str, Any]:
        """Take out and return the state of the groups `belongs` selects (their shard is being revoked;
        the ownership already says this process no longer evaluates them, so no new notification for them
        starts). A notification of theirs being sent is waited for, up to `wait_s`: sent, it leaves the
        outbox; not, it goes to the next owner. Their status windows stay: documents still carry statuses
        while the shard lingers."""
        with self._lock:
            in_flight = lambda: self.sending is not None and belongs(_group_of(self.sending))  # noqa: E731
            if not self.sent.wait_for(lambda: not in_flight(), timeout=max(0.0, wait_s)):
                self.log.warning("alert_handover_while_sending", waited_s=wait_s,
                                 detail="the notification in flight may be sent again by the next owner")
            section = {
                "alerts": {k: a.to_json() for k, a in self.alerts.items() if belongs(a.evaluation.group)},
                "stuck": [
                    [g, t, p, w.stuck_offset, w.stuck_since]
                    for (g, t, p), w in self.windows.items()
                    if w.stuck_since is not None and belongs(g)
                ],
                "outbox": [e for e in self.outbox if belongs(_group_of(e))],
            }
            self.alerts = {k: a for k, a in self.alerts.items() if not belongs(a.evaluation.group)}
            self.outbox = [e for e in self.outbox if not belongs(_group_of(e))]
        return section
