"""Authorization, in Kafka's own words: which request was denied on which resource, and the `kafka-acls` grant
that fixes it (docs/access.md lists every one).

A broker with an authorizer answers lagwatch's read-only requests in two ways when the principal lacks an
ACL: an error code (TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED) on
the item, or, for "everything" requests (Metadata, ListGroups, OffsetFetch of all a group's topics), by
leaving the item out without a word. The collector turns both into ScrapeErrors built here, each with its
grant, so an operator reads what to run, not an error code.
"""

from __future__ import annotations

import shlex
from collections import defaultdict
from collections.abc import Mapping, Sequence

import msgspec

from exporter import logs
from exporter.kafka.client import Client
from exporter.kafka.protocol.describe_acls import DescribeAcls
from exporter.kafka.protocol.metadata import Metadata
from exporter.kafka.selection import Selection
from exporter.lag.model import GroupObservation, ScrapeError, TopicPartition

TOPIC_AUTHORIZATION_FAILED = 29
GROUP_AUTHORIZATION_FAILED = 30
CLUSTER_AUTHORIZATION_FAILED = 31
DENIED = {TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED}
SECURITY_DISABLED = 54

# What each resource type is called in a ScrapeError's scope, in Kafka's ACL words and in kafka-acls' flags.
_KINDS = {"topic": ("Topic", "--topic"), "group": ("Group", "--group"), "cluster": ("Cluster", "--cluster")}


def principal_of(username: str | None) -> str:
    """The principal a grant names: the SASL user, or, for TLS client certificates and anything else the
    broker maps itself (a certificate's distinguished name, say), a placeholder the operator fills in."""
    return f"User:{username}" if username else "User:PRINCIPAL"


def grant(principal: str, operation: str, kind: str, name: str) -> str:
    """The kafka-acls command that allows `operation` on one resource, e.g. `kafka-acls --add
    --allow-principal User:lagwatch --operation Describe --topic orders`."""
    flag = _KINDS[kind][1]
    target = flag if kind == "cluster" else f"{flag} {shlex.quote(name)}"
    return f"kafka-acls --add --allow-principal {shlex.quote(principal)} --operation {operation} {target}"


def denied(principal: str, request: str, operation: str, kind: str, name: str, why: str = "") -> ScrapeError:
    """`<request> on <Kind> <name> denied[ (why)]: <grant>`, scoped to the resource."""
    resource = _KINDS[kind][0] if kind == "cluster" else f"{_KINDS[kind][0]} {name}"
    command = grant(principal, operation, kind, name)
    detail = f" ({why})" if why else ""
    return ScrapeError(kind, name, f"{request} on {resource} denied{detail}: {command}", grant=command)


def denied_unnamed_topic(principal: str, request: str, group: str) -> ScrapeError:
    """A describe answered TOPIC_AUTHORIZATION_FAILED: a member of the group is assigned a topic the principal
    may not Describe, and the broker does not say which."""
    command = (f"kafka-acls --add --allow-principal {shlex.quote(principal)} --operation Describe "
               "--topic TOPIC, for each topic the group reads (or a --resource-pattern-type prefixed grant)")
    return ScrapeError("group", group, f"{request} on Group {group} denied (a member is assigned a topic "
                                       f"{principal} may not Describe; the broker does not say which): {command}",
                       grant=command)


def is_denial(code: int) -> bool:
    return code in DENIED


def no_group_visible(principal: str, cluster: str) -> ScrapeError:
    command = grant(principal, "Describe", "group", "GROUP")
    return ScrapeError(
        "cluster", cluster,
        f"ListGroups shows no consumer group to {principal}: the cluster has an authorizer, which leaves out the "
        f"groups a principal may not Describe; grant Describe on the groups to watch: {command} (or "
        "--resource-pattern-type prefixed, or --group '*')", grant=command)


class UnreadableTopics:
    """Topics a group is known to read (a member's assignment, or its offsets when last read) that the
    metadata lacks. Metadata and OffsetFetch of "everything" leave out what the principal may not Describe
    without a word, and a deleted topic is gone from both too: one explicit Metadata request for those topics
    tells which (TOPIC_AUTHORIZATION_FAILED: denied; UNKNOWN_TOPIC_OR_PARTITION: deleted). A denied one is
    unknown, never "never committed": its known partitions are reported unread, with the grant."""

    def __init__(self, client: Client, selection: Selection, principal: str):
        self.client = client
        self.selection = selection
        self.principal = principal
        self.denied: set[str] = set()  # topics found denied in the last scrape
        self._before: set[str] = set()  # the topics of the last scrape's metadata
        self._authorizer: bool | None = None

    def watch(self, topics: Mapping[str, object]) -> set[str]:
        """Topics whose earlier readers must be checked: gone from the metadata since the last scrape, or
        still denied."""
        names = topics.keys()
        watched = (self._before - names) | (self.denied - names) if self._before or self.denied else set()
        self._before = set(names)
        return watched

    def authorizer(self) -> bool:
        """Whether the cluster has an authorizer (asked once: DescribeAcls answers SECURITY_DISABLED without)."""
        if self._authorizer is None:
            try:
                code = self.client.send_any(DescribeAcls())
            except Exception:  # noqa: BLE001 - not known yet: asked again next time
                return False
            self._authorizer = code != SECURITY_DISABLED
        return self._authorizer

    def resolve(self, groups: list[GroupObservation], held: Mapping[str, Sequence[TopicPartition]],
                errors: list[ScrapeError]) -> list[GroupObservation]:
        """`groups` with the known partitions of denied (or undecidable) topics reported unread."""
        if not held:
            self.denied = set()
            return groups
        readers: dict[str, list[str]] = defaultdict(list)
        for group, tps in held.items():
            for topic in dict.fromkeys(tp[0] for tp in tps):
                readers[topic].append(group)
        why = self._why(sorted(readers), readers, errors)
        self.denied = {topic for topic, (denial, _) in why.items() if denial}
        changed = []
        for observation in groups:
            tps = held.get(observation.group)
            unread = [tp for tp in tps if tp[0] in why] if tps else None
            if not unread:
                changed.append(observation)
                continue
            reasons = "; ".join(dict.fromkeys(why[tp[0]][1] for tp in unread))
            changed.append(msgspec.structs.replace(
                observation, committed_unread=tuple(sorted({*observation.committed_unread, *unread})),
                error=observation.error or reasons,
            ))
        return changed

    def _why(self, topics: list[str], readers: Mapping[str, list[str]],
             errors: list[ScrapeError]) -> dict[str, tuple[bool, str]]:
        """{topic: (denied, why its partitions are unknown)} for the topics not deleted."""
        try:
            answer = self.client.send_any(Metadata(self.selection.topic, tuple(topics)))
        except Exception as exc:  # noqa: BLE001 - undecided: unknown, never "never committed"
            text = f"Metadata for topics {', '.join(topics)} failed ({logs.failure_text(exc)}): deleted or denied?"
            errors.append(ScrapeError("cluster", "metadata", text))
            return {topic: (False, text) for topic in topics}
        found: dict[str, tuple[bool, str]] = {}
        for topic in topics:
            problem = answer.topic_errors.get(topic)
            if problem == "TopicAuthorizationFailedError":
                groups = readers[topic]
                who = ", ".join(groups[:3]) + (f" and {len(groups) - 3} more" if len(groups) > 3 else "")
                error = denied(self.principal, "Metadata", "Describe", "topic", topic,
                               why=f"group{'s' if len(groups) > 1 else ''} {who} read{'' if len(groups) > 1 else 's'} it")
                errors.append(error)
                found[topic] = (True, error.message)
            elif problem == "UnknownTopicOrPartitionError":
                continue  # deleted: its commits are history, not lag
            elif topic in answer.topics:  # created (or granted) during this scrape: read from the next one
                found[topic] = (False, f"topic {topic} appeared during the scrape: read from the next one")
            else:
                found[topic] = (False, f"topic {topic}: {problem or 'not in the metadata'}")
        return found
