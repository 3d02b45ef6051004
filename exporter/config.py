"""The one typed configuration: a YAML file, overridden by LAGWATCH_* environment variables.

`load()` returns a validated, frozen Config or raises ConfigError carrying every problem with its field
path, so `lagwatch check-config` can list them all at once. Secrets are SecretStr: they print as '**********'.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

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


class NameFilter(_Strict):
    """Regexes matched against the whole name (re.fullmatch). A name is selected when it matches an
    `allow` pattern and no `deny` pattern."""

    allow: tuple[str, ...] = (".*",)
    deny: tuple[str, ...] = ()

    _check_allow = field_validator("allow", "deny")(classmethod(lambda cls, v: _compile_all(v)))

    def matches(self, name: str) -> bool:
        return any(re.fullmatch(p, name) for p in self.allow) and not any(
            re.fullmatch(p, name) for p in self.deny
        )


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

    @field_validator("bootstrap_servers", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return tuple(s.strip() for s in value.split(",") if s.strip()) if isinstance(value, str) else value

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
    probe_ages_s: tuple[Annotated[float, Field(gt=0)], ...] = (
        60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400,
    )

    @field_validator("probe_ages_s", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return tuple(s.strip() for s in value.split(",") if s.strip()) if isinstance(value, str) else value


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
    bulk_chunk: Annotated[int, Field(ge=1, le=50_000)] = 1000
    request_timeout_s: Annotated[float, Field(gt=0)] = 30.0

    @field_validator("hosts", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return tuple(s.strip() for s in value.split(",") if s.strip()) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_auth(self) -> ElasticsearchConfig:
        if self.api_key is not None and (self.username or self.password is not None):
            raise ValueError("use either api_key or username/password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class LogConfig(_Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class Config(_Strict):
    clusters: Annotated[tuple[Cluster, ...], Field(min_length=1)]
    groups: NameFilter = NameFilter(deny=(r"lagwatch.*",))
    topics: NameFilter = NameFilter(deny=(r"__.*",))
    scrape: Scrape = Scrape()
    time_lag: TimeLagConfig = TimeLagConfig()
    records_per_message: tuple[RecordsPerMessage, ...] = ()
    elasticsearch: ElasticsearchConfig = ElasticsearchConfig()
    log: LogConfig = LogConfig()

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
            if re.fullmatch(rule.topic, topic):
                return rule.items
        return 1


# --- Loading ----------------------------------------------------------------------------------


def _list_index(key: str, variable: str, where: list[str]) -> int:
    if not key.isdigit():
        raise ConfigError(
            [(".".join(where), f"{variable}: {key!r} stands where a list index belongs, e.g. LAGWATCH_CLUSTERS__0__NAME")]
        )
    return int(key)


def _set_path(tree: dict, path: list[str], value: str, variable: str) -> None:
    node: Any = tree
    for index, key in enumerate(path[:-1]):
        nxt = path[index + 1]
        if isinstance(node, list):
            pos = _list_index(key, variable, path[:index])
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
        pos = _list_index(last, variable, path[:-1])
        while len(node) <= pos:
            node.append({})
        node[pos] = value
    else:
        node[last] = value


def apply_env(tree: dict, environ: Mapping[str, str]) -> dict:
    """LAGWATCH_SCRAPE__INTERVAL_S=10 sets scrape.interval_s; LAGWATCH_CLUSTERS__0__NAME sets clusters[0].name.
    Comma-separated values fill list fields (hosts, bootstrap_servers)."""
    for key in sorted(environ):
        if not key.startswith(ENV_PREFIX) or ENV_NESTING not in key:
            continue
        path = [part.lower() for part in key[len(ENV_PREFIX):].split(ENV_NESTING) if part]
        if path:
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
            parts.append(f".{item}" if parts else item)
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
    if problems:
        raise ConfigError(problems)
    return config


def load(path: str | os.PathLike | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a YAML config file; with no file, only the environment configures."""
    raw: Any = {}
    if path is not None:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ConfigError([("(file)", f"cannot read {path}: {exc.strerror}")]) from None
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ConfigError([("(file)", f"{path} is not valid YAML{where}: {problem}")]) from None
    return parse(raw, environ)


def _mask_url_password(url: str) -> str:
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^@/]*@", r"\1:**********@", url, flags=re.I)


def redacted(config: Config) -> dict[str, Any]:
    """The effective config as plain data, secrets shown as '**********' (also inside host URLs)."""
    data = config.model_dump(mode="json", exclude_none=False)
    data["elasticsearch"]["hosts"] = [_mask_url_password(h) for h in data["elasticsearch"]["hosts"]]
    return data
