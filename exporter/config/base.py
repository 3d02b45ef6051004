"""What every config section is built from: a strict frozen model and the validators several sections share."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A section: unknown options are errors, values are frozen, strings are stripped."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def compile_all(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for index, pattern in enumerate(patterns):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"item {index}: invalid regular expression {pattern!r}: {exc}") from None
    return patterns


def comma_list(cls, value: Any) -> Any:
    """A comma-separated string (as an environment variable gives it) becomes the tuple of its parts."""
    return tuple(s.strip() for s in value.split(",") if s.strip()) if isinstance(value, str) else value


def host_port(servers: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Every server is host:port with a port in 1..65535."""
    for server in servers or ():
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{server!r} is not host:port")
    return servers


def one_auth(section: Any) -> Any:
    """An HTTP client section (Elasticsearch, OpenSearch, Kibana): an API key or a username and password, not both."""
    if getattr(section, "api_key", None) is not None and (section.username or section.password is not None):
        raise ValueError("use either api_key or username/password, not both")
    if (section.username is None) != (section.password is None):
        raise ValueError("username and password go together")
    return section
