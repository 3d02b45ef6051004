"""The one typed configuration, section by section: each section is a frozen model that validates itself
(exporter/config/kafka.py, elasticsearch.py, alerts.py, coordination.py); `Config` holds them and checks
what needs two sections at once. Secrets are SecretStr: they print as '**********'."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from exporter.config.alerts import AlertsConfig
from exporter.config.base import Strict
from exporter.config.coordination import CoordinationConfig
from exporter.config.elasticsearch import (
    DeliveryConfig, ElasticsearchConfig, KibanaConfig, OpenSearchConfig, SpoolConfig, StoreConfig,
)
from exporter.config.kafka import Cluster, NameFilter, RecordsPerMessage, Scrape, TimeLagConfig


class LogConfig(Strict):
    """The log on stderr."""

    level: Literal["debug", "info", "warning", "error"] = Field("info", description=(
        "Least severe level logged; `debug` also lets kafka-python's per-connection warnings through."))
    format: Literal["json", "console"] = Field("json", description=(
        "`json`: every line one JSON object (the libraries' lines and tracebacks too); `console`: for people."))


class HttpConfig(Strict):
    """/healthz, /readyz and /metrics (Prometheus text format)."""

    enabled: bool = Field(True, description="Serve the health and metrics endpoints.")
    host: str = Field("0.0.0.0", description="Address to listen on.")
    port: Annotated[int, Field(ge=0, le=65535, description=(
        "Port to listen on; 0 picks a free one (logged in `http_started`). 9308 is also kafka_exporter's "
        "customary port."))] = 9308


class Config(Strict):
    """The whole configuration: a YAML file (`-c FILE`) with `LAGWATCH_*` variables over it."""

    clusters: Annotated[tuple[Cluster, ...], Field(min_length=1, description="The Kafka clusters to watch "
                                                   "(at least one).")]
    groups: NameFilter = Field(NameFilter(deny=(r"lagwatch.*",)), description=(
        "Which consumer groups to report (regexes on the whole group id)."))
    topics: NameFilter = Field(NameFilter(deny=(r"__.*",)), description=(
        "Which topics to report (regexes on the whole name); internal topics are left out by default."))
    scrape: Scrape = Field(Scrape(), description="Scrape interval, timeout, granularity and sharding.")
    time_lag: TimeLagConfig = Field(TimeLagConfig(), description="How lag in seconds is measured.")
    records_per_message: tuple[RecordsPerMessage, ...] = Field((), description=(
        "Producers that pack several items into one record: lag is then also reported in items."))
    elasticsearch: ElasticsearchConfig = Field(ElasticsearchConfig(), description="Where documents are indexed.")
    opensearch: OpenSearchConfig | None = Field(None, description=(
        "OpenSearch instead of Elasticsearch (docs/opensearch.md): one store, so never both sections."))
    kibana: KibanaConfig = Field(KibanaConfig(), description="Where `lagwatch setup` imports the dashboards.")
    log: LogConfig = Field(LogConfig(), description="The log's level and format.")
    delivery: DeliveryConfig = Field(DeliveryConfig(), description="The in-memory queue between a scrape and "
                                     "the store.")
    spool: SpoolConfig = Field(SpoolConfig(), description="The on-disk spool for documents the store cannot "
                               "take.")
    http: HttpConfig = Field(HttpConfig(), description="The health and metrics endpoints.")
    alerts: AlertsConfig = Field(AlertsConfig(), description="Statuses, alert rules and notifiers.")
    coordination: CoordinationConfig | None = Field(None, description=(
        "Replicas sharing the groups through a Kafka group of lagwatch's own; off unless set."))

    @field_validator("clusters")
    @classmethod
    def _unique_names(cls, value: tuple[Cluster, ...]) -> tuple[Cluster, ...]:
        names = [c.name for c in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"cluster names must be unique; repeated: {', '.join(duplicates)}")
        return value

    @property
    def store(self) -> StoreConfig:
        """Where the documents go: the opensearch section when given, otherwise the elasticsearch one."""
        return self.opensearch if self.opensearch is not None else self.elasticsearch

    def items_per_record(self, topic: str) -> int:
        for rule in self.records_per_message:
            if re.fullmatch(rule.topic, topic, re.DOTALL):
                return rule.items
        return 1

    def across_sections(self) -> list[tuple[str, str]]:
        """Checks that need two sections, each reported at the field to change."""
        problems = []
        if self.opensearch is not None and "elasticsearch" in self.model_fields_set:
            problems.append(("opensearch", "set either elasticsearch or opensearch, not both: lagwatch writes to "
                                           "one store (LAGWATCH_ELASTICSEARCH__* variables count as setting it)"))
        if self.opensearch is not None and self.kibana.url is not None:
            problems.append(("kibana.url", "Kibana cannot read OpenSearch: unset kibana.url and import "
                                           "kibana/opensearch-dashboards/ into OpenSearch Dashboards (docs/opensearch.md)"))
        coordination = self.coordination
        if coordination is not None:
            names = [c.name for c in self.clusters]
            if coordination.cluster is not None and coordination.cluster not in names:
                problems.append(("coordination.cluster", f"no cluster named {coordination.cluster!r} in clusters "
                                                         f"(there are: {', '.join(names)})"))
            if self.scrape.shard is not None:
                problems.append(("coordination", "cannot be combined with scrape.shard (--shard): use static "
                                                 "shards or coordination, not both"))
        return problems
