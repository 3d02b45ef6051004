"""Replicas started at once, the first joiner the group's leader: every one becomes a member with shards.

Before lagwatch spoke the group protocol itself (exporter/coordination/group.py), the first joiner could hang
in its first rebalance for good: kafka-python's leader, having assigned before it had the topic's partitions,
rejoined when they arrived and never collected that join; the broker removed it after the session timeout
and it never joined again (2 of 19 runs of this test on a loaded 2-core machine).
"""

from __future__ import annotations

import pytest

from tests.coordination_fleet import Fleet, config
from tests.harness import unique

pytestmark = pytest.mark.integration

SHARDS = 6


def test_three_replicas_started_at_once_each_become_a_member_with_shards(tmp_path, bootstrap, es_url, kafka):
    tag = unique("fs")
    coordination = kafka.create_topic(unique("fs-coord"), partitions=SHARDS, configs={"cleanup.policy": "compact"})
    fleet = Fleet(tmp_path, config(bootstrap, es_url, unique("fs"), tag, coordination))
    try:
        fleet.start("c", "b", "a")
        shares = fleet.wait_settled(SHARDS, timeout=45, also=lambda shares: all(shares.values()))
        codes = fleet.stop()
    finally:
        fleet.close()
    assert sorted(shares) == ["a", "b", "c"] and sorted(len(s) for s in shares.values()) == [2, 2, 2], shares
    assert codes == {"a": 0, "b": 0, "c": 0}
