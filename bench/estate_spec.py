"""What a synthetic estate is: T topics x P partitions with R records each, G groups each committed on a few
consecutive partitions at a fixed pseudo-random offset; the named estates of issue #7 (W and G) and the lag
every tool should report for one. Building it on a broker: bench/estate.py."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class EstateSpec:
    name: str
    topics: int
    partitions: int
    groups: int
    partitions_per_group: tuple[int, ...]  # cycled over the groups: (1, 2) = alternately one and two
    records: int  # per partition
    prefix: str = "bench"

    @property
    def partition_count(self) -> int:
        return self.topics * self.partitions

    @property
    def pairs(self) -> int:
        cycle = self.partitions_per_group
        full, rest = divmod(self.groups, len(cycle))
        return full * sum(cycle) + sum(cycle[:rest])

    def topic(self, index: int) -> str:
        return f"{self.prefix}-t{index:05d}"

    def group(self, index: int) -> str:
        return f"{self.prefix}-g{index:06d}"

    def scaled(self, factor: float) -> EstateSpec:
        """The same shape with `factor` times the topics and groups (for smoke runs and growth curves)."""
        return dataclasses.replace(
            self,
            name=f"{self.name}x{factor:g}",
            topics=max(1, round(self.topics * factor)),
            groups=max(1, round(self.groups * factor)),
        )

    def describe(self) -> str:
        return (
            f"{self.name}: {self.topics} topics x {self.partitions} partitions = {self.partition_count:,} partitions, "
            f"{self.groups:,} groups, {self.pairs:,} group-partition pairs, {self.records} records/partition"
        )

    def assignments(self) -> Iterator[tuple[str, list[tuple[str, int]]]]:
        """(group, [(topic, partition), ...]): each group takes the next consecutive partitions, wrapping
        around, so every partition is committed by about the same number of groups."""
        total = self.partition_count
        cursor = 0
        for index in range(self.groups):
            size = min(self.partitions_per_group[index % len(self.partitions_per_group)], total)
            picked = []
            for k in range(size):
                flat = (cursor + k) % total
                picked.append((self.topic(flat // self.partitions), flat % self.partitions))
            cursor = (cursor + size) % total
            yield self.group(index), picked

    def committed_offset(self, group: str, tp: tuple[str, int]) -> int:
        """Somewhere between 0 and the log end, fixed per pair, so lag is non-zero and reproducible."""
        return random.Random(f"{group}/{tp[0]}/{tp[1]}").randint(0, self.records)


def expected_lag(spec: EstateSpec) -> int:
    """The estate's total lag as built: every partition holds `records` records (log-end offset), minus each
    pair's committed offset. What every tool should report, summed over the estate's groups."""
    return sum(spec.records - spec.committed_offset(group, tp) for group, tps in spec.assignments() for tp in tps)


ESTATES = {
    "W": EstateSpec("W", topics=200, partitions=50, groups=1000, partitions_per_group=(50,), records=20),
    "G": EstateSpec("G", topics=200, partitions=2, groups=65_000, partitions_per_group=(1, 2), records=20),
}
