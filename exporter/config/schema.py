"""The one typed configuration: a YAML file, overridden by LAGWATCH_* environment variables.

`load()` returns a validated, frozen Config or raises ConfigError carrying every problem with its field
path, so `lagwatch check-config` can list them all at once. Secrets are SecretStr: they print as '**********'.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AnyHttpUrl,
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from exporter.lag.timelag import DEFAULT_PROBE_AGES_S

ENV_PREFIX = "LAGWATCH_"
ENV_NESTING = "__"
# Every option lives in a section, so an override always has a `__`; LAGWATCH_CONFIG, LAGWATCH_CACHE,
# LAGWATCH_KEEP_DATA and the like are left alone.


class ConfigError(Exception):
    """Every problem found in a config, each as (field path, message)."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _compile_all(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for index, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"item {index}: invalid regular expression {pattern!r}: {exc}") from None
    return patterns


def _comma_list(cls, value: Any) -> Any:
    """A comma-separated string (as an environment variable gives it) becomes the tuple of its parts."""
    return tuple(s.strip() for s in value.split(",") if s.strip()) if isinstance(value, str) else value


class NameFilter(_Strict):
    """Regexes matched against the whole name (re.fullmatch). A name is selected when it matches an
    `allow` pattern and no `deny` pattern."""

    allow: tuple[str, ...] = (".*",)
    deny: tuple[str, ...] = ()

    _check_allow = field_validator("allow", "deny")(classmethod(lambda cls, v: _compile_all(v)))

    def matches(self, name: str) -> bool:
        # Called for every group and topic of a scrape (65,000+ on large estates): compiled once.
        return _any_fullmatch(self.allow, name) and not _any_fullmatch(self.deny, name)


@functools.lru_cache(maxsize=256)
def _alternation(patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    """One compiled alternation of the patterns; one compiled pattern each where they cannot be joined
    (a pattern with global inline flags such as `(?i)` must stay first in its own regex). DOTALL: a group
    id may hold a newline, and `.*` must select it like any other name."""
    if not patterns:
        return ()
    try:
        return (re.compile("|".join(f"(?:{p})" for p in patterns), re.DOTALL),)
    except re.error:
        return tuple(re.compile(p, re.DOTALL) for p in patterns)


def _any_fullmatch(patterns: tuple[str, ...], name: str) -> bool:
    return any(compiled.fullmatch(name) for compiled in _alternation(patterns))


class SecurityProtocol(str, Enum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class KafkaSecurity(_Strict):
    protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    username: str | None = None
    password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_password: SecretStr | None = None
    ssl_check_hostname: bool = True

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> KafkaSecurity:
        if self.protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL):
            if not self.sasl_mechanism:
                raise ValueError(f"sasl_mechanism is required with protocol {self.protocol.value}")
            if not self.username or self.password is None:
                raise ValueError(f"username and password (or password_file) are required for SASL")
        return self

    def client_kwargs(self) -> dict[str, Any]:
        """kafka-python keyword arguments (with secrets revealed: never log the result)."""
        kwargs: dict[str, Any] = {"security_protocol": self.protocol.value}
        if self.sasl_mechanism:
            kwargs["sasl_mechanism"] = self.sasl_mechanism
            kwargs["sasl_plain_username"] = self.username
            kwargs["sasl_plain_password"] = self.password.get_secret_value() if self.password else None
        if self.protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL):
            kwargs["ssl_check_hostname"] = self.ssl_check_hostname
            for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
                value = getattr(self, key)
                if value is not None:
                    kwargs[key] = str(value)
            if self.ssl_password is not None:
                kwargs["ssl_password"] = self.ssl_password.get_secret_value()
        return kwargs


class Cluster(_Strict):
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    bootstrap_servers: Annotated[tuple[str, ...], Field(min_length=1)]
    client_id: str = "lagwatch"
    security: KafkaSecurity = KafkaSecurity()
    request_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0

    _split = field_validator("bootstrap_servers", mode="before")(classmethod(_comma_list))

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_port(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for server in value:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{server!r} is not host:port")
        return value


class Granularity(str, Enum):
    """How fine the indexed documents are; coarser levels are always indexed too."""

    PARTITION = "partition"  # group+topic+partition, group+topic, group
    TOPIC = "topic"  # group+topic, group
    GROUP = "group"  # group only


class Scrape(_Strict):
    interval_s: Annotated[float, Field(ge=1, le=3600)] = 30.0
    # How long one scrape may take; unset: 80% of the interval.
    timeout_s: Annotated[float, Field(gt=0, le=3600)] | None = None
    granularity: Granularity = Granularity.PARTITION
    # Groups per OffsetFetch / DescribeGroups request: one request per coordinator per this many groups.
    groups_per_request: Annotated[int, Field(ge=1, le=100_000)] = 2000
    # "I/N": this process reports only the groups whose stable hash falls in shard I of N (0 <= I < N).
    # Replicas of one shard write identical document ids, so running two for HA makes no duplicates.
    shard: str | None = None
    # Names this process in its self documents; unset: the host name.
    instance: str | None = None

    @field_validator("shard")
    @classmethod
    def _valid_shard(cls, value: str | None) -> str | None:
        if value is not None:
            from exporter.kafka.sharding import parse_shard

            parse_shard(value)
        return value

    @property
    def shard_index_count(self) -> tuple[int, int] | None:
        from exporter.kafka.sharding import parse_shard

        return parse_shard(self.shard) if self.shard is not None else None

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> Scrape:
        if self.timeout_s is not None and self.timeout_s > self.interval_s:
            raise ValueError("timeout_s must not exceed interval_s (a scrape would overrun the next one)")
        return self

    @property
    def effective_timeout_s(self) -> float:
        return self.timeout_s if self.timeout_s is not None else 0.8 * self.interval_s


class TimeLagConfig(_Strict):
    history_points: Annotated[int, Field(ge=2, le=10_000)] = 64
    # Ask the broker (ListOffsets by timestamp) when our own history cannot place a committed offset.
    broker_probes: bool = True
    probe_ages_s: tuple[Annotated[float, Field(gt=0)], ...] = DEFAULT_PROBE_AGES_S

    _split = field_validator("probe_ages_s", mode="before")(classmethod(_comma_list))


class RecordsPerMessage(_Strict):
    """Producers that batch N items into one record: lag is also reported in items (lag x N)."""

    topic: str  # regex, whole name
    items: Annotated[int, Field(ge=1)]

    _check = field_validator("topic")(classmethod(lambda cls, v: _compile_all((v,))[0]))


class ElasticsearchConfig(_Strict):
    hosts: Annotated[tuple[AnyHttpUrl, ...], Field(min_length=1)] = (AnyHttpUrl("http://127.0.0.1:9200"),)
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_certs: Path | None = None
    verify_certs: bool = True
    # Documents go to <index_prefix>-lag-YYYY.MM.DD behind the alias <index_prefix>-lag (see README).
    index_prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")] = "lagwatch"
    # auto: a data stream where the server supports them, daily indices otherwise.
    storage: Literal["auto", "data_stream", "daily_indices"] = "auto"
    retention_days: Annotated[int, Field(ge=1)] = 30
    # How often daily indices older than retention_days are deleted.
    maintenance_interval_s: Annotated[float, Field(ge=1)] = 3600.0
    bulk_chunk: Annotated[int, Field(ge=1, le=50_000)] = 1000
    request_timeout_s: Annotated[float, Field(gt=0)] = 30.0

    _split = field_validator("hosts", mode="before")(classmethod(_comma_list))

    @model_validator(mode="after")
    def _one_auth(self) -> ElasticsearchConfig:
        if self.api_key is not None and (self.username or self.password is not None):
            raise ValueError("use either api_key or username/password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class KibanaConfig(_Strict):
    """Where `lagwatch setup` imports the dashboards and creates the alerting rule; unset url: skipped."""

    url: AnyHttpUrl | None = None
    # Kibana space to import into; "default" is the default space (no /s/<space> in the API path).
    space: Annotated[str, Field(pattern=r"^[a-z0-9_-]+$")] = "default"
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    ca_certs: Path | None = None
    verify_certs: bool = True
    request_timeout_s: Annotated[float, Field(gt=0)] = 30.0
    # The Elasticsearch query rule (kibana/lagwatch-rule.json): one alert per group above the time lag.
    rule: bool = True
    rule_time_lag_s: Annotated[float, Field(gt=0)] = 300.0
    rule_interval: Annotated[str, Field(pattern=r"^[1-9][0-9]*[smhd]$")] = "1m"

    @model_validator(mode="after")
    def _one_auth(self) -> KibanaConfig:
        if self.api_key is not None and (self.username or self.password is not None):
            raise ValueError("use either api_key or username/password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class LogConfig(_Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class SpoolConfig(_Strict):
    """Documents Elasticsearch cannot take wait on disk and are replayed, oldest first (README "Operations")."""

    # Unset: $LAGWATCH_STATE_DIR/spool, else $XDG_STATE_HOME (~/.local/state)/lagwatch/spool.
    dir: Path | None = None
    # Oldest documents are dropped (and counted) only when the spool would grow past this.
    max_bytes: Annotated[int, Field(ge=1024)] = 512 * 1024 * 1024
    # Spooled documents re-sent per successful delivery, so a long backlog never stalls scraping.
    replay_documents: Annotated[int, Field(ge=1)] = 20_000

    @property
    def path(self) -> Path:
        from exporter.sinks.spool import default_dir

        return self.dir.expanduser() if self.dir is not None else default_dir()


class HttpConfig(_Strict):
    """/healthz, /readyz and /metrics (Prometheus text format)."""

    enabled: bool = True
    host: str = "0.0.0.0"
    # 0 picks a free port (logged in `http_started`): for tests and ad-hoc runs.
    port: Annotated[int, Field(ge=0, le=65535)] = 9308


class AlertMatchFields(_Strict):
    """Which groups (and topics) a rule covers: exact names and/or a regex on the whole name; none: all.
    With `topics`/`topic_regex` the rule is evaluated per group+topic, otherwise per group."""

    clusters: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    group_regex: str | None = None
    topics: tuple[str, ...] = ()
    topic_regex: str | None = None

    _check_regex = field_validator("group_regex", "topic_regex")(
        classmethod(lambda cls, v: v if v is None else _compile_all((v,))[0])
    )

    def matcher(self):
        from exporter.evaluator.rules import Match

        return Match(self.clusters, self.groups, self.group_regex, self.topics, self.topic_regex)


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

    def rule(self):
        from exporter.evaluator.rules import ThresholdRule

        return ThresholdRule(
            self.name, self.matcher(), self.metric, self.warn, self.critical, self.for_s,
            self.resolve_below, self.resolve_for_s,
        )


class StatusRuleConfig(AlertMatchFields):
    name: _RULE_NAME
    statuses: Annotated[
        tuple[Literal["WARN", "STALL", "STOP", "REWIND", "ERR"], ...], Field(min_length=1)
    ] = ("STALL", "STOP")
    for_s: Annotated[float, Field(ge=0)] = 300.0
    severity: Literal["warn", "critical"] = "critical"
    resolve_for_s: Annotated[float, Field(ge=0)] = 0.0

    def rule(self):
        from exporter.evaluator.rules import StatusRule

        return StatusRule(self.name, self.matcher(), tuple(self.statuses), self.for_s, self.severity, self.resolve_for_s)


class NotifierConfig(_Strict):
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


class AlertsConfig(_Strict):
    """Status evaluation, alert rules and notifiers (README "Alerting"). Default: statuses on, no rules."""

    status: bool = True  # lagwatch.status.* in the documents
    window: Annotated[int, Field(ge=2, le=100)] = 10  # scrapes per partition the status rules look at
    stop_after_s: Annotated[float, Field(gt=0)] = 600.0  # lag at an unmoved offset, no consumer: STOP
    rules: tuple[ThresholdRuleConfig, ...] = ()
    status_rules: tuple[StatusRuleConfig, ...] = ()
    notifiers: tuple[NotifierConfig, ...] = ()
    repeat_s: Annotated[float, Field(ge=0)] = 3600.0  # re-notify a firing alert this often; 0: never
    # The alert state file. Not `state_file`: `<name>_file` options are read as secret files.
    # Unset: $LAGWATCH_STATE_DIR/alerts.json, else $XDG_STATE_HOME (~/.local/state)/lagwatch/alerts.json.
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
        base = os.environ.get("LAGWATCH_STATE_DIR")
        if base:
            return Path(base) / "alerts.json"
        return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "lagwatch" / "alerts.json"

    @property
    def enabled(self) -> bool:
        return self.status or bool(self.rules)


_TOPIC_NAME = Annotated[str, Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")]


class CoordinationConfig(_Strict):
    """Replicas that share the groups through a consumer group of lagwatch's own (README "Running several
    replicas"). The only group lagwatch ever joins; off unless this section is set."""

    # The cluster to coordinate on: a name from `clusters` (its servers and security), or servers of its own.
    cluster: str | None = None
    bootstrap_servers: tuple[str, ...] | None = None
    security: KafkaSecurity = KafkaSecurity()
    client_id: str = "lagwatch-coordination"
    request_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0
    # Its partitions are the shards (S of them); it also keeps each group's alert state (compacted).
    topic: _TOPIC_NAME = "lagwatch-coordination"
    group_id: Annotated[str, Field(min_length=1, max_length=249)] = "lagwatch-coordination"
    # lagwatch creates nothing unless allowed: a missing topic is a start-up error naming the command.
    create_topic: bool = False
    partitions: Annotated[int, Field(ge=1, le=10_000)] = 12  # S, when lagwatch creates the topic
    replication_factor: Annotated[int, Field(ge=1, le=32)] | None = None  # unset: the broker's default
    # A process that dies loses its shards to the others after this long (the broker's
    # group.min.session.timeout.ms .. group.max.session.timeout.ms, 6 s .. 30 min by default).
    session_timeout_s: Annotated[float, Field(ge=1, le=1800)] = 30.0
    # Unset: a tenth of the session timeout, at most 3 s (how fast a rebalance reaches every member).
    heartbeat_interval_s: Annotated[float, Field(gt=0, le=600)] | None = None
    # Report lagwatch's own coordination group like any other (excluded by default).
    report_group: bool = False

    _split = field_validator("bootstrap_servers", mode="before")(classmethod(_comma_list))

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_port(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return value if value is None else Cluster._host_port(value)

    @model_validator(mode="after")
    def _where(self) -> CoordinationConfig:
        if (self.cluster is None) == (self.bootstrap_servers is None):
            raise ValueError("set cluster (the name of one of clusters) or bootstrap_servers, exactly one of them")
        if self.cluster is not None and "security" in self.model_fields_set:
            raise ValueError("security goes with bootstrap_servers; with cluster, that cluster's security is used")
        if self.heartbeat_interval_s is not None and self.heartbeat_interval_s * 3 > self.session_timeout_s:
            raise ValueError("heartbeat_interval_s must be at most a third of session_timeout_s")
        return self

    @property
    def heartbeat_s(self) -> float:
        if self.heartbeat_interval_s is not None:
            return self.heartbeat_interval_s
        return min(3.0, self.session_timeout_s / 10)

    def connection(self, clusters: tuple[Cluster, ...]) -> Cluster:
        """The cluster to coordinate on, as a Cluster (servers, security, client id, timeout)."""
        if self.cluster is not None:
            named = next(c for c in clusters if c.name == self.cluster)
            return named.model_copy(update={"client_id": self.client_id})
        return Cluster(
            name="coordination", bootstrap_servers=self.bootstrap_servers, client_id=self.client_id,
            security=self.security, request_timeout_s=self.request_timeout_s,
        )


class Config(_Strict):
    clusters: Annotated[tuple[Cluster, ...], Field(min_length=1)]
    groups: NameFilter = NameFilter(deny=(r"lagwatch.*",))
    topics: NameFilter = NameFilter(deny=(r"__.*",))
    scrape: Scrape = Scrape()
    time_lag: TimeLagConfig = TimeLagConfig()
    records_per_message: tuple[RecordsPerMessage, ...] = ()
    elasticsearch: ElasticsearchConfig = ElasticsearchConfig()
    kibana: KibanaConfig = KibanaConfig()
    log: LogConfig = LogConfig()
    spool: SpoolConfig = SpoolConfig()
    http: HttpConfig = HttpConfig()
    alerts: AlertsConfig = AlertsConfig()
    coordination: CoordinationConfig | None = None

    @field_validator("clusters")
    @classmethod
    def _unique_names(cls, value: tuple[Cluster, ...]) -> tuple[Cluster, ...]:
        names = [c.name for c in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"cluster names must be unique; repeated: {', '.join(duplicates)}")
        return value

    def items_per_record(self, topic: str) -> int:
        for rule in self.records_per_message:
            if re.fullmatch(rule.topic, topic, re.DOTALL):
                return rule.items
        return 1


# --- Loading ----------------------------------------------------------------------------------


def _list_index(key: str, variable: str, where: list[str], items: list) -> int:
    if not key.isdigit():
        raise ConfigError(
            [(".".join(where), f"{variable}: {key!r} stands where a list index belongs, e.g. LAGWATCH_CLUSTERS__0__NAME")]
        )
    # An existing item or the next one: LAGWATCH_CLUSTERS__99999999__NAME must not make 10^8 empty items.
    if len(key) > 6 or int(key) > len(items):
        raise ConfigError([(".".join(where) or "(top level)",
                            f"{variable}: index {int(key) if len(key) < 20 else key[:20] + '...'} skips items: "
                            f"the list has {len(items)}, so the next index is {len(items)}")])
    return int(key)


def _set_path(tree: dict, path: list[str], value: str, variable: str) -> None:
    node: Any = tree
    for index, key in enumerate(path[:-1]):
        nxt = path[index + 1]
        if isinstance(node, list):
            pos = _list_index(key, variable, path[:index], node)
            while len(node) <= pos:
                node.append({})
            node = node[pos]
            continue
        if key not in node or not isinstance(node[key], (dict, list)):
            node[key] = [] if nxt.isdigit() else {}
        node = node[key]
    last = path[-1]
    if not isinstance(node, (dict, list)):
        raise ConfigError([(".".join(path[:-1]), f"{variable}: overrides a single value as if it were a section")])
    if isinstance(node, list):
        pos = _list_index(last, variable, path[:-1], node)
        while len(node) <= pos:
            node.append({})
        node[pos] = value
    else:
        node[last] = value


def apply_env(tree: dict, environ: Mapping[str, str]) -> dict:
    """LAGWATCH_SCRAPE__INTERVAL_S=10 sets scrape.interval_s; LAGWATCH_CLUSTERS__0__NAME sets clusters[0].name.
    Comma-separated values fill list fields (hosts, bootstrap_servers)."""
    sections = set(Config.model_fields)
    overrides = []
    for key in environ:
        if not key.startswith(ENV_PREFIX):
            continue
        if ENV_NESTING not in key:
            name = key[len(ENV_PREFIX):].lower()
            if name in sections:  # LAGWATCH_SCRAPE=5: a section is not one value (other LAGWATCH_* are not config)
                raise ConfigError([(name, f"{key}: {name} is a section, not one value; set its options, "
                                          f"e.g. {key}{ENV_NESTING}<OPTION>")])
            continue
        path = [part.lower() for part in key[len(ENV_PREFIX):].split(ENV_NESTING) if part]
        if path:
            overrides.append((path, key))
    # Numbers as numbers: LAGWATCH_CLUSTERS__10__... comes after __2__, so lists fill in order.
    overrides.sort(key=lambda item: [(0, int(p), "") if p.isdigit() and len(p) < 20 else (1, 0, p) for p in item[0]])
    for path, key in overrides:
        _set_path(tree, path, environ[key], key)
    return tree


def _read_secret_files(tree: Any, path: str = "") -> list[tuple[str, str]]:
    """Replace every `<name>_file: PATH` with `<name>: <file contents>`; return problems."""
    problems: list[tuple[str, str]] = []
    if isinstance(tree, list):
        for index, item in enumerate(tree):
            problems += _read_secret_files(item, f"{path}[{index}]")
    elif isinstance(tree, dict):
        for key in list(tree):
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and key.endswith("_file") and key != "ssl_keyfile":
                target = key[: -len("_file")]
                if target in tree:
                    problems.append((here, f"set either {target} or {key}, not both"))
                    tree.pop(key)
                    continue
                try:
                    tree[target] = Path(str(tree.pop(key))).read_text().strip()
                except OSError as exc:
                    problems.append((here, f"cannot read secret file: {exc.strerror}"))
            else:
                problems += _read_secret_files(tree[key], here)
    return problems


def _format_loc(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif isinstance(item, str) and not item.startswith("function-") and item not in {"enum", "literal"}:
            name = item if re.fullmatch(r"[A-Za-z0-9_-]+", item) else repr(item)  # odd keys stay visible
            parts.append(f".{name}" if parts else name)
    return "".join(parts) or "(top level)"


def _pydantic_problems(error: ValidationError) -> list[tuple[str, str]]:
    problems = []
    items = error.errors(include_url=False, include_input=False)
    failed_paths = {_format_loc(i["loc"]) for i in items}
    for item in items:
        path = _format_loc(item["loc"])
        if item["type"] == "too_short" and any(p.startswith(path + "[") for p in failed_paths):
            continue  # a list whose only items were invalid: those items' errors say it all
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown option"
        message = message.removeprefix("Value error, ")
        problems.append((path, message))
    return problems


def _across_sections(config: Config) -> list[tuple[str, str]]:
    """Checks that need two sections, each reported at the field to change."""
    problems = []
    coordination = config.coordination
    if coordination is not None:
        names = [c.name for c in config.clusters]
        if coordination.cluster is not None and coordination.cluster not in names:
            problems.append(("coordination.cluster", f"no cluster named {coordination.cluster!r} in clusters "
                                                     f"(there are: {', '.join(names)})"))
        if config.scrape.shard is not None:
            problems.append(("coordination", "cannot be combined with scrape.shard (--shard): use static shards "
                                             "or coordination, not both"))
    return problems


def parse(raw: Any, environ: Mapping[str, str] | None = None) -> Config:
    """Validate an already-parsed YAML tree (plus env overrides) into a Config."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([("(top level)", f"expected a mapping of options, got {type(raw).__name__}")])
    tree = apply_env(raw, environ if environ is not None else os.environ)
    problems = _read_secret_files(tree)
    try:
        config = Config.model_validate(tree)
    except ValidationError as exc:
        problems += _pydantic_problems(exc)
        raise ConfigError(problems) from None
    problems += _across_sections(config)
    if problems:
        raise ConfigError(problems)
    return config


def load(path: str | os.PathLike | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a YAML config file; with no file, only the environment configures."""
    from exporter.config.yaml_input import YamlInputError, load_yaml

    raw: Any = {}
    if path is not None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError([("(file)", f"cannot read {path}: {exc.strerror}")]) from None
        try:
            raw = load_yaml(data)
        except YamlInputError as exc:
            raise ConfigError([(exc.where, exc.message)]) from None
    return parse(raw, environ)


_URL_PASSWORD = re.compile(r"^([a-z][a-z0-9+.-]*://[^:/@\s]*):([^@/\s]*)@", re.I)


def _mask_url_password(url: str) -> str:
    return _URL_PASSWORD.sub(r"\1:**********@", url)


def _mask_urls(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _mask_urls(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask_urls(v) for v in data]
    return _mask_url_password(data) if isinstance(data, str) else data


def redacted(config: Config) -> dict[str, Any]:
    """The effective config as plain data, secrets shown as '**********': every secret option, and the
    password of every URL (Elasticsearch hosts, Kibana, anything else that takes a URL)."""
    return _mask_urls(config.model_dump(mode="json", exclude_none=False))


def secret_values(config: Config) -> list[str]:
    """Every secret in the config, for masking in logs (exporter.logs.register_secret): each secret option,
    the password of each URL, and whole webhook URLs (their token is in the path)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            found.append(secret)
            found.extend(m.group(2) for m in [_URL_PASSWORD.match(secret)] if m and m.group(2))
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item)
        elif isinstance(value, AnyUrl) and value.password:
            found.append(value.password)

    walk(config)
    return [s for s in dict.fromkeys(found) if s]
