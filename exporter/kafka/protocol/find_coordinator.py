"""FindCoordinator: which broker coordinates each group. v4+ (Kafka 3.0+) takes many groups per request; an
older broker gets one request per group (`per_group`, v0-v3).

Partial-failure policy: a failed request leaves its groups without a coordinator; a per-group error code
leaves that group without one (the others are found)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kafka.protocol.metadata import FindCoordinatorRequest


API_KEY = 10
BATCHED = 4  # the first version with many groups per request


@dataclass(frozen=True)
class FindCoordinators:
    groups: Sequence[str]
    per_group: bool = False  # one group, for a broker older than v4 (Kafka 2.x)

    def request(self) -> FindCoordinatorRequest:
        if self.per_group:
            (group,) = self.groups
            return FindCoordinatorRequest(key=group, key_type=0, max_version=BATCHED - 1)
        return FindCoordinatorRequest(key_type=0, coordinator_keys=list(self.groups), min_version=BATCHED)

    def decode(self, response) -> list[tuple[str, int, int]]:
        """(group, coordinator node id, error code) per group."""
        if self.per_group:
            return [(self.groups[0], response.node_id, response.error_code)]
        return [(row.key, row.node_id, row.error_code) for row in response.coordinators]
