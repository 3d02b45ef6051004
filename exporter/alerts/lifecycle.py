"""Alert lifecycle (pure): from the previous alert states and this scrape's rule evaluations to the new
states and the transitions to index and notify: fired, still_firing (severity changed, or a reminder every
`repeat_s`), resolved.

An alert that fired stays in the state until it resolves, so a restarted daemon that finds the condition
still true continues the same alert instead of firing it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from exporter.output import fields
from exporter.output.documents import document_id, iso
from exporter.evaluator.rules import Condition

FIRED, STILL_FIRING, RESOLVED = "fired", "still_firing", "resolved"


@dataclass(frozen=True)
class Evaluation:
    """One rule on one subject after this scrape."""

    alert_id: str
    rule: str
    cluster: str
    group: str
    topic: str | None
    metric: str  # lag, lag_seconds or status
    value: float | None
    threshold: float | None
    status_code: str | None
    condition: Condition
    message: str


@dataclass(frozen=True)
class AlertState:
    evaluation: Evaluation  # the latest one
    firing_since: float | None = None
    severity: str | None = None
    last_sent: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AlertState:
        ev = dict(data["evaluation"])
        ev["condition"] = Condition(**ev["condition"])
        return cls(
            Evaluation(**ev),
            firing_since=data.get("firing_since"),
            severity=data.get("severity"),
            last_sent=data.get("last_sent"),
        )


@dataclass(frozen=True)
class Transition:
    kind: str  # fired, still_firing, resolved
    at: float
    since: float  # when this alert fired
    severity: str | None
    evaluation: Evaluation

    @property
    def state(self) -> str:
        return "resolved" if self.kind == RESOLVED else "firing"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Transition:
        ev = dict(data["evaluation"])
        ev["condition"] = Condition(**ev["condition"])
        return cls(data["kind"], data["at"], data["since"], data.get("severity"), Evaluation(**ev))


def key(rule: str, cluster: str, group: str, topic: str | None = None) -> str:
    return "/".join(p for p in (rule, cluster, group, topic) if p is not None)


def advance(
    previous: Mapping[str, AlertState],
    evaluations: Iterable[Evaluation],
    now: float,
    *,
    repeat_s: float = 0.0,
    complete: bool = True,
) -> tuple[dict[str, AlertState], list[Transition]]:
    """New states and transitions. With `complete` (a full scrape), a firing alert whose subject is no
    longer evaluated (group deleted, rule removed) resolves; otherwise it is kept as it is."""
    states: dict[str, AlertState] = {}
    transitions: list[Transition] = []
    seen = set()
    for ev in evaluations:
        seen.add(ev.alert_id)
        before = previous.get(ev.alert_id)
        firing = before is not None and before.firing_since is not None
        cond = ev.condition
        if cond.active and not firing:
            state = AlertState(ev, firing_since=now, severity=cond.severity, last_sent=now)
            transitions.append(Transition(FIRED, now, now, cond.severity, ev))
        elif cond.active:
            state = replace(before, evaluation=ev, severity=cond.severity)
            changed = cond.severity != before.severity
            due = repeat_s > 0 and before.last_sent is not None and now - before.last_sent >= repeat_s
            if changed or due:
                state = replace(state, last_sent=now)
                transitions.append(Transition(STILL_FIRING, now, before.firing_since, cond.severity, ev))
        elif firing:
            transitions.append(Transition(RESOLVED, now, before.firing_since, before.severity, ev))
            state = AlertState(ev) if cond.pending_since is not None else None
        else:
            state = AlertState(ev) if cond.pending_since is not None else None
        if state is not None:
            states[ev.alert_id] = state
    for alert_id, before in previous.items():
        if alert_id in seen:
            continue
        if not complete:
            states[alert_id] = before
        elif before.firing_since is not None:
            gone = replace(before.evaluation, condition=Condition(), message="no longer reported: resolved")
            transitions.append(Transition(RESOLVED, now, before.firing_since, before.severity, gone))
    return states, transitions


def transition_doc(t: Transition) -> dict[str, Any]:
    """The alerts-index document of a transition; its _id is the same for a retried delivery."""
    ev = t.evaluation
    at_ms = int(t.at * 1000)
    return {
        "_id": document_id("alert", ev.alert_id, int(t.since * 1000), t.kind, at_ms),
        fields.TIMESTAMP: iso(t.at),
        fields.DATASET: fields.Dataset.ALERT,
        fields.CLUSTER: ev.cluster,
        fields.GROUP_ID: ev.group,
        fields.TOPIC_NAME: ev.topic,
        fields.ALERT_ID: ev.alert_id,
        fields.ALERT_RULE: ev.rule,
        fields.ALERT_STATE: t.state,
        fields.ALERT_TRANSITION: t.kind,
        fields.ALERT_SEVERITY: t.severity,
        fields.ALERT_METRIC: ev.metric,
        fields.ALERT_VALUE: ev.value,
        fields.ALERT_THRESHOLD: ev.threshold,
        fields.ALERT_SINCE: iso(t.since),
        fields.ALERT_DURATION_S: round(t.at - t.since, 3),
        fields.ALERT_STATUS_CODE: ev.status_code,
        fields.ALERT_MESSAGE: ev.message,
    }
