"""The Kafka sections: clusters (servers, security), which groups and topics to report, the scrape and
time lag settings, and `--shard I/N`. Each section validates itself."""

from __future__ import annotations

import functools
import re
from enum import Enum
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from exporter.config.base import Strict, comma_list, compile_all, host_port

# Broker probes reach this far back: minutes for busy topics, days for quiet ones.
DEFAULT_PROBE_AGES_S: tuple[float, ...] = (60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400)

_SHARD = re.compile(r"^(\d+)/(\d+)$")


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N; ValueError with a readable message otherwise."""
    match = _SHARD.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not I/N (e.g. 0/3: the first of three shards)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"{text!r}: I must be between 0 and N-1 and N at least 1")
    return index, count


class NameFilter(Strict):
    """Regexes matched against the whole name (re.fullmatch). A name is selected when it matches an
    `allow` pattern and no `deny` pattern."""

    allow: tuple[str, ...] = Field((".*",), description="Regexes on the whole name: a name must match one of them. "
                                   "`.` also matches a newline (a group id may hold any character).")
    deny: tuple[str, ...] = Field((), description="Regexes on the whole name: a name matching any of them is left out, "
                                  "even when `allow` selects it.")

    _check_allow = field_validator("allow", "deny")(classmethod(lambda cls, v: compile_all(v)))

    def matches(self, name: str) -> bool:
        return self.matcher()(name)

    def matcher(self) -> Callable[[str], bool]:
        """`matches` as one function, for what calls it for every group and topic of a scrape (65,000+ on
        large estates): the patterns compiled once, and no regex at all for the default (everything)."""
        return _matcher(self.allow, self.deny)


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


@functools.lru_cache(maxsize=256)
def _matcher(allow: tuple[str, ...], deny: tuple[str, ...]) -> Callable[[str], bool]:
    allowed, denied = _any(allow), _any(deny)
    if allowed is _everything:
        return (lambda name: not denied(name)) if denied is not None else _everything
    if allowed is None:
        return lambda name: False
    return (lambda name: allowed(name) and not denied(name)) if denied is not None else allowed


# A pattern that is a literal prefix followed by `.*` (the defaults `lagwatch.*` and `__.*`, or `.*` itself):
# str.startswith does the same as the regex under DOTALL, several times faster.
_PREFIX_PATTERN = re.compile(r"([A-Za-z0-9_\-]*)\.\*")


def _any(patterns: tuple[str, ...]) -> Callable[[str], bool] | None:
    """Whether a name fully matches any of the patterns; None without patterns."""
    if not patterns:
        return None
    prefixes = [m.group(1) if (m := _PREFIX_PATTERN.fullmatch(p)) else None for p in patterns]
    if "" in prefixes:
        return _everything
    if None not in prefixes:
        starts = tuple(prefixes)
        return lambda name: name.startswith(starts)
    compiled = _alternation(patterns)
    if len(compiled) == 1:
        return lambda name, fullmatch=compiled[0].fullmatch: fullmatch(name) is not None
    return lambda name: any(c.fullmatch(name) for c in compiled)


def _everything(name: str) -> bool:
    return True


class SecurityProtocol(str, Enum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class KafkaSecurity(Strict):
    """How lagwatch connects to the brokers: the settings of the Kafka client (kafka-python underneath)."""

    protocol: SecurityProtocol = Field(SecurityProtocol.PLAINTEXT, description="The broker listener's security "
                                       "protocol.")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism; required with SASL_PLAINTEXT and SASL_SSL.")
    username: str | None = Field(None, description="SASL user; required with SASL_PLAINTEXT and SASL_SSL.")
    password: SecretStr | None = Field(None, description="SASL password; required with a SASL protocol.")
    ssl_cafile: Path | None = Field(None, description="PEM file of the CA(s) that signed the brokers' certificates "
                                    "(SSL, SASL_SSL); unset: the system's trusted CAs.")
    ssl_certfile: Path | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    ssl_keyfile: Path | None = Field(None, description="Client private key (PEM, may be encrypted) for mutual TLS; "
                                     "a path kafka-python opens itself, not a secret file.")
    ssl_password: SecretStr | None = Field(None, description="Password of an encrypted `ssl_keyfile`.")
    ssl_check_hostname: bool = Field(True, description="Check that the broker certificate's SAN names the host "
                                     "connected to (an `IP:` entry when connecting by address).")

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


class Cluster(Strict):
    """A Kafka cluster to watch. lagwatch only reads it: it never joins a group, commits an offset or
    creates a topic there."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description=(
        "The cluster's name in every document (`lagwatch.cluster`), metric label and log line; unique."))]
    bootstrap_servers: Annotated[tuple[str, ...], Field(min_length=1, description=(
        "Brokers to connect to first, each `host:port`; a list, or one comma-separated string."))]
    client_id: str = Field("lagwatch", description="The Kafka client id on lagwatch's requests (broker logs, "
                           "quotas).")
    security: KafkaSecurity = Field(KafkaSecurity(), description="Protocol, SASL and TLS settings (below).")
    request_timeout_s: Annotated[float, Field(gt=0, le=300, description=(
        "Per Kafka request. A broker that does not answer costs one request timeout per scrape: lagwatch then "
        "sends it nothing more in that scrape and reports its partitions and groups partial. Keep it a third "
        "of `scrape.interval_s` or less."))] = 10.0

    _split = field_validator("bootstrap_servers", mode="before")(classmethod(comma_list))
    _host_port = field_validator("bootstrap_servers")(classmethod(lambda cls, v: host_port(v)))


class Granularity(str, Enum):
    """How fine the indexed documents are; coarser levels are always indexed too."""

    PARTITION = "partition"  # group+topic+partition, group+topic, group
    TOPIC = "topic"  # group+topic, group
    GROUP = "group"  # group only


class Scrape(Strict):
    """When and how finely each cluster is scraped."""

    interval_s: Annotated[float, Field(ge=1, le=3600, description="How often each cluster is scraped (scrapes are "
                                       "aligned to multiples of it since the epoch).")] = 30.0
    timeout_s: Annotated[float, Field(gt=0, le=3600)] | None = Field(
        None, description="How long one scrape may take; at most `interval_s`. Unset: 80% of `interval_s`.")
    granularity: Granularity = Field(Granularity.PARTITION, description=(
        "The finest documents indexed: `partition` (partition, topic and group documents), `topic` (topic and "
        "group), `group` (group only). Lag and statuses per partition are computed whatever is indexed."))
    groups_per_request: Annotated[int, Field(ge=1, le=100_000, description=(
        "Groups per OffsetFetch and DescribeGroups request: one request per coordinator per this many groups."
    ))] = 2000
    shard: str | None = Field(None, description=(
        "`I/N`: report only the groups whose stable hash falls in shard I of N (0 <= I < N; `--shard` overrides "
        "it). Replicas of one shard write identical document ids, so two per shard make no duplicates."))
    instance: str | None = Field(None, description="Names this process in its self documents "
                                 "(`lagwatch.self.instance`); unset: the host name.")

    @field_validator("shard")
    @classmethod
    def _valid_shard(cls, value: str | None) -> str | None:
        if value is not None:
            parse_shard(value)
        return value

    @property
    def shard_index_count(self) -> tuple[int, int] | None:
        return parse_shard(self.shard) if self.shard is not None else None

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> Scrape:
        if self.timeout_s is not None and self.timeout_s > self.interval_s:
            raise ValueError("timeout_s must not exceed interval_s (a scrape would overrun the next one)")
        return self

    @property
    def effective_timeout_s(self) -> float:
        return self.timeout_s if self.timeout_s is not None else 0.8 * self.interval_s


class TimeLagConfig(Strict):
    """Lag in seconds: how long ago the oldest unread record was produced."""

    history_points: Annotated[int, Field(ge=2, le=10_000, description=(
        "(time, log-end offset) points kept per partition, from lagwatch's own scrapes."))] = 64
    broker_probes: bool = Field(True, description=(
        "Ask the broker (ListOffsets by timestamp) when lagwatch's own history cannot place a committed "
        "offset yet (the first scrapes after a start)."))
    probe_ages_s: tuple[Annotated[float, Field(gt=0)], ...] = Field(DEFAULT_PROBE_AGES_S, description=(
        "The ladder of record ages the broker probes bracket a committed offset with; a list or one "
        "comma-separated string."))

    clock_skew_tolerance_s: Annotated[float, Field(ge=0, le=3600, description=(
        "How far ahead of lagwatch's clock a record's timestamp may be (producer hosts' clocks against "
        "lagwatch's) before the broker probes take the partition's record times as ahead of it: its time lag "
        "is then null with quality `clock_skew`, not a number mixed from two clocks."))] = 5.0

    _split = field_validator("probe_ages_s", mode="before")(classmethod(comma_list))


class RecordsPerMessage(Strict):
    """Producers that batch N items into one record: lag is also reported in items (lag x N)."""

    topic: str = Field(description="Regex on the whole topic name; the first matching rule wins.")
    items: Annotated[int, Field(ge=1, description="Items per Kafka record: `lagwatch.lag.items` = lag x items.")]

    _check = field_validator("topic")(classmethod(lambda cls, v: compile_all((v,))[0]))
