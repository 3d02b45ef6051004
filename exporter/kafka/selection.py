"""Which groups and topics a scrape covers: the filters from config and the shard of the groups this process
owns (issue #7's --shard I/N, parsed by exporter/config; exporter/coordination uses the same hash for shared
ownership).

Sharding splits consumer groups across N exporter processes by a stable hash (pure): every process computes
the same owner for a group, with no coordination: run `--shard 0/3`, `1/3`, `2/3` (a StatefulSet's ordinal
works as I). Python's hash() is salted per process, so we use blake2b.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Selection:
    group: Callable[[str], bool] = lambda name: True
    topic: Callable[[str], bool] = lambda name: not name.startswith("__")
    groups_per_request: int = 2000  # groups per FindCoordinator, describe and offsets request


def shard_of(cluster: str, group: str, count: int) -> int:
    digest = hashlib.blake2b(f"{cluster}\x1f{group}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def owns(cluster: str, group: str, shard: tuple[int, int] | None) -> bool:
    if shard is None:
        return True
    index, count = shard
    return shard_of(cluster, group, count) == index
