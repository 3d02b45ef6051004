"""The coordination topic at start-up: it must exist and be compacted; lagwatch creates it only when allowed.

Its partition count is the number of shards S. Compaction keeps the latest alert state record of each group
(records.py) and drops the rest, so reading a partition back stays short.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import TopicAlreadyExistsError

from exporter.config import Cluster, CoordinationConfig, SecurityProtocol

# Created topics roll a segment every hour: only closed segments are compacted.
CREATED_CONFIGS = {"cleanup.policy": "compact", "segment.ms": "3600000"}


class CoordinationSetupError(Exception):
    """The topic is missing or unfit; the message says which command fixes it (the CLI exits 2)."""


@dataclass(frozen=True)
class TopicFacts:
    partitions: int
    cleanup_policy: str


def _tool(name: str, connection: Cluster) -> str:
    servers = connection.bootstrap_servers[0]
    config = "" if connection.security.protocol == SecurityProtocol.PLAINTEXT else " --command-config client.properties"
    return f"{name} --bootstrap-server {servers}{config}"


def create_command(settings: CoordinationConfig, connection: Cluster) -> str:
    replication = f" --replication-factor {settings.replication_factor}" if settings.replication_factor else ""
    configs = "".join(f" --config {k}={v}" for k, v in CREATED_CONFIGS.items())
    return (
        f"{_tool('kafka-topics.sh', connection)} --create --topic {settings.topic} "
        f"--partitions {settings.partitions}{replication}{configs}"
    )


def compact_command(settings: CoordinationConfig, connection: Cluster) -> str:
    return (
        f"{_tool('kafka-configs.sh', connection)} --alter --entity-type topics --entity-name {settings.topic} "
        "--add-config cleanup.policy=compact"
    )


def where(settings: CoordinationConfig, connection: Cluster) -> str:
    if settings.cluster is not None:
        return f"cluster {settings.cluster}"
    return ", ".join(connection.bootstrap_servers)


def describe(admin, topic: str) -> TopicFacts | None:
    """The topic's partition count and cleanup.policy, None when it does not exist."""
    [found] = admin.describe_topics([topic])
    if found.get("error_code") == 3:  # UNKNOWN_TOPIC_OR_PARTITION
        return None
    if found.get("error_code"):
        raise RuntimeError(f"describing topic {topic}: error code {found['error_code']}")
    configs = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, {"cleanup.policy": None})], config_filter="all"
    )
    policy = configs.get("topic", {}).get(topic, {}).get("cleanup.policy", {}).get("value") or "delete"
    return TopicFacts(len(found["partitions"]), policy)


def prepare(admin, settings: CoordinationConfig, connection: Cluster) -> TopicFacts:
    """Check (and with create_topic, create) the topic on the coordination cluster; the facts, or
    CoordinationSetupError naming the fix."""
    facts = describe(admin, settings.topic)
    if facts is None:
        if not settings.create_topic:
            raise CoordinationSetupError(
                f"coordination.topic {settings.topic!r} does not exist on {where(settings, connection)}; "
                f"create it with: {create_command(settings, connection)} "
                "(or set coordination.create_topic: true to let lagwatch create it)"
            )
        topic = {"num_partitions": settings.partitions, "configs": dict(CREATED_CONFIGS)}
        if settings.replication_factor:
            topic["replication_factor"] = settings.replication_factor
        try:
            admin.create_topics({settings.topic: topic}, wait_for_metadata=True)
        except TopicAlreadyExistsError:
            pass  # another replica created it first
        facts = describe(admin, settings.topic)
        if facts is None:
            raise CoordinationSetupError(f"coordination.topic {settings.topic!r} was created but cannot be described")
    if "compact" not in facts.cleanup_policy.split(","):
        raise CoordinationSetupError(
            f"coordination.topic {settings.topic!r} on {where(settings, connection)} has "
            f"cleanup.policy={facts.cleanup_policy}: lagwatch keeps each group's alert state there and needs "
            f"compaction so that old state is never deleted; fix it with: {compact_command(settings, connection)}"
        )
    return facts
