"""The partitions a group involves (exporter/lag/report.py involved_partitions, one function): the report has
a row for each (group_partitions); the collector reads the log offsets of those the metadata has
(collector.read_partitions)."""

from __future__ import annotations

import pytest

from exporter.kafka.collector import read_partitions
from exporter.lag.model import ClusterSnapshot, GroupObservation, Member, TopicInfo
from exporter.lag.report import group_partitions, involved_partitions

TOPICS = {"orders": TopicInfo("orders", 3), "audit": TopicInfo("audit", 1)}
ORDERS = {("orders", p) for p in range(3)}


def group(committed=(), unread=(), assigned=()) -> GroupObservation:
    members = (Member("m", "c", "h", tuple(assigned)),) if assigned else ()
    return GroupObservation("g", "Stable", committed={tp: 1 for tp in committed}, committed_unread=tuple(unread),
                            members=members)


@pytest.mark.parametrize(
    "observed, read, rows",
    [
        # One committed partition: every partition of its topic (never-committed ones have lag unknown/none).
        (group(committed=[("orders", 1)]), ORDERS, ORDERS),
        # Assigned but never committed: the topic is read all the same.
        (group(assigned=[("audit", 0)]), {("audit", 0)}, {("audit", 0)}),
        # Committed but unread this scrape: still involved (its lag is unknown, not missing).
        (group(unread=[("orders", 0)]), ORDERS, ORDERS),
        # A commit on a deleted topic: nothing to read, but the report keeps its row.
        (group(committed=[("gone", 0)]), set(), {("gone", 0)}),
        # A commit past the topic's partition count (deleted and recreated smaller): a row, no read.
        (group(committed=[("audit", 4)]), {("audit", 0)}, {("audit", 0), ("audit", 4)}),
        (group(), set(), set()),
    ],
)
def test_the_partitions_a_group_involves(observed, read, rows):
    assert read_partitions([observed], TOPICS) == sorted(read)
    assert involved_partitions([observed], TOPICS) == rows
    snapshot = ClusterSnapshot("c", 0.0, TOPICS, {}, (observed,))
    assert group_partitions(observed, snapshot) == sorted(rows)


def test_the_partitions_of_many_groups_are_the_union_of_each():
    groups = [group(committed=[("orders", 0)]), group(assigned=[("audit", 0)]), group(committed=[("gone", 1)])]
    assert read_partitions(groups, TOPICS) == sorted(ORDERS | {("audit", 0)})
    assert involved_partitions(groups, TOPICS) == set().union(*(involved_partitions([g], TOPICS) for g in groups))
