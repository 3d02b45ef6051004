"""The groups of tests/integration/test_authorizer.py, built on the authorizer broker as applications build
them (over the super-user PLAINTEXT listener), each with the ACLs its case grants lagwatch's principal.

Every scenario commits known offsets first (join-free, as a stopped application leaves them), then, where
the case has one, a live member joins without committing anything more: the lag stays what the test says
while the member owns its partitions.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field

from kafka import KafkaConsumer, TopicPartition

from tests.harness import JavaConsumer, KafkaDriver, consumer_group_command, unique, wait_for
from tests.security.authorizer import USER, AuthorizerKafka

def watched(group: str, *topics: str) -> list[tuple[str, str, str]]:
    """What lagwatch's principal is granted on what it watches: Describe on the group and its topics,
    DescribeConfigs on the topics (docs/access.md)."""
    grants = [("group", group, "describe")]
    for topic in topics:
        grants += [("topic", topic, "describe"), ("topic", topic, "describe_configs")]
    return grants


@dataclass
class Scenario:
    group: str
    granted: str  # the topic the principal may describe
    denied: str | None  # a topic of the group it may not (None: everything granted)
    member: object = None  # a live member, stopped by close()
    extra: list = field(default_factory=list)

    @property
    def groups(self) -> set[str]:
        return {self.group}

    def close(self) -> None:
        if isinstance(self.member, JavaConsumer):
            self.member.stop()
        elif self.member is not None:
            self.member.close(autocommit=False)


def _topics(driver: KafkaDriver, kind: str) -> tuple[str, str]:
    granted = driver.create_topic(unique(f"{kind}-granted"), partitions=2)
    denied = driver.create_topic(unique(f"{kind}-denied"), partitions=2)
    driver.produce(granted, {0: 60, 1: 40})
    driver.produce(denied, {0: 90, 1: 80})
    return granted, denied


# Committed offsets: granted topic 30 + 10 behind, denied topic 50 + 30 behind (truth 120, granted part 40).
def _commit(driver: KafkaDriver, group: str, granted: str, denied: str) -> None:
    driver.commit(group, {TopicPartition(granted, 0): 30, TopicPartition(granted, 1): 30,
                          TopicPartition(denied, 0): 40, TopicPartition(denied, 1): 50})


TRUTH_LAG, GRANTED_LAG = 120, 40


def _classic_member(kafka: AuthorizerKafka, group: str, *topics: str) -> KafkaConsumer:
    """A kafka-python member of `group` (the classic protocol) owning every partition of `topics`, reading
    from the committed offsets and committing nothing."""
    member = KafkaConsumer(bootstrap_servers=kafka.bootstrap, group_id=group, enable_auto_commit=False,
                           client_id=f"{group}-client", auto_offset_reset="earliest")
    member.subscribe(list(topics))

    def assigned() -> int:
        member.poll(timeout_ms=500)
        return len(member.assignment()) == 2 * len(topics)

    try:
        wait_for(assigned, timeout=90, interval=0.1, what=f"the classic member of {group} to be assigned {topics}")
    except BaseException:
        member.close(autocommit=False)
        raise
    return member


def _owned(kafka: AuthorizerKafka, group: str, partitions: int) -> None:
    def settled():
        rows = {k: v for k, v in consumer_group_command(kafka.bootstrap, groups=[group]).items() if k[0] == group}
        return len(rows) == partitions and all(v["consumer_id"] for v in rows.values())

    wait_for(settled, timeout=90, interval=1, what=f"the live member of {group} owning {partitions} partitions")


def classic_with_live_member(kafka: AuthorizerKafka, driver: KafkaDriver) -> Scenario:
    """A classic group whose live member is assigned a topic the principal may not describe."""
    granted, denied = _topics(driver, "classic")
    group = unique("acl-classic")
    _commit(driver, group, granted, denied)
    scenario = Scenario(group, granted, denied, _classic_member(kafka, group, granted, denied))
    _owned(kafka, group, 4)
    kafka.grant(*watched(group, granted))
    return scenario


def kip848_with_live_members(kafka: AuthorizerKafka, driver: KafkaDriver) -> Scenario:
    """A KIP-848 group (two Java members, one per topic) assigned a topic the principal may not describe."""
    granted, denied = _topics(driver, "kip848")
    group = unique("acl-kip848")
    _commit(driver, group, granted, denied)  # an Empty classic group: the first KIP-848 member converts it
    first = JavaConsumer(kafka.bootstrap, group, granted, protocol="consumer", auto_commit=False)
    second = JavaConsumer(kafka.bootstrap, group, denied, protocol="consumer", auto_commit=False)
    scenario = Scenario(group, granted, denied, first, extra=[second])
    try:
        _owned(kafka, group, 4)
    except BaseException:
        close_all(scenario)
        raise
    kafka.grant(*watched(group, granted))
    return scenario


def commit_only(kafka: AuthorizerKafka, driver: KafkaDriver) -> Scenario:
    """A group without members that committed on a topic the principal may not describe."""
    granted, denied = _topics(driver, "commit")
    group = unique("acl-commit")
    _commit(driver, group, granted, denied)
    kafka.grant(*watched(group, granted))
    return Scenario(group, granted, denied)


def fully_granted(kafka: AuthorizerKafka, driver: KafkaDriver) -> Scenario:
    """A classic group with a live member on two topics, every one of them granted (the README's list)."""
    granted, other = _topics(driver, "full")
    group = unique("acl-full")
    _commit(driver, group, granted, other)
    member = _classic_member(kafka, group, granted, other)
    _owned(kafka, group, 4)
    kafka.grant(*watched(group, granted, other))
    return Scenario(group, granted, None, member, extra=[other])


def configs_denied(kafka: AuthorizerKafka, driver: KafkaDriver) -> Scenario:
    """A commit-only group on one topic the principal may describe, but not its configs."""
    topic = driver.create_topic(unique("configs-denied"), partitions=1)
    driver.produce(topic, {0: 10})
    group = unique("acl-configs")
    driver.commit(group, {TopicPartition(topic, 0): 4})
    kafka.grant(("group", group, "describe"), ("topic", topic, "describe"))
    return Scenario(group, topic, None)


def close_all(scenario: Scenario) -> None:
    scenario.close()
    for extra in scenario.extra:
        if isinstance(extra, JavaConsumer):
            extra.stop()


def tool_as(kafka: AuthorizerKafka, group: str, principal: str = USER) -> dict:
    """Kafka's own ConsumerGroupCommand for one group, run as `principal` over SCRAM (not the super user)."""
    with tempfile.NamedTemporaryFile("w", suffix=".properties", delete=False) as config:
        config.write(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{principal}" password="{kafka.passwords[principal]}";\n'
        )
    return consumer_group_command(kafka.sasl_address, groups=[group], command_config=config.name)

