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
from exporter.config.elasticsearch import ElasticsearchConfig, KibanaConfig, SpoolConfig
from exporter.config.kafka import Cluster, NameFilter, RecordsPerMessage, Scrape, TimeLagConfig


class LogConfig(Strict):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = "json"


class HttpConfig(Strict):
    """/healthz, /readyz and /metrics (Prometheus text format)."""

    enabled: bool = True
    host: str = "0.0.0.0"
    # 0 picks a free port (logged in `http_started`): for tests and ad-hoc runs.
    port: Annotated[int, Field(ge=0, le=65535)] = 9308


class Config(Strict):
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

    def across_sections(self) -> list[tuple[str, str]]:
        """Checks that need two sections, each reported at the field to change."""
        problems = []
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
