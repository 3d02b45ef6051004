"""Split consumer groups across N exporter processes by a stable hash (pure).

Every process computes the same owner for a group, with no coordination: run `--shard 0/3`, `1/3`, `2/3`
(a StatefulSet's ordinal works as I). Python's hash() is salted per process, so we use blake2b.
"""

from __future__ import annotations

import hashlib

from exporter.config import parse_shard  # noqa: F401  (lives with the scrape section that validates --shard)


def shard_of(cluster: str, group: str, count: int) -> int:
    digest = hashlib.blake2b(f"{cluster}\x1f{group}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def owns(cluster: str, group: str, shard: tuple[int, int] | None) -> bool:
    if shard is None:
        return True
    index, count = shard
    return shard_of(cluster, group, count) == index
