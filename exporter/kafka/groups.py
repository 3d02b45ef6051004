"""The group half of a scrape: which groups exist (ListGroups on every broker), who coordinates them (a cache
in front of FindCoordinator), their members (the describe API of their type) and what they committed
(OffsetFetch, or DescribeShareGroupOffsets for share groups), all on decoded plain data.

Partial-failure policy: a group is never dropped because a broker failed. A broker that does not list its
groups keeps the groups it listed last time (with its error); a group whose coordinator or offsets could
not be read is reported with the error, its lag unknown on the partitions it had committed to when last read.
"""

from __future__ import annotations

import collections
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from exporter.kafka import access
from exporter.kafka.client import ANY_BROKER, Client
from exporter.kafka.protocol import describe_groups
from exporter.kafka.protocol.describe_groups import DescribedGroup, DescribeGroups
from exporter.kafka.protocol import find_coordinator, offset_fetch
from exporter.kafka.protocol.find_coordinator import FindCoordinators
from exporter.kafka.protocol.list_groups import ListGroups, Listing
from exporter.kafka.protocol.offset_fetch import GROUP_ID_NOT_FOUND, FetchOffsets
from exporter.kafka.selection import Selection
from exporter.kafka.wire import broker_hint, error_name
from exporter.lag.model import NOTHING, GroupObservation, Member, ScrapeError, TopicPartition

# Group protocol types that carry consumer offsets: classic consumers, and commit-only clients (Flink,
# Spark, manual assign) whose groups have no protocol type at all.
# share: KIP-932 share groups (their own offsets API); streams: KIP-1071 streams groups (committed offsets).
CONSUMER_PROTOCOLS = {"consumer", "", "share", "streams"}
# States in which a group has no members: nothing to describe.
MEMBERLESS_STATES = {"Empty", "Dead"}
# Group-level errors after which the coordinator must be looked up again: COORDINATOR_LOAD_IN_PROGRESS,
# COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR.
COORDINATOR_MOVED = {14, 15, 16}


def chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _partitions(last: Mapping[TopicPartition, int] | tuple[Mapping[TopicPartition, int], Sequence[TopicPartition]]
                | None) -> tuple[TopicPartition, ...]:
    """The sorted partitions a group had committed to (or failed to read) when last read; () if never."""
    if last is None:
        return ()
    got, bad = last if isinstance(last, tuple) else (last, ())
    return tuple(sorted(set(got).union(bad)))


def group_problem(principal: str, group: str, request: str, code: int) -> str | ScrapeError:
    """What a group-level error code says: an authorization error as the grant that fixes it."""
    if code == access.GROUP_AUTHORIZATION_FAILED:
        return access.denied(principal, request, "Describe", "group", group)
    if code == access.TOPIC_AUTHORIZATION_FAILED:  # ConsumerGroupDescribe: an assigned topic it may not see
        return access.denied_unnamed_topic(principal, request, group)
    return f"{request}: {error_name(code)}"


def batched_find_coordinator(client: Client) -> bool:
    return client.supports(ANY_BROKER, find_coordinator.API_KEY, find_coordinator.BATCHED)


def batched_offset_fetch(client: Client, node: int | None) -> bool:
    return client.supports(node, offset_fetch.API_KEY, offset_fetch.BATCHED)


class Coordinators:
    """group -> coordinator node, kept between scrapes; an entry is forgotten when the coordinator moved,
    failed, or left the cluster, and looked up again (FindCoordinator, batched) on the next scrape."""

    def __init__(self) -> None:
        self.known: dict[str, int] = {}

    def find(self, client: Client, names: list[str], brokers: Mapping[int, str], size: int,
             group_errors: dict[str, str | ScrapeError], principal: str) -> dict[str, int]:
        if not brokers.keys() >= set(self.known.values()):
            self.known = {g: n for g, n in self.known.items() if n in brokers}
        known = self.known
        missing = set(names).difference(known)  # set operations in C: none at all on an unchanged cluster
        unknown = [g for g in names if g in missing] if missing else []
        # Kafka 2.x answers one group per FindCoordinator (decided by the bootstrap broker's versions: any
        # broker may answer, and a cluster runs one release outside a rolling upgrade).
        per_group = not batched_find_coordinator(client)
        batches = [[g] for g in unknown] if per_group else list(chunks(unknown, size))
        answers = client.send_all([(FindCoordinators(chunk, per_group), ANY_BROKER) for chunk in batches])
        for chunk, answer in zip(batches, answers):
            if isinstance(answer, BaseException):
                for group in chunk:
                    group_errors[group] = f"FindCoordinator failed: {answer!r}"
                continue
            for group, node, code in answer:
                if code:
                    group_errors[group] = group_problem(principal, group, "FindCoordinator", code)
                else:
                    self.known[group] = node
        found = list(map(known.get, names))
        if None not in found:
            return dict(zip(names, found))
        return {g: node for g, node in zip(names, found) if node is not None}

    def forget(self, group: str) -> None:
        self.known.pop(group, None)


class GroupReader:
    """Reads every selected group's observation, remembering between scrapes: the coordinators, the groups
    each broker listed (so a group whose broker is down is reported with its error, not dropped) and the
    partitions each group had committed to (so its lag is unknown there, not missing from the sums)."""

    def __init__(self, client: Client, selection: Selection, principal: str = access.principal_of(None)):
        self.client = client
        self.selection = selection
        self.principal = principal
        self.coordinators = Coordinators()
        self._listed: dict[int, dict[str, Listing]] = {}
        # Groups seen before that no broker lists now, although every broker answered (a coordinator still
        # loading its partitions answers with an empty list): kept until they are listed again or their
        # committed offsets are gone (deleted or expired), never silently dropped.
        self._unconfirmed: dict[str, Listing] = {}
        # Per group, what it had committed (and the partitions it could not read) when last read.
        # (A group's offsets alone when it had no unread partitions.)
        self._last_committed: dict[str, dict[TopicPartition, int] | tuple[dict[TopicPartition, int],
                                                                           list[TopicPartition]]] = {}

        # Per group, partitions it is known to have (a member's assignment, or its last read) on topics this
        # scrape's metadata lacks, that its offsets answer left out: denied or deleted, the collector asks.
        self.held: dict[str, list[TopicPartition]] = {}
        self.listed: int | None = 0  # groups the brokers listed last scrape, any type, before the selection
        # Groups listed last scrape whose protocol type carries no consumer offsets (Kafka Connect workers and
        # MirrorMaker 2's `connect`, ...), by type: not reported, said once (Collector).
        self.other_types: dict[str, int] = {}

    def read(self, brokers: Mapping[int, str], errors: list[ScrapeError], topics: Mapping[str, object] | None = None,
             watch: frozenset[str] | set[str] = frozenset()) -> list[GroupObservation]:
        """Every selected group's observation. With `topics` (this scrape's metadata), `held` says which known
        partitions are missing: those assigned to a member on a topic not in `topics`, and those read before
        on a topic in `watch` (topics that left the metadata since, or were denied before)."""
        self.held = {}
        states, unlisted = self._list(brokers, errors)
        return self._describe_and_fetch(states, unlisted, brokers, errors, topics, watch)

    @staticmethod
    def _held(got: Mapping[TopicPartition, int], members: Sequence[Member], before, topics: Mapping[str, object],
              watch: frozenset[str] | set[str]) -> list[TopicPartition]:
        known = {tp for m in members for tp in m.assignment if tp[0] not in topics}
        if watch and before is not None:
            known.update(tp for tp in _partitions(before) if tp[0] in watch)
        return sorted(known.difference(got))

    def _list(self, brokers: Mapping[int, str], errors: list[ScrapeError]) -> tuple[dict[str, Listing], dict[str, str]]:
        """{group: (state, type, protocol type)} from every broker, and {group: why its state is stale} for
        groups a failed broker listed last time: they stay in the report, with that error, instead of
        vanishing (a lag monitor that drops a group during an outage looks like a healthy one)."""
        nodes = sorted(brokers)
        listed_before, unconfirmed_before = list(self._listed.values()), self._unconfirmed
        self._listed = {b: listed for b, listed in self._listed.items() if b in brokers}
        selected = self.selection.group
        states: dict[str, Listing] = {}
        stale: dict[str, tuple[Listing, str]] = {}
        listed_total: int | None = 0  # None once a broker did not answer
        others: collections.Counter[str] = collections.Counter()  # groups of types without consumer offsets
        for broker, answer in zip(nodes, self.client.send_all([(ListGroups(), b) for b in nodes])):
            problem = None
            if isinstance(answer, BaseException):
                problem = f"ListGroups failed: {answer!r}{broker_hint(answer, broker, brokers.get(broker))}"
            elif answer.error_code:
                problem = f"ListGroups: {error_name(answer.error_code)}"
            if problem:
                listed_total = None
                errors.append(ScrapeError("broker", str(broker), problem))
                for group, state in self._listed.get(broker, {}).items():
                    stale[group] = (state, f"broker {broker} did not list its groups ({problem}); state as last seen")
                continue
            listed = {g: st for g, st in answer.groups.items() if st[2] in CONSUMER_PROTOCOLS and selected(g)}
            if listed_total is not None:
                listed_total += len(answer.groups)
            if len(listed) < len(answer.groups):
                others.update(st[2] for st in answer.groups.values() if st[2] not in CONSUMER_PROTOCOLS)
            self._listed[broker] = listed
            states.update(listed)
        self.listed, self.other_types = listed_total, dict(others)
        unlisted = {}
        for group, (state, why) in stale.items():
            if group not in states:  # moved to a broker that answered: that answer wins
                states[group] = state
                unlisted[group] = why
        # Seen before (listed last time, or unconfirmed already) but not now; the key differences run in C.
        unconfirmed: dict[str, Listing] = {}
        for before in (*listed_before, unconfirmed_before):
            for group in before.keys() - states.keys():
                unconfirmed[group] = before[group]
        self._unconfirmed = {g: st for g, st in unconfirmed.items() if selected(g)}
        for group, state in self._unconfirmed.items():
            states[group] = state
            unlisted[group] = "listed by no broker this scrape (a coordinator still loading?); state as last seen"
        return states, unlisted

    def _requests(self, states: Mapping[str, Listing], by_coordinator: Mapping[int, list[str]]) -> list:
        """(request, coordinator) pairs: describe the groups that have members (ListGroups told the others'
        state), per group type, and read every group's offsets."""
        size, topic = self.selection.groups_per_request, self.selection.topic
        calls = []
        for node, groups in sorted(by_coordinator.items()):
            by_api: dict[describe_groups.DescribeApi, list[str]] = {describe_groups.CLASSIC: []}
            by_api.update((api, []) for api in describe_groups.BY_GROUP_TYPE.values())
            share: list[str] = []
            others: list[str] = []
            for g in groups:
                state, group_type, _ = states[g]
                if state not in MEMBERLESS_STATES:
                    by_api[describe_groups.api_for(group_type)].append(g)
                (share if group_type == "share" else others).append(g)
            for api, typed in by_api.items():
                calls.extend((DescribeGroups(chunk, api, topic), node) for chunk in chunks(typed, size))
            # A share group has no committed offsets: its progress is each partition's share-partition start
            # offset (and, from Kafka 4.2 on, the broker's own lag).
            calls.extend((FetchOffsets(chunk, True, topic), node) for chunk in chunks(share, size))
            if batched_offset_fetch(self.client, node):
                calls.extend((FetchOffsets(chunk, False, topic), node) for chunk in chunks(others, size))
            else:  # Kafka 2.x: one group per OffsetFetch, the same answer per group
                calls.extend((FetchOffsets((g,), False, topic, per_group=True), node) for g in others)
        return calls

    def _describe_and_fetch(
        self, states: dict[str, Listing], unlisted: dict[str, str], brokers: Mapping[int, str],
        errors: list[ScrapeError], topics: Mapping[str, object] | None, watch: frozenset[str] | set[str],
    ) -> list[GroupObservation]:
        names = sorted(states)
        last_committed = self._last_committed
        for group in last_committed.keys() - states.keys():  # groups gone: forgotten (a set difference, in C)
            del last_committed[group]
        if not names:
            return []
        group_errors: dict[str, str | ScrapeError] = dict(unlisted)
        coordinators = self.coordinators.find(
            self.client, names, brokers, self.selection.groups_per_request, group_errors, self.principal)
        by_coordinator: dict[int, list[str]] = defaultdict(list)
        for group in names:
            if group in coordinators:
                by_coordinator[coordinators[group]].append(group)
        calls = self._requests(states, by_coordinator)
        described: dict[str, tuple[describe_groups.DescribeApi, DescribedGroup]] = {}
        committed: dict[str, dict[TopicPartition, int]] = {}
        unread: dict[str, list[TopicPartition]] = defaultdict(list)  # partition-level offset errors
        broker_lag: dict[str, dict[TopicPartition, int]] = defaultdict(dict)  # share groups, Kafka 4.2+
        for (request, _), answer in zip(calls, self.client.send_all(calls)):
            if isinstance(answer, BaseException):
                for group in request.groups:
                    group_errors.setdefault(group, f"{request.batch} failed: {answer!r}")
                    self.coordinators.forget(group)
            elif isinstance(request, DescribeGroups):
                for row in answer:
                    described[row.group_id] = (request.api, row)
                    if row.error_code in COORDINATOR_MOVED:
                        self.coordinators.forget(row.group_id)
            else:
                for group, code in answer.errors.items():
                    if code == GROUP_ID_NOT_FOUND:
                        committed[group] = {}  # the group is gone: it has committed nothing
                        continue
                    group_errors.setdefault(group, group_problem(self.principal, group, request.api, code))
                    if code in COORDINATOR_MOVED:
                        self.coordinators.forget(group)
                committed.update(answer.committed)
                for group, tps in answer.unread.items():
                    unread[group].extend(tps)
                for group, lags in answer.broker_lag.items():
                    broker_lag[group].update(lags)
        observations = []
        append = observations.append
        unconfirmed, last_committed = self._unconfirmed, self._last_committed
        coordinator_of, error_of = coordinators.get, group_errors.get
        for group in names:
            got = committed.get(group)  # None: not read this scrape
            bad = unread.get(group)
            if got is not None and not got and not bad and group in unconfirmed:
                unconfirmed.pop(group)  # not listed and nothing committed: deleted or expired
                last_committed.pop(group, None)
                continue
            state, group_type, protocol_type = states[group]
            problem = error_of(group)
            members: tuple[Member, ...] = ()
            epoch = None
            hidden = False  # a member is assigned a topic the principal may not see: offsets are left out unsaid
            if group in described:
                api, row = described[group]
                describe_problem = error_name(row.error_code)
                if describe_problem and describe_problem != "GroupIdNotFoundError":
                    problem = problem or group_problem(self.principal, group, api.name, row.error_code)
                    hidden = row.error_code == access.TOPIC_AUTHORIZATION_FAILED
                if not describe_problem:  # an error answer's state (Dead) must not replace the listed one
                    state = row.state or state
                epoch, members, protocol_type = row.epoch, row.members, row.protocol_type
            if problem:
                error = problem if isinstance(problem, ScrapeError) else ScrapeError("group", group, problem)
                errors.append(error)
                problem = error.message
            if got is not None:
                committed_unread = tuple(bad) if bad else ()
                if topics is not None and (members or watch):
                    held = self._held(got, members, last_committed.get(group), topics, watch)
                    if held:  # remembered as unread, so a later scrape still knows of them
                        self.held[group] = held
                        bad = [*(bad or ()), *held]
                # Kept as read; turned into sorted partitions only if a later scrape cannot read the group.
                last_committed[group] = (got, bad) if bad else got  # no tuple per group in the usual case
            else:
                # Not read this scrape: where the group had committed when last read, its lag is unknown.
                committed_unread = _partitions(last_committed.get(group))
            lags = broker_lag.get(group)
            append(
                GroupObservation(  # positional, in field order (one per group and scrape)
                    group,  # group
                    state,  # state
                    protocol_type,  # protocol_type
                    group_type,  # group_type
                    coordinator_of(group),  # coordinator
                    members,  # members
                    NOTHING if got is None else got,  # committed
                    problem,  # error
                    got is not None and not hidden,  # committed_read
                    committed_unread,  # committed_unread
                    epoch,  # epoch
                    lags if lags is not None else NOTHING,  # broker_lag; built for this group alone: no copy
                )
            )
        return observations
