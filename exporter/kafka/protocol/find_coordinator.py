"""FindCoordinator (v4+: many groups per request): which broker coordinates each group.

Partial-failure policy: a failed request leaves its groups without a coordinator; a per-group error code
leaves that group without one (the others are found)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kafka.protocol.metadata import FindCoordinatorRequest


@dataclass(frozen=True)
class FindCoordinators:
    groups: Sequence[str]

    def request(self) -> FindCoordinatorRequest:
        return FindCoordinatorRequest(key_type=0, coordinator_keys=list(self.groups), min_version=4)

    def decode(self, response) -> list[tuple[str, int, int]]:
        """(group, coordinator node id, error code) per group."""
        return [(row.key, row.node_id, row.error_code) for row in response.coordinators]
