"""Statuses for both group protocols: the member-dependent cases, run for classic groups and KIP-848 `consumer`
groups through the alerting engine (GroupObservation -> lag report -> ownership -> status).

The observations are built here: for a KIP-848 group this checks what lagwatch decides once its members and
assignments are known (ConsumerGroupDescribe), not that the collector reads them.
"""

from __future__ import annotations

import pytest

from exporter.lag import report as lag
from exporter.alerts.engine import Alerting
from exporter.evaluator.status import STOP_REASON, Code, StatusConfig
from exporter.lag.model import ClusterSnapshot, GroupObservation, Member, PartitionOffsets, TopicInfo

CONFIG = StatusConfig(window=5, stop_after_s=300)
STEP = 30.0
GROUP, TOPIC = "billing", "orders"
P0, P1 = (TOPIC, 0), (TOPIC, 1)
PROTOCOLS = ["classic", "consumer"]

# Who holds partition 0 at a scrape. "rebalancing" is what each protocol shows mid-rebalance: a classic group
# lists its members without assignments (PreparingRebalance), a KIP-848 group moves partitions one by one,
# so partition 0 is briefly assigned to nobody while the member keeps partition 1 (Reconciling).
STATES = {
    "classic": {"owner": "Stable", "other": "Stable", "none": "Empty", "rebalancing": "PreparingRebalance"},
    "consumer": {"owner": "Stable", "other": "Stable", "none": "Empty", "rebalancing": "Reconciling"},
}


def members(protocol: str, who: str) -> tuple[Member, ...]:
    if who == "owner":
        return (Member("m-1", "app", "/10.0.0.1", (P0, P1)),)
    if who == "other":  # alive, but partition 0 is not among its partitions
        return (Member("m-1", "app", "/10.0.0.1", (P1,)),)
    if who == "rebalancing":
        return (Member("m-1", "app", "/10.0.0.1", () if protocol == "classic" else (P1,)),)
    return ()


def scrape(protocol: str, at: float, committed: int, log_end: int, who: str) -> ClusterSnapshot:
    group = GroupObservation(
        GROUP,
        STATES[protocol][who],
        protocol_type="consumer",
        group_type=protocol,
        coordinator=1,
        members=members(protocol, who),
        committed={P0: committed, P1: 1000},  # partition 1 is caught up throughout
    )
    return ClusterSnapshot(
        cluster="prod",
        taken_at=at,
        topics={TOPIC: TopicInfo(TOPIC, 2)},
        partitions={
            P0: PartitionOffsets(TOPIC, 0, log_end, log_start_offset=0, leader=1),
            P1: PartitionOffsets(TOPIC, 1, 1000, log_start_offset=0, leader=1),
        },
        groups=(group,),
    )


def statuses(protocol: str, rows):
    """rows: (committed, log_end, who) per scrape; yields (partition 0's status, the group's) after each."""
    engine = Alerting("prod", status_config=CONFIG)
    previous, histories = None, {}
    for i, (committed, log_end, who) in enumerate(rows):
        snap = scrape(protocol, 1000.0 + i * STEP, committed, log_end, who)
        histories = lag.update_histories(histories, snap, previous)
        result = engine.evaluate(lag.build_report(snap, previous, histories))
        previous = snap
        yield result.partitions[(GROUP, TOPIC, 0)], result.groups[GROUP]


def rows_of(who, offsets):
    return [(c, e, who) for c, e in offsets]


CASES = [
    ("K01-owner-offset-not-moving-is-stall", rows_of("owner", [(50, 60 + i) for i in range(5)]), Code.STALL, "offset_not_moving"),
    ("K02-owner-stuck-past-stop-after-stays-stall", rows_of("owner", [(50, 60 + i) for i in range(12)]), Code.STALL, "offset_not_moving"),
    ("K03-no-members-within-stop-after", rows_of("none", [(50, 60 + i) for i in range(10)]), Code.OK, "no_consumer_within_stop_after"),
    ("K04-no-members-past-stop-after-is-stop", rows_of("none", [(50, 60 + i) for i in range(11)]), Code.STOP, STOP_REASON),
    ("K05-member-alive-but-not-owner-is-stop", rows_of("other", [(50, 60 + i) for i in range(11)]), Code.STOP, STOP_REASON),
    ("K06-owner-consuming", rows_of("owner", [(100 + 10 * i, 105 + 10 * i) for i in range(6)]), Code.OK, "consuming"),
    ("K07-owner-lag-growing-is-warn", rows_of("owner", [(100 + 10 * i, 110 + 20 * i) for i in range(5)]), Code.WARN, "lag_growing"),
    ("K08-owner-rewind-recovered", rows_of("owner", [(100, 120), (110, 130), (50, 140), (120, 150), (130, 160)]), Code.OK, "consuming"),
    ("K09-owner-rewind-not-recovered", rows_of("owner", [(100, 120), (110, 130), (50, 140), (100, 150), (105, 160)]), Code.REWIND, "offset_rewound"),
    ("K10-commit-only-client-consuming", rows_of("none", [(100 + 10 * i, 105 + 10 * i) for i in range(12)]), Code.OK, "consuming"),
    # A rebalance hands partition 0 over: 3 scrapes mid-rebalance with its offset frozen, then caught up.
    ("K11-rebalance-then-caught-up",
     rows_of("owner", [(95 + 30 * i, 100 + 30 * i) for i in range(5)])
     + rows_of("rebalancing", [(215, 250 + 30 * i) for i in range(3)])
     + rows_of("owner", [(340, 340), (370, 370)]),
     Code.OK, "caught_up"),
]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("rows, code, reason", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_member_dependent_status_is_the_same_for_both_protocols(protocol, rows, code, reason):
    partition, group = list(statuses(protocol, rows))[-1]
    assert (partition.code, partition.reason) == (code, reason)
    assert group.code is code  # partition 1 is caught up: the group shows partition 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_rebalance_never_shows_warn_stall_or_stop_at_any_scrape(protocol):
    rows = dict((c[0], c[1]) for c in CASES)["K11-rebalance-then-caught-up"]
    seen = [(p.code, g.code) for p, g in statuses(protocol, rows)]
    assert {code for pair in seen for code in pair} == {Code.OK}, seen
