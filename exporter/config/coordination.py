"""The coordination section: replicas that share the groups through a consumer group of lagwatch's own."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from exporter.config.base import Strict, comma_list, host_port
from exporter.config.kafka import Cluster, KafkaSecurity

_TOPIC_NAME = Annotated[str, Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")]


class CoordinationConfig(Strict):
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

    _split = field_validator("bootstrap_servers", mode="before")(classmethod(comma_list))
    _host_port = field_validator("bootstrap_servers")(classmethod(lambda cls, v: host_port(v)))

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
