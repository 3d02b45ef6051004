"""Which member owns which shard: the group leader's assignment (pure, no I/O).

Sticky and cooperative, as Kafka's cooperative-sticky assignor (KIP-429): every member gets S/M shards (the
first S mod M members one more), a member keeps the shards it already owns up to that count, and a shard
that must move from one member to another is assigned to nobody in this generation. Its owner sees it
missing, writes its final state, and asks for another rebalance; in that one the shard is free and goes to
its new owner. So two members never own a shard at the same time, and nobody stops for a rebalance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def assign(owned: Mapping[str, Iterable[int]], count: int) -> dict[str, list[int]]:
    """`owned`: member id -> the shards it says it owns (from its JoinGroup metadata); `count`: S.
    Returns member id -> the shards it owns in the new generation (sorted)."""
    members = sorted(owned)
    if not members:
        return {}
    claims = {m: sorted({s for s in owned[m] if 0 <= s < count}) for m in members}
    # Members that already own the most get the extra shard first: fewer moves.
    by_claims = sorted(members, key=lambda m: (-len(claims[m]), m))
    base, extra = divmod(count, len(members))
    quota = {m: base + (1 if i < extra else 0) for i, m in enumerate(by_claims)}

    kept: dict[str, list[int]] = {m: [] for m in members}
    claimed: set[int] = set()
    for member in by_claims:
        for shard in claims[member]:
            if shard in claimed:
                continue  # two members say they own it (a stale generation): the first keeps it
            claimed.add(shard)
            if len(kept[member]) < quota[member]:
                kept[member].append(shard)
    # A shard somebody still owns but gives up this generation is withheld until the next one.
    free = [s for s in range(count) if s not in claimed]
    for member in by_claims:
        while len(kept[member]) < quota[member] and free:
            kept[member].append(free.pop(0))
    return {m: sorted(kept[m]) for m in members}
