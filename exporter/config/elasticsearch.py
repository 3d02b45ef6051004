"""Where the documents go: the Elasticsearch section or the OpenSearch section (one store), the on-disk spool in
front of it, and Kibana (where `lagwatch setup` imports the dashboards). Each section validates itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator

from exporter.config import paths
from exporter.config.base import Strict, comma_list, one_auth


class StoreConfig(Strict):
    """What the Elasticsearch and OpenSearch sections share: where the store is and how lagwatch writes to it."""

    section: ClassVar[str]  # the config section, named in errors about this store
    product: ClassVar[str]

    hosts: Annotated[tuple[AnyHttpUrl, ...], Field(min_length=1, description=(
        "The store's URLs; a list, or one comma-separated string. A password in a URL is a secret."
    ))] = (AnyHttpUrl("http://127.0.0.1:9200"),)
    username: str | None = Field(None, description="Basic auth user, with `password`.")
    password: SecretStr | None = Field(None, description="Basic auth password.")
    ca_certs: Path | None = Field(None, description="PEM file of the CA that signed an HTTPS endpoint's "
                                  "certificate; unset: the system's trusted CAs.")
    verify_certs: bool = Field(True, description="Verify the server's certificate; `false` is for experiments only.")
    index_prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description=(
        "Lag documents go to `<index_prefix>-lag`, alert transitions to `<index_prefix>-alerts` "
        "(aliases over daily indices, or data streams)."))] = "lagwatch"
    retention_days: Annotated[int, Field(ge=1, description=(
        "Daily indices older than this are deleted; a data stream's lifecycle keeps this many days."))] = 30
    maintenance_interval_s: Annotated[float, Field(ge=1, description=(
        "How often retention is enforced (old daily indices deleted)."))] = 3600.0
    bulk_chunk: Annotated[int, Field(ge=1, le=50_000, description="Documents per `_bulk` request.")] = 1000
    request_timeout_s: Annotated[float, Field(gt=0, description="Per request to the store.")] = 30.0

    _split = field_validator("hosts", mode="before")(classmethod(comma_list))
    _one_auth = model_validator(mode="after")(one_auth)


class ElasticsearchConfig(StoreConfig):
    """Where the lag and alert documents are indexed."""

    section = "elasticsearch"
    product = "Elasticsearch"

    api_key: SecretStr | None = Field(None, description="API key, base64 `id:key` (the `encoded` value "
                                      "`POST /_security/api_key` returns); not with `username`.")
    storage: Literal["auto", "data_stream", "daily_indices"] = Field("auto", description=(
        "`daily_indices`: `<prefix>-lag-YYYY.MM.DD` behind an alias, works on every Elasticsearch; "
        "`data_stream`: a data stream with a lifecycle; `auto`: a data stream where the server has them."))


class OpenSearchConfig(StoreConfig):
    """OpenSearch instead of Elasticsearch (docs/opensearch.md): the same options, less what OpenSearch lacks."""

    section = "opensearch"
    product = "OpenSearch"

    storage: Literal["auto", "daily_indices"] = Field("auto", description=(
        "Always daily indices `<prefix>-lag-YYYY.MM.DD` behind an alias, deleted by lagwatch after "
        "`retention_days` (`auto` means the same): OpenSearch's data streams have no lifecycle without ISM."))

    @model_validator(mode="before")
    @classmethod
    def _no_api_key(cls, value: Any) -> Any:
        if isinstance(value, dict) and value.get("api_key") is not None:
            raise ValueError("api_key: OpenSearch has no API keys: use username and password (or password_file)")
        return value

    @field_validator("storage", mode="before")
    @classmethod
    def _no_data_stream(cls, value: Any) -> Any:
        if value == "data_stream":
            raise ValueError("OpenSearch data streams have no lifecycle lagwatch can set (retention needs the ISM "
                             "plugin): use daily_indices, which lagwatch deletes after retention_days itself")
        return value


class KibanaConfig(Strict):
    """Where `lagwatch setup` imports the dashboards and creates the alerting rule; unset url: skipped."""

    url: AnyHttpUrl | None = Field(None, description="Kibana's URL; unset: `lagwatch setup` installs only the "
                                   "Elasticsearch index templates.")
    space: Annotated[str, Field(pattern=r"^[a-z0-9_-]+$", description=(
        "Kibana space to import into; `default` is the default space (no `/s/<space>` in the API path)."
    ))] = "default"
    username: str | None = Field(None, description="Basic auth user, with `password` (not with `api_key`).")
    password: SecretStr | None = Field(None, description="Basic auth password.")
    api_key: SecretStr | None = Field(None, description="API key, base64 `id:key`; not with `username`.")
    ca_certs: Path | None = Field(None, description="PEM file of the CA that signed Kibana's certificate.")
    verify_certs: bool = Field(True, description="Verify Kibana's certificate; `false` is for experiments only.")
    request_timeout_s: Annotated[float, Field(gt=0, description="Per Kibana request.")] = 30.0
    rule: bool = Field(True, description="Create or update the Elasticsearch query rule `lagwatch-time-lag` "
                       "(kibana/lagwatch-rule.json): one alert per group above `rule_time_lag_s`.")
    rule_time_lag_s: Annotated[float, Field(gt=0, description=(
        "The rule alerts on a group whose time lag reaches this many seconds."))] = 300.0
    rule_interval: Annotated[str, Field(pattern=r"^[1-9][0-9]*[smhd]$", description=(
        "How often Kibana checks the rule (`s`, `m`, `h` or `d`)."))] = "1m"

    _one_auth = model_validator(mode="after")(one_auth)


class DeliveryConfig(Strict):
    """Between a scrape and Elasticsearch: each scrape's documents, already encoded as `_bulk` bytes, wait in
    memory for the delivery worker (docs/operations.md "Outages", docs/performance.md)."""

    queue_max_bytes: Annotated[int, Field(ge=1024 * 1024, description=(
        "The delivery queue's cap, in bytes of encoded documents (about 1.2 KB per partition document): a "
        "batch that would grow it past this goes straight to the spool (`delivery_queue_full`) instead of "
        "waiting. The default holds one scrape of about 55,000 documents."))] = 64 * 1024 * 1024


class SpoolConfig(Strict):
    """Documents Elasticsearch cannot take wait on disk and are replayed, oldest first (docs/operations.md "Outages")."""

    # The default is worked out in exporter/config/paths.py.
    dir: Path | None = Field(None, description=(
        "Spool directory; unset: `$LAGWATCH_STATE_DIR/spool`, else `$XDG_STATE_HOME/lagwatch/spool` "
        "(`~/.local/state/lagwatch/spool`). Two processes must not share one."))
    max_bytes: Annotated[int, Field(ge=1024, description=(
        "The spool's cap: only when it would grow past this are the oldest documents dropped (counted and "
        "logged as `spool_dropped`)."))] = 512 * 1024 * 1024
    replay_documents: Annotated[int, Field(ge=1, description=(
        "Spooled documents re-sent per successful delivery, so a long backlog never stalls scraping."))] = 20_000

    @property
    def path(self) -> Path:
        return self.dir.expanduser() if self.dir is not None else paths.spool_dir()
