"""The alerts section: status evaluation, threshold and status rules, notifiers, the alert state file.
Each section validates itself; exporter.evaluator.rules turns the rule sections into rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from exporter.config import paths
from exporter.config.base import Strict, compile_all


class AlertMatchFields(Strict):
    """Which groups (and topics) a rule covers: exact names and/or a regex on the whole name; none: all.
    With `topics`/`topic_regex` the rule is evaluated per group+topic, otherwise per group."""

    clusters: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    group_regex: str | None = None
    topics: tuple[str, ...] = ()
    topic_regex: str | None = None

    _check_regex = field_validator("group_regex", "topic_regex")(
        classmethod(lambda cls, v: v if v is None else compile_all((v,))[0])
    )


_RULE_NAME = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]


class ThresholdRuleConfig(AlertMatchFields):
    name: _RULE_NAME
    metric: Literal["lag", "lag_seconds"] = "lag"  # messages, or seconds (time lag)
    warn: Annotated[float, Field(ge=0)] | None = None
    critical: Annotated[float, Field(ge=0)] | None = None
    for_s: Annotated[float, Field(ge=0)] = 0.0  # the breach must hold this long before the alert fires
    resolve_below: Annotated[float, Field(ge=0)] | None = None  # unset: the lowest of warn/critical
    resolve_for_s: Annotated[float, Field(ge=0)] = 0.0  # ...and stay below it this long to resolve

    @model_validator(mode="after")
    def _levels(self) -> ThresholdRuleConfig:
        if self.warn is None and self.critical is None:
            raise ValueError("set warn, critical or both")
        if self.warn is not None and self.critical is not None and self.warn > self.critical:
            raise ValueError("warn must not exceed critical")
        lowest = min(v for v in (self.warn, self.critical) if v is not None)
        if self.resolve_below is not None and self.resolve_below > lowest:
            raise ValueError("resolve_below must not exceed the lowest level (it would resolve while breaching)")
        return self


class StatusRuleConfig(AlertMatchFields):
    name: _RULE_NAME
    statuses: Annotated[
        tuple[Literal["WARN", "STALL", "STOP", "REWIND", "ERR"], ...], Field(min_length=1)
    ] = ("STALL", "STOP")
    for_s: Annotated[float, Field(ge=0)] = 300.0
    severity: Literal["warn", "critical"] = "critical"
    resolve_for_s: Annotated[float, Field(ge=0)] = 0.0


class NotifierConfig(Strict):
    name: _RULE_NAME
    type: Literal["webhook", "slack"] = "webhook"  # webhook: lagwatch's JSON; slack: Slack incoming webhook
    url: SecretStr  # a secret: webhook URLs usually carry a token (or url_file: /run/secrets/...)
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 5.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3
    backoff_s: Annotated[float, Field(ge=0, le=60)] = 1.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        if not re.match(r"^https?://[^/\s]+", value.get_secret_value()):
            raise ValueError("must be an http:// or https:// URL")
        return value


class AlertsConfig(Strict):
    """Status evaluation, alert rules and notifiers (README "Alerting"). Default: statuses on, no rules."""

    status: bool = True  # lagwatch.status.* in the documents
    window: Annotated[int, Field(ge=2, le=100)] = 10  # scrapes per partition the status rules look at
    stop_after_s: Annotated[float, Field(gt=0)] = 600.0  # lag at an unmoved offset, no consumer: STOP
    rules: tuple[ThresholdRuleConfig, ...] = ()
    status_rules: tuple[StatusRuleConfig, ...] = ()
    notifiers: tuple[NotifierConfig, ...] = ()
    repeat_s: Annotated[float, Field(ge=0)] = 3600.0  # re-notify a firing alert this often; 0: never
    # The alert state file. Not `state_file`: `<name>_file` options are read as secret files.
    # Unset: <state dir>/alerts.json (exporter/config/paths.py: $LAGWATCH_STATE_DIR, else $XDG_STATE_HOME/lagwatch).
    state_path: Path | None = None
    index: bool = True  # transitions into <index_prefix>-alerts

    @model_validator(mode="after")
    def _consistent(self) -> AlertsConfig:
        names = [r.name for r in self.rules] + [r.name for r in self.status_rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(repeated)}")
        notifier_names = [n.name for n in self.notifiers]
        if len(set(notifier_names)) != len(notifier_names) or "index" in notifier_names:
            raise ValueError("notifier names must be unique and not 'index'")
        if self.status_rules and not self.status:
            raise ValueError("status_rules need status: true")
        return self

    @property
    def state_location(self) -> Path:
        if self.state_path is not None:
            return self.state_path.expanduser()
        return paths.alerts_state_file()

    @property
    def enabled(self) -> bool:
        return self.status or bool(self.rules)
