"""What lagwatch's principal may do on one cluster (`lagwatch check-access`): one real scrape, exactly what the
daemon asks, then the operations Kafka says the principal is allowed on the groups it sees and on the topics
they read (Metadata and describe requests carry `authorized operations`, KIP-430).

Missing: every authorization error of the scrape, with its grant (exporter/kafka/access.py). Granted beyond
what lagwatch uses (Read, Write, ...): listed, so a role can be cut to least privilege.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from exporter import logs
from exporter.kafka import access
from exporter.kafka.collector import Collector
from exporter.kafka.protocol import describe_groups
from exporter.kafka.protocol.describe_configs import DescribeTopicConfigs
from exporter.kafka.protocol.describe_groups import DescribeGroups
from exporter.kafka.protocol.metadata import Metadata

# Kafka's ACL operation codes (AclOperation), as kafka-acls names them.
OPERATIONS = {2: "All", 3: "Read", 4: "Write", 5: "Create", 6: "Delete", 7: "Alter", 8: "Describe",
              9: "ClusterAction", 10: "DescribeConfigs", 11: "AlterConfigs", 12: "IdempotentWrite",
              13: "CreateTokens", 14: "DescribeTokens"}
NEEDED = {"group": ("Describe",), "topic": ("Describe", "DescribeConfigs")}
_NOT_ASKED = -2147483648  # INT32_MIN: the broker did not say


@dataclass(frozen=True)
class Access:
    """One resource: what lagwatch needs there, granted or missing, and what else the principal may do."""

    kind: str  # "group", "topic", "cluster"
    name: str
    granted: tuple[str, ...]  # of what lagwatch needs
    missing: tuple[str, ...] = ()
    grants: tuple[str, ...] = ()  # the kafka-acls commands for what is missing
    more: tuple[str, ...] = ()  # allowed beyond what lagwatch uses
    unknown: tuple[str, ...] = ()  # of what lagwatch needs, neither granted nor denied as far as the broker said


@dataclass(frozen=True)
class ClusterAccess:
    cluster: str
    principal: str
    authorizer: bool | None  # None: not known (the cluster could not be read)
    resources: tuple[Access, ...] = ()
    error: str | None = None  # the cluster could not be read at all

    @property
    def missing(self) -> int:
        return sum(len(r.missing) for r in self.resources) + (1 if self.error else 0)


def operations(bits: int | set[int] | None) -> set[str] | None:
    """Kafka's authorized operations as names: the wire's bit field (bit n: operation n), or the set of codes
    kafka-python decodes it to; None where the broker did not say."""
    if bits is None or bits == _NOT_ASKED:
        return None
    codes = bits if isinstance(bits, (set, frozenset)) else {c for c in OPERATIONS if bits & (1 << c)}
    return {OPERATIONS[c] for c in codes if c in OPERATIONS}


def check(collector: Collector) -> ClusterAccess:
    try:
        snapshot = collector.collect()
        authorizer = collector.unreadable.authorizer()
    except Exception as exc:  # noqa: BLE001 - unreachable, refused login, too old: said, not raised
        return ClusterAccess(collector.cluster, collector.principal, None, error=logs.failure_text(exc))
    missing: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)  # (kind, name) -> {operation: grant}
    for error in snapshot.errors:
        if error.grant:
            operation = re.search(r"--operation (\w+)", error.grant)
            missing[(error.scope, error.name)][operation.group(1) if operation else "Describe"] = error.grant
    group_ops = _group_operations(collector, snapshot.groups)
    topic_ops = _topic_operations(collector, sorted({tp[0] for tp in snapshot.partitions}))
    # The scrape asks DescribeConfigs only for topics it may describe: for the others it is asked here.
    unseen = sorted(n for k, n in missing if k == "topic" and "Describe" in missing[(k, n)])
    unknown = _configs_of_unseen(collector, unseen, missing)
    found = []
    for kind, allowed in (("group", group_ops), ("topic", topic_ops)):
        for name in sorted(allowed.keys() | {n for k, n in missing if k == kind}):
            lacking = missing.get((kind, name), {})
            ops = allowed.get(name)
            granted = tuple(op for op in NEEDED[kind] if op not in lacking and (kind, name, op) not in unknown)
            more = tuple(sorted(ops - set(NEEDED[kind]))) if ops is not None and authorizer else ()
            found.append(Access(kind, name, granted, tuple(lacking), tuple(lacking.values()), more,
                                tuple(op for k, n, op in unknown if (k, n) == (kind, name))))
    for (kind, name), lacking in missing.items():
        if kind not in NEEDED:  # "no group visible" (cluster scope)
            found.append(Access(kind, name, (), tuple(lacking), tuple(lacking.values())))
    return ClusterAccess(collector.cluster, collector.principal, authorizer, tuple(found))


def _group_operations(collector: Collector, groups) -> dict[str, set[str] | None]:
    calls = defaultdict(list)
    for group in groups:
        if group.coordinator is not None and group.group_type != "share":
            calls[(group.coordinator, describe_groups.api_for(group.group_type))].append(group.group)
    found: dict[str, set[str] | None] = {g.group: None for g in groups}
    requests = [(DescribeGroups(names, api, operations=True), node) for (node, api), names in calls.items()]
    for answer in collector.client.send_all(requests):
        if not isinstance(answer, BaseException):
            found.update((row.group_id, operations(row.operations)) for row in answer if not row.error_code)
    return found


def _configs_of_unseen(collector: Collector, topics: list[str],
                       missing: dict[tuple[str, str], dict[str, str]]) -> set[tuple[str, str, str]]:
    """Ask DescribeConfigs for the topics the principal may not describe: a denial joins `missing`; what the
    broker did not answer is returned as unknown ((kind, name, operation)), never shown granted."""
    if not topics:
        return set()
    try:
        answer = collector.client.send_any(DescribeTopicConfigs(tuple(topics)))
    except Exception:  # noqa: BLE001 - not known: said so
        return {("topic", topic, "DescribeConfigs") for topic in topics}
    unknown = set()
    for topic in topics:
        code = answer.errors.get(topic)
        if code is not None and access.is_denial(code):
            missing[("topic", topic)]["DescribeConfigs"] = access.grant(
                collector.principal, "DescribeConfigs", "topic", topic)
        elif code is not None or topic not in answer.configs:
            unknown.add(("topic", topic, "DescribeConfigs"))
    return unknown


def _topic_operations(collector: Collector, topics: list[str]) -> dict[str, set[str] | None]:
    if not topics:
        return {}
    try:
        answer = collector.client.send_any(Metadata(names=tuple(topics), operations=True))
    except Exception:  # noqa: BLE001 - what the scrape read stands; the extras are not known
        return {t: None for t in topics}
    return {t: operations(answer.topic_operations.get(t)) for t in topics if t in answer.topics}


def no_authorizer_note(result: ClusterAccess) -> str | None:
    if result.authorizer is False:
        return "no authorizer on this cluster: every operation is allowed (nothing to grant)"
    return None

