"""ListGroups, sent to every broker: the groups it coordinates, with their state and type.

Partial-failure policy: a broker that fails or answers an error lists nothing (the collector keeps what
it listed last time, with the error)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from kafka.protocol.admin import ListGroupsRequest

from exporter.kafka.protocol.raw import INT16, RawAnswer, compact_string, raw, skip_compact_string, skip_tags, uvarint

# (state, group type, protocol type): group type is ListGroups v5's classic/consumer/share/streams, None
# on older brokers; protocol type is "consumer" for classic consumers, "" for commit-only clients.
Listing = tuple[str, "str | None", str]


class ListedGroups(NamedTuple):
    error_code: int
    groups: dict[str, Listing]


@dataclass(frozen=True)
class ListGroups:
    def request(self) -> ListGroupsRequest:
        return raw(ListGroupsRequest)()  # the answer comes back as its bytes (raw.py)

    def decode(self, response) -> ListedGroups:
        if isinstance(response, RawAnswer):
            if response.version >= 3:
                return _decode_bytes(response.body, response.version)
            response = response.decoded()
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


def _decode_bytes(buf: bytes, version: int) -> ListedGroups:
    """What ListGroups.decode makes of kafka-python's objects, read straight from a flexible (v3+) body
    (ListGroupsResponse.json: throttle time, error code, groups[id, protocol type, state (v4+), type (v5+),
    tags], tags). A group's listing bytes (protocol type to tags) repeat across thousands of groups: each
    distinct run of them is decoded once."""
    (error_code,) = INT16.unpack_from(buf, 4)
    groups: dict[str, Listing] = {}
    by_bytes: dict[bytes, Listing] = {}
    strings = 1 + (version >= 4) + (version >= 5)  # protocol type, state, type
    count, pos = uvarint(buf, 6)
    for _ in range(count - 1):
        group, pos = compact_string(buf, pos)
        start = pos
        for _field in range(strings):
            pos = skip_compact_string(buf, pos)
        pos = skip_tags(buf, pos)
        key = buf[start:pos]
        listing = by_bytes.get(key)
        if listing is None:
            listing = by_bytes[key] = _listing(buf, start, strings)
        groups[group] = listing
    return ListedGroups(error_code, groups)


def _listing(buf: bytes, pos: int, strings: int) -> Listing:
    protocol_type, pos = compact_string(buf, pos)
    state = group_type = None
    if strings > 1:
        state, pos = compact_string(buf, pos)
    if strings > 2:
        group_type, pos = compact_string(buf, pos)
    return (state or "Unknown", group_type or None, protocol_type)
