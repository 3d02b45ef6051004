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

    allow: tuple[str, ...] = (".*",)
    deny: tuple[str, ...] = ()

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


class Cluster(Strict):
    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    bootstrap_servers: Annotated[tuple[str, ...], Field(min_length=1)]
    client_id: str = "lagwatch"
    security: KafkaSecurity = KafkaSecurity()
    request_timeout_s: Annotated[float, Field(gt=0, le=300)] = 10.0

    _split = field_validator("bootstrap_servers", mode="before")(classmethod(comma_list))
    _host_port = field_validator("bootstrap_servers")(classmethod(lambda cls, v: host_port(v)))


class Granularity(str, Enum):
    """How fine the indexed documents are; coarser levels are always indexed too."""

    PARTITION = "partition"  # group+topic+partition, group+topic, group
    TOPIC = "topic"  # group+topic, group
    GROUP = "group"  # group only


class Scrape(Strict):
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
    history_points: Annotated[int, Field(ge=2, le=10_000)] = 64
    # Ask the broker (ListOffsets by timestamp) when our own history cannot place a committed offset.
    broker_probes: bool = True
    probe_ages_s: tuple[Annotated[float, Field(gt=0)], ...] = DEFAULT_PROBE_AGES_S

    _split = field_validator("probe_ages_s", mode="before")(classmethod(comma_list))


class RecordsPerMessage(Strict):
    """Producers that batch N items into one record: lag is also reported in items (lag x N)."""

    topic: str  # regex, whole name
    items: Annotated[int, Field(ge=1)]

    _check = field_validator("topic")(classmethod(lambda cls, v: compile_all((v,))[0]))
