"""The coordination section: replicas that share the groups through a consumer group of lagwatch's own."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from exporter.config.base import Strict, comma_list, host_port
from exporter.config.kafka import Cluster, KafkaSecurity

_TOPIC_NAME = Annotated[str, Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")]


class CoordinationConfig(Strict):
    """Replicas that share the groups through a consumer group of lagwatch's own (docs/operations.md
    "Running several replicas"). The only group lagwatch ever joins; off unless this section is set."""

    cluster: str | None = Field(None, description=(
        "Coordinate on this cluster of `clusters` (its servers and security); or set `bootstrap_servers`."))
    bootstrap_servers: tuple[str, ...] | None = Field(None, description=(
        "A coordination cluster of its own, `host:port` each (instead of `cluster`)."))
    security: KafkaSecurity = Field(KafkaSecurity(), description="With `bootstrap_servers`: as for clusters.")
    client_id: str = Field("lagwatch-coordination", description="The Kafka client id of the member.")
    request_timeout_s: Annotated[float, Field(gt=0, le=300, description="Per Kafka request.")] = 10.0
    topic: _TOPIC_NAME = Field("lagwatch-coordination", description=(
        "Its partitions are the shards; compacted, it also keeps each group's alert state."))
    group_id: Annotated[str, Field(min_length=1, max_length=249, description=(
        "lagwatch's own consumer group: the only group it ever joins; it never commits there."
    ))] = "lagwatch-coordination"
    create_topic: bool = Field(False, description=(
        "Create the topic (compacted) on the coordination cluster if missing; otherwise a missing topic "
        "stops the start with the command that creates it."))
    partitions: Annotated[int, Field(ge=1, le=10_000, description=(
        "Shards, when lagwatch creates the topic; pick it for the largest fleet (12 splits evenly)."))] = 12
    replication_factor: Annotated[int, Field(ge=1, le=32)] | None = Field(None, description=(
        "When lagwatch creates the topic; unset: the broker's default."))
    session_timeout_s: Annotated[float, Field(ge=1, le=1800, description=(
        "A process that dies loses its shards to the others after this long; within the broker's "
        "group.min/max.session.timeout.ms (6 s .. 30 min by default)."))] = 30.0
    heartbeat_interval_s: Annotated[float, Field(gt=0, le=600)] | None = Field(None, description=(
        "At most a third of `session_timeout_s`; unset: a tenth of it, at most 3 s."))
    report_group: bool = Field(False, description="Report lagwatch's own coordination group like any other.")

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

    @property
    def rebalance_timeout_s(self) -> float:
        """How long the broker waits in a rebalance for every member to join again (a member that does not is
        removed). Replicas rejoin within a heartbeat or two; the rest covers a revoked shard's final write."""
        return max(self.session_timeout_s, 30.0)

    def connection(self, clusters: tuple[Cluster, ...]) -> Cluster:
        """The cluster to coordinate on, as a Cluster (servers, security, client id, timeout)."""
        if self.cluster is not None:
            named = next(c for c in clusters if c.name == self.cluster)
            return named.model_copy(update={"client_id": self.client_id})
        return Cluster(
            name="coordination", bootstrap_servers=self.bootstrap_servers, client_id=self.client_id,
            security=self.security, request_timeout_s=self.request_timeout_s,
        )
