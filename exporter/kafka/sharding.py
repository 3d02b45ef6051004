"""Split consumer groups across N exporter processes by a stable hash (pure).

Every process computes the same owner for a group, with no coordination: run `--shard 0/3`, `1/3`, `2/3`
(a StatefulSet's ordinal works as I). Python's hash() is salted per process, so we use blake2b.
"""

from __future__ import annotations

import hashlib
import re

_SHARD = re.compile(r"^(\d+)/(\d+)$")


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N; ValueError with a readable message otherwise."""
    match = _SHARD.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not I/N (e.g. 0/3: the first of three shards)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"{text!r}: I must be between 0 and N-1 and N at least 1")
    return index, count


def shard_of(cluster: str, group: str, count: int) -> int:
    digest = hashlib.blake2b(f"{cluster}\x1f{group}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def owns(cluster: str, group: str, shard: tuple[int, int] | None) -> bool:
    if shard is None:
        return True
    index, count = shard
    return shard_of(cluster, group, count) == index
