"""Where the documents go: the Elasticsearch section, the on-disk spool in front of it, and Kibana (where
`lagwatch setup` imports the dashboards). Each section validates itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator

from exporter.config import paths
from exporter.config.base import Strict, comma_list, one_auth


class ElasticsearchConfig(Strict):
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

    _split = field_validator("hosts", mode="before")(classmethod(comma_list))
    _one_auth = model_validator(mode="after")(one_auth)


class KibanaConfig(Strict):
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

    _one_auth = model_validator(mode="after")(one_auth)


class SpoolConfig(Strict):
    """Documents Elasticsearch cannot take wait on disk and are replayed, oldest first (README "Operations")."""

    # Unset: <state dir>/spool (exporter/config/paths.py: $LAGWATCH_STATE_DIR, else $XDG_STATE_HOME/lagwatch).
    dir: Path | None = None
    # Oldest documents are dropped (and counted) only when the spool would grow past this.
    max_bytes: Annotated[int, Field(ge=1024)] = 512 * 1024 * 1024
    # Spooled documents re-sent per successful delivery, so a long backlog never stalls scraping.
    replay_documents: Annotated[int, Field(ge=1)] = 20_000

    @property
    def path(self) -> Path:
        return self.dir.expanduser() if self.dir is not None else paths.spool_dir()
