"""ListGroups, sent to every broker: the groups it coordinates, with their state and type.

Partial-failure policy: a broker that fails or answers an error lists nothing (the collector keeps what
it listed last time, with the error)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from kafka.protocol.admin import ListGroupsRequest

# (state, group type, protocol type): group type is ListGroups v5's classic/consumer/share/streams, None
# on older brokers; protocol type is "consumer" for classic consumers, "" for commit-only clients.
Listing = tuple[str, "str | None", str]


class ListedGroups(NamedTuple):
    error_code: int
    groups: dict[str, Listing]


@dataclass(frozen=True)
class ListGroups:
    def request(self) -> ListGroupsRequest:
        return ListGroupsRequest()

    def decode(self, response) -> ListedGroups:
        groups = {}
        # Thousands of groups share a few (state, type, protocol type) listings: one tuple (and its three
        # strings) each, kept by every snapshot until the next, instead of one per group.
        shared: dict[Listing, Listing] = {}
        for group in response.groups:
            # group_state: v4+, group_type: v5+.
            state = getattr(group, "group_state", "") or "Unknown"
            group_type = getattr(group, "group_type", "") or None
            listing = (state, group_type, group.protocol_type)
            groups[group.group_id] = shared.setdefault(listing, listing)
        return ListedGroups(response.error_code, groups)
