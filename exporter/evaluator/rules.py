"""Alert rules (pure, no I/O): thresholds on lag with a `for` duration and resolve hysteresis, and rules on
the group status. Each rule keeps a small Condition per subject (group, or group+topic) between scrapes.

A condition becomes active once its breach has held for `for_s`; once active it stays active until the
value is below `resolve_below` (default: the lowest level) for `resolve_for_s`. Between the lowest level
and `resolve_below` it holds, so a value hovering around the threshold does not flap. An unknown value
(no time lag yet, a status still filling its window) changes nothing; a value known only as a lower bound
(a time lag `at_least`, or one with a part unplaced) may fire, never resolve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from exporter.config import AlertMatchFields, AlertsConfig, StatusRuleConfig, ThresholdRuleConfig

WARN, CRITICAL = "warn", "critical"
LAG, LAG_SECONDS = "lag", "lag_seconds"


@dataclass(frozen=True)
class Match:
    """Which subjects a rule applies to: exact names and/or a regex (whole name); empty means any.
    With a topic filter the rule is evaluated per group+topic, otherwise per group."""

    clusters: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    group_regex: str | None = None
    topics: tuple[str, ...] = ()
    topic_regex: str | None = None

    @staticmethod
    def _matches(name: str, names: tuple[str, ...], regex: str | None) -> bool:
        if not names and regex is None:
            return True
        # DOTALL: a group id may hold a newline; `.*` means any name.
        return name in names or (regex is not None and re.fullmatch(regex, name, re.DOTALL) is not None)

    def cluster_matches(self, name: str) -> bool:
        return not self.clusters or name in self.clusters

    def group_matches(self, name: str) -> bool:
        return self._matches(name, self.groups, self.group_regex)

    def topic_matches(self, name: str) -> bool:
        return self._matches(name, self.topics, self.topic_regex)

    @property
    def per_topic(self) -> bool:
        return bool(self.topics) or self.topic_regex is not None

    @classmethod
    def from_config(cls, fields: AlertMatchFields) -> Match:
        return cls(fields.clusters, fields.groups, fields.group_regex, fields.topics, fields.topic_regex)


@dataclass(frozen=True)
class ThresholdRule:
    name: str
    match: Match = Match()
    metric: str = LAG  # lag (messages) or lag_seconds
    warn: float | None = None
    critical: float | None = None
    for_s: float = 0.0
    resolve_below: float | None = None  # default: the lowest level
    resolve_for_s: float = 0.0

    @classmethod
    def from_config(cls, rule: ThresholdRuleConfig) -> ThresholdRule:
        return cls(
            rule.name, Match.from_config(rule), rule.metric, rule.warn, rule.critical, rule.for_s,
            rule.resolve_below, rule.resolve_for_s,
        )

    def level(self, value: float) -> str | None:
        if self.critical is not None and value >= self.critical:
            return CRITICAL
        if self.warn is not None and value >= self.warn:
            return WARN
        return None

    def threshold(self, severity: str | None) -> float | None:
        return self.critical if severity == CRITICAL else self.warn if self.warn is not None else self.critical

    @property
    def clear_below(self) -> float:
        if self.resolve_below is not None:
            return self.resolve_below
        return min(v for v in (self.warn, self.critical) if v is not None)


@dataclass(frozen=True)
class StatusRule:
    name: str
    match: Match = Match()
    statuses: tuple[str, ...] = ("STALL", "STOP")
    for_s: float = 300.0
    severity: str = CRITICAL
    resolve_for_s: float = 0.0

    @classmethod
    def from_config(cls, rule: StatusRuleConfig) -> StatusRule:
        return cls(rule.name, Match.from_config(rule), tuple(rule.statuses), rule.for_s, rule.severity, rule.resolve_for_s)


def rules_from(alerts: AlertsConfig) -> tuple[list[ThresholdRule], list[StatusRule]]:
    """The rules of the `alerts` section: its threshold rules and its status rules."""
    return [ThresholdRule.from_config(r) for r in alerts.rules], [StatusRule.from_config(r) for r in alerts.status_rules]


@dataclass(frozen=True)
class Condition:
    """A rule's memory for one subject."""

    pending_since: float | None = None  # breaching since (not yet for for_s), or when it became active
    active: bool = False
    severity: str | None = None
    clear_since: float | None = None  # active, and below the resolve level since


def step(previous: Condition, level: str | None, clear: bool, now: float, for_s: float, resolve_for_s: float) -> Condition:
    """Advance a condition by one observation: `level` is the breached level (None: not breaching) and
    `clear` says whether the value is below the resolve level."""
    if not previous.active:
        if level is None:
            return Condition()
        since = previous.pending_since if previous.pending_since is not None else now
        if now - since >= for_s:
            return Condition(pending_since=since, active=True, severity=level)
        return Condition(pending_since=since)
    if clear:
        clear_since = previous.clear_since if previous.clear_since is not None else now
        if now - clear_since >= resolve_for_s:
            return Condition()
        return replace(previous, clear_since=clear_since)
    # Still breaching (severity follows the level at once) or in the hysteresis band (holds).
    return replace(previous, severity=level or previous.severity, clear_since=None)


def step_threshold(
    rule: ThresholdRule, value: float | None, previous: Condition, now: float, *, lower_bound: bool = False
) -> Condition:
    """`value` None (unknown) changes nothing. A `lower_bound` (the truth is this or more: a time lag `at_least`,
    or the largest of the parts that could be placed) may fire or raise the severity, never lower or resolve."""
    if value is None:
        return previous
    level = rule.level(value)
    if lower_bound and previous.active and _RANK.get(level, 0) < _RANK.get(previous.severity, 0):
        level = previous.severity
    clear = value < rule.clear_below and not lower_bound
    return step(previous, level, clear, now, rule.for_s, rule.resolve_for_s)


_RANK = {WARN: 1, CRITICAL: 2}


def step_status(rule: StatusRule, code: str, settled: bool, previous: Condition, now: float) -> Condition:
    matching = code in rule.statuses
    if not matching and not settled:
        return previous  # not enough history to say the problem went away (e.g. just after a restart)
    return step(previous, rule.severity if matching else None, not matching, now, rule.for_s, rule.resolve_for_s)
