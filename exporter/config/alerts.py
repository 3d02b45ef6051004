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

    clusters: tuple[str, ...] = Field((), description="Only these clusters (names from `clusters`); empty: all.")
    groups: tuple[str, ...] = Field((), description="Exact group ids; with `group_regex`, either matches; "
                                    "neither: every group.")
    group_regex: str | None = Field(None, description="Regex on the whole group id.")
    topics: tuple[str, ...] = Field((), description="Exact topic names: the rule is then evaluated per "
                                    "group+topic.")
    topic_regex: str | None = Field(None, description="Regex on the whole topic name (per group+topic, as `topics`).")

    _check_regex = field_validator("group_regex", "topic_regex")(
        classmethod(lambda cls, v: v if v is None else compile_all((v,))[0])
    )


_RULE_NAME = Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$",
                                   description="Unique name; it names the alert in documents and notifications.")]


class ThresholdRuleConfig(AlertMatchFields):
    """A threshold rule: fires while lag (messages or seconds) stays above a level."""

    name: _RULE_NAME
    metric: Literal["lag", "lag_seconds"] = Field("lag", description="`lag` (messages) or `lag_seconds` (time lag).")
    warn: Annotated[float, Field(ge=0)] | None = Field(None, description="Level of the `warn` severity.")
    critical: Annotated[float, Field(ge=0)] | None = Field(None, description=(
        "Level of the `critical` severity; at least `warn`. Set `warn`, `critical` or both."))
    for_s: Annotated[float, Field(ge=0, description=(
        "The breach must hold this long before the alert fires."))] = 0.0
    resolve_below: Annotated[float, Field(ge=0)] | None = Field(None, description=(
        "Hysteresis: the alert resolves only below this; unset: the lowest of `warn` and `critical`."))
    resolve_for_s: Annotated[float, Field(ge=0, description=(
        "... and only after staying below it this long."))] = 0.0

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
    """A status rule: fires while a group's status is one of `statuses`."""

    name: _RULE_NAME
    statuses: Annotated[
        tuple[Literal["WARN", "STALL", "STOP", "REWIND", "ERR"], ...],
        Field(min_length=1, description="The statuses that fire the alert."),
    ] = ("STALL", "STOP")
    for_s: Annotated[float, Field(ge=0, description="The status must hold this long before the alert fires.")] = 300.0
    severity: Literal["warn", "critical"] = Field("critical", description="The alert's severity.")
    resolve_for_s: Annotated[float, Field(ge=0, description=(
        "The group must be out of `statuses` this long before the alert resolves."))] = 0.0


class NotifierConfig(Strict):
    """Where alert transitions are sent, besides the alert index."""

    name: Annotated[_RULE_NAME, Field(description="Unique name, not `index`; logs name notifiers by it.")]
    type: Literal["webhook", "slack"] = Field("webhook", description=(
        "`webhook`: POST lagwatch's JSON; `slack`: a Slack incoming-webhook message (Mattermost and "
        "Rocket.Chat accept it too)."))
    url: SecretStr = Field(description="http(s) URL to POST to; a secret (webhook URLs carry tokens).")
    timeout_s: Annotated[float, Field(gt=0, le=120, description="Per POST.")] = 5.0
    retries: Annotated[int, Field(ge=0, le=10, description=(
        "Retries on network errors, timeouts, 429 and 5xx; other 4xx are not retried."))] = 3
    backoff_s: Annotated[float, Field(ge=0, le=60, description=(
        "First wait between attempts, doubled each time."))] = 1.0

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: SecretStr) -> SecretStr:
        if not re.match(r"^https?://[^/\s]+", value.get_secret_value()):
            raise ValueError("must be an http:// or https:// URL")
        return value


class AlertsConfig(Strict):
    """Status evaluation, alert rules and notifiers (docs/alerting.md). Default: statuses on, no rules."""

    status: bool = Field(True, description=(
        "Evaluate a status per partition and group (`lagwatch.status.*` in the documents)."))
    window: Annotated[int, Field(ge=2, le=100, description=(
        "Scrapes per partition the status rules look at; WARN and STALL need a full window."))] = 10
    stop_after_s: Annotated[float, Field(gt=0, description=(
        "Lag at an unmoved offset and no live member this long: STOP."))] = 600.0
    rules: tuple[ThresholdRuleConfig, ...] = Field((), description="Threshold rules (below); none by default.")
    status_rules: tuple[StatusRuleConfig, ...] = Field((), description="Status rules (below); none by default.")
    notifiers: tuple[NotifierConfig, ...] = Field((), description="Webhook and Slack notifiers (below).")
    repeat_s: Annotated[float, Field(ge=0, description=(
        "Re-notify a firing alert (`still_firing`) this often; 0: never."))] = 3600.0
    # Not `state_file`: `<name>_file` options are read as secret files. The default is worked out in paths.py.
    state_path: Path | None = Field(None, description=(
        "The alert state file (firing alerts, STOP clocks, undelivered transitions); unset: "
        "`$LAGWATCH_STATE_DIR/alerts.json`, else `~/.local/state/lagwatch/alerts.json`. Keep it on a "
        "persistent volume."))
    index: bool = Field(True, description="Index every transition into `<index_prefix>-alerts`.")

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
