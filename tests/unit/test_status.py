"""Window-based statuses (exporter.evaluator.status): numbered table cases, one scrape every 30 s.

Each rule of Burrow's evaluator (linkedin/Burrow core/internal/evaluator/caching.go) has a case here; "Burrow
#N" names the case of its caching_test.go it corresponds to. Where lagwatch decides differently, the case says
"differs" and docs/alerting.md's "Statuses: differences from Burrow" gives the reason.
"""

from __future__ import annotations

import pytest

from exporter.evaluator.status import (
    STOP_REASON,
    Code,
    PartitionWindow,
    Sample,
    Status,
    StatusConfig,
    evaluate,
    evaluate_report,
    push,
    worst,
)
from exporter.lag import report as lag
from exporter.lag.model import ClusterSnapshot, GroupObservation, PartitionOffsets, TopicInfo

CONFIG = StatusConfig(window=5, stop_after_s=300)
STEP = 30.0


def run(rows, config=CONFIG, start=PartitionWindow()):
    """rows: (committed, log_end[, owned[, error]]) per scrape; returns the status after the last one."""
    window, at = start, 0.0
    for i, row in enumerate(rows):
        committed, log_end, owned, error = tuple(row) + (None, None, True, None)[len(row):]
        at = i * STEP
        window = push(window, Sample(at, committed, log_end, owned, error), config.window)
    return evaluate(window, at, config), window


def lagging(lags, start=100, produced=10, owned=True):
    """Offsets that move, with the given lag at each scrape."""
    return [(start + produced * i, start + produced * i + lag, owned) for i, lag in enumerate(lags)]


CASES = [
    ("S01-partition-unreadable", [(5, 10), (5, None, True, "LEADER_NOT_AVAILABLE")], Code.ERR, "partition_unavailable"),
    ("S02-log-end-unknown", [(5, None)], Code.ERR, "partition_unavailable"),
    ("S03-never-committed", [(None, 10)] * 6, Code.OK, "no_commit"),
    ("S04-caught-up", [(10, 10)] * 6, Code.OK, "caught_up"),
    ("S05-steady-lag-while-consuming", lagging([5, 3, 6, 4, 5]), Code.OK, "consuming"),
    ("S06-lag-grows-every-scrape-while-committing", lagging([10, 20, 30, 40, 50]), Code.WARN, "lag_growing"),
    ("S07-growing-but-window-not-full", lagging([10, 20, 30]), Code.OK, "window_filling"),
    ("S08-member-commits-same-offset-with-lag", [(50, 60 + i, True) for i in range(5)], Code.STALL, "offset_not_moving"),
    ("S09-no-consumer-not-yet-stop-after", [(50, 60 + i, False) for i in range(5)], Code.OK, "no_consumer_within_stop_after"),
    ("S10-no-consumer-past-stop-after", [(50, 60 + i, False) for i in range(11)], Code.STOP, STOP_REASON),
    ("S11-member-stuck-long-is-stall-not-stop", [(50, 60 + i, True) for i in range(20)], Code.STALL, "offset_not_moving"),
    ("S12-offset-moved-backwards", [(100, 120), (110, 130), (50, 140), (60, 150), (70, 160)], Code.REWIND, "offset_rewound"),
    ("S13-rewind-then-caught-up-is-ok", [(100, 120), (50, 120), (120, 120)], Code.OK, "caught_up"),
    ("S14-lag-growing-not-strictly-is-ok", lagging([10, 20, 20, 30, 40]), Code.OK, "consuming"),
    # A stopped consumer is judged on lagwatch's scrapes: log-end keeps moving, lag keeps growing.
    ("S15-stopped-consumer-lag-keeps-growing", [(50, 60 + 100 * i, False) for i in range(11)], Code.STOP, STOP_REASON),
    # Slow topic (Burrow #38/#303): caught up for an hour, then one new record: not STOP.
    ("S16-slow-topic-new-record-after-quiet-hour", [(50, 50, False)] * 120 + [(50, 51, False)], Code.OK, "consuming"),
    ("S17-commit-moves-but-lag-only-once-positive", [(10, 10), (10, 10), (10, 10), (10, 10), (10, 12)], Code.OK, "consuming"),
    # --- rewind, recovered rewind (Burrow rule 2; #714) ---
    # Burrow #7: back to 50, then a commit passes the offset before the step (110): recovered, judged as usual.
    ("S22-rewind-recovered-passes-previous-offset", [(100, 120), (110, 130), (50, 140), (120, 150), (130, 160)], Code.OK, "consuming"),
    ("S23-rewind-recovered-reaches-previous-offset-exactly", [(100, 120), (110, 130), (50, 140), (110, 150), (125, 160)], Code.OK, "consuming"),
    # Burrow #15: back to 50, climbing again but still below 110.
    ("S24-rewind-not-yet-recovered", [(100, 120), (110, 130), (50, 140), (100, 150), (105, 160)], Code.REWIND, "offset_rewound"),
    # Burrow #714's table: caught up, a rebalanced consumer commits an old offset (lag 10), then catches up.
    ("S25-rebalance-commits-old-offset-then-catches-up", [(10, 10), (20, 20), (30, 30), (20, 40), (30, 45)], Code.OK, "consuming"),
    ("S26-rewind-after-zero-lag-is-rewind", [(10, 10), (20, 20), (30, 30), (20, 40), (25, 45)], Code.REWIND, "offset_rewound"),
    # Differs: Burrow checks only the first backwards step, so a second, unrecovered rewind after a recovered
    # one is OK there; lagwatch checks every step.
    ("S27-second-rewind-not-recovered", [(100, 120), (50, 130), (110, 140), (60, 150), (70, 160)], Code.REWIND, "offset_rewound"),
    ("S28-rewind-recovered-while-window-filling", [(100, 120), (50, 130), (100, 140)], Code.OK, "window_filling"),
    # --- stalled (Burrow rule 4) ---
    ("S29-stall-with-the-same-lag-every-scrape", [(50, 60)] * 5, Code.STALL, "offset_not_moving"),  # Burrow #6
    # Burrow #4 / rule 1: lag zero once in the window: OK (the next scrape, with the zero gone, is STALL).
    ("S30-stuck-offset-but-lag-zero-once-in-window", [(50, 50), (50, 60), (50, 70), (50, 80), (50, 90)], Code.OK, "consuming"),
    ("S31-stuck-offset-lag-zero-aged-out", [(50, 50), (50, 60), (50, 70), (50, 80), (50, 90), (50, 100)], Code.STALL, "offset_not_moving"),
    # Burrow #11 (nil lags ignored): a scrape that could not read the partition neither breaks nor makes STALL.
    ("S32-stall-survives-an-unreadable-scrape", [(50, 60), (50, 61), (50, None, True, "LEADER_NOT_AVAILABLE"), (50, 63), (50, 64)], Code.STALL, "offset_not_moving"),
    # --- lagging (Burrow rule 5) ---
    ("S33-lag-growing-after-zero-lag-in-window", lagging([0, 10, 20, 30, 40]), Code.OK, "consuming"),  # Burrow #0
    ("S34-warn-across-an-unreadable-scrape", lagging([10, 20, 30, 40, 50])[:2] + [(120, None, True, "NOT_LEADER_OR_FOLLOWER")] + lagging([10, 20, 30, 40, 50])[3:], Code.WARN, "lag_growing"),
    # Differs: Burrow warns while lag never decreases, flat lag included; lagwatch needs lag to grow.
    ("S35-flat-lag-while-committing-is-ok", lagging([50, 50, 50, 50, 50]), Code.OK, "consuming"),
    # --- stopped (Burrow rule 3) and recent lag zero (#303) ---
    ("S36-no-consumer-one-scrape-before-stop-after", [(50, 60 + i, False) for i in range(10)], Code.OK, "no_consumer_within_stop_after"),
    # Burrow #2/#9 (#290): caught up earlier in the window does not prevent STOP once lag has held long enough...
    ("S37-caught-up-then-no-consumer-past-stop-after", [(50, 50, False)] * 6 + [(50, 51 + i, False) for i in range(11)], Code.STOP, STOP_REASON),
    # ...and Burrow #10 (recent lag zero): the clock starts at the first scrape with lag, so not yet.
    ("S38-recent-lag-zero-delays-stop", [(50, 50, False)] * 6 + [(50, 51 + i, False) for i in range(10)], Code.OK, "no_consumer_within_stop_after"),
    # A leader election in the middle does not restart STOP's stop_after_s countdown.
    ("S39-stop-clock-survives-an-unreadable-scrape", [(50, 60 + i, False) for i in range(6)] + [(50, None, False, "LEADER_NOT_AVAILABLE")] + [(50, 70 + i, False) for i in range(4)], Code.STOP, STOP_REASON),
    ("S40-stop-clock-survives-an-unreadable-committed-offset", [(50, 60 + i, False) for i in range(6)] + [(None, 66, False, "committed offset could not be read")] + [(50, 70 + i, False) for i in range(4)], Code.STOP, STOP_REASON),
    # A commit-only client (no members) that keeps committing new offsets is consuming, not STOP.
    ("S41-commit-only-client-consuming", lagging([5, 3, 6, 4, 5] * 3, owned=False), Code.OK, "consuming"),
    # --- missing data ---
    ("S42-commit-deleted-resets-stop-clock", [(50, 60 + i, False) for i in range(6)] + [(None, 66, False)] + [(50, 70 + i, False) for i in range(6)], Code.OK, "no_consumer_within_stop_after"),
    # Differs from Burrow's default (minimum-complete 0): STALL/WARN wait for a full window of commits.
    ("S43-first-commit-within-window-is-filling", [(None, 60), (50, 61), (50, 62), (50, 63), (50, 64)], Code.OK, "window_filling"),
]


@pytest.mark.parametrize("rows, code, reason", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_partition_status(rows, code, reason):
    status, _ = run(rows)
    assert (status.code, status.reason) == (code, reason)


def test_s18_no_samples_is_unsettled_ok():
    status = evaluate(PartitionWindow(), 0.0, CONFIG)
    assert status == Status(Code.OK, "no_data", settled=False)


def test_s19_rebalance_never_raises_warn_stall_or_stop():
    # Consumer keeps up (lag ~5), then a rebalance: for 3 scrapes nobody owns the partitions and the
    # offset is frozen while producers write 30/scrape; then it catches up.
    rows, log_end, committed = [], 100, 95
    for i in range(14):
        log_end += 30
        rebalancing = 5 <= i <= 7
        if not rebalancing:
            committed = log_end - (60 if i == 8 else 5)  # the first scrape after it is still catching up
        rows.append((committed, log_end, not rebalancing))
    seen = [run(rows[: n + 1])[0] for n in range(len(rows))]
    assert {s.code for s in seen} == {Code.OK}, [(s.code, s.reason) for s in seen]


def test_s20_stop_clock_survives_a_restart():
    # The clock restored from the state file (no samples): STOP at once, no new stop_after_s countdown.
    restored = PartitionWindow((), stuck_since=0.0, stuck_offset=50)
    window = push(restored, Sample(400.0, 50, 90, owned=False), CONFIG.window)
    assert evaluate(window, 400.0, CONFIG).code is Code.STOP
    # ...but not when the offset moved meanwhile.
    moved = push(restored, Sample(400.0, 60, 90, owned=False), CONFIG.window)
    assert evaluate(moved, 400.0, CONFIG).code is Code.OK and moved.stuck_since == 400.0


def test_s21_window_keeps_only_the_last_n_samples():
    _, window = run(lagging([1, 2, 3, 4, 5, 6, 7]))
    assert len(window.samples) == CONFIG.window


OK, OK_FILLING = Status(Code.OK, "consuming"), Status(Code.OK, "window_filling", settled=False)
GROUP_CASES = [
    ("G01-worst-partition-wins", [OK, Status(Code.STALL, "offset_not_moving"), Status(Code.WARN, "lag_growing")], None, Code.STALL, True),
    ("G02-stop-beats-rewind", [Status(Code.REWIND, "offset_rewound"), Status(Code.STOP, STOP_REASON)], None, Code.STOP, True),
    ("G03-group-unreadable-is-err", [OK], "COORDINATOR_NOT_AVAILABLE", Code.ERR, True),
    ("G04-ok-with-filling-partition-is-unsettled", [OK, OK_FILLING], None, Code.OK, False),
    ("G05-warn-next-to-filling-is-settled", [Status(Code.WARN, "lag_growing"), OK_FILLING], None, Code.WARN, True),
    ("G06-no-partitions", [], None, Code.OK, True),
    # Differs: Burrow shows a group with a STOP/STALL/REWIND partition as ERR; lagwatch keeps the code.
    ("G07-rewind-beats-warn", [Status(Code.WARN, "lag_growing"), Status(Code.REWIND, "offset_rewound")], None, Code.REWIND, True),
    ("G08-unreadable-partition-beats-stop", [Status(Code.STOP, STOP_REASON), Status(Code.ERR, "partition_unavailable")], None, Code.ERR, True),
]


@pytest.mark.parametrize("parts, error, code, settled", [c[1:] for c in GROUP_CASES], ids=[c[0] for c in GROUP_CASES])
def test_group_status_is_the_worst_partition(parts, error, code, settled):
    status = worst(parts, error)
    assert (status.code, status.settled) == (code, settled)


def test_a_commit_beyond_the_log_end_is_err_the_consumer_will_reset():
    window = PartitionWindow((Sample(at=100.0, committed=60, log_end=10),))
    got = evaluate(window, 100.0, CONFIG)
    assert (got.code, got.reason) == (Code.ERR, "committed_beyond_log_end")


# --- evaluate_report: the windows carried from one scrape to the next -----------------------------


def _report(at, groups, up=True, partitions=(("t", 0),)):
    """groups: {name: committed offset, or an error text}; every partition has log-end 100."""
    snap = ClusterSnapshot(
        cluster="c", taken_at=at, topics={"t": TopicInfo("t", len(partitions))},
        partitions={tp: PartitionOffsets(*tp, 100, log_start_offset=0, leader=1) for tp in partitions},
        groups=tuple(
            GroupObservation(g, "Empty", error=c) if isinstance(c, str)
            else GroupObservation(g, "Empty", committed={tp: c for tp in partitions})
            for g, c in groups.items()
        ),
        up=up,
    )
    return lag.build_report(snap, None, lag.update_histories({}, snap, None))


@pytest.mark.parametrize(
    "second, kept_samples, statuses",
    [
        (_report(30.0, {"a": 5, "b": 5}), {("a", "t", 0): 2, ("b", "t", 0): 2}, True),
        (_report(30.0, {"a": 5, "b": 5}, up=False), {("a", "t", 0): 1, ("b", "t", 0): 1}, False),  # down: as it was
        (_report(30.0, {"a": 5, "b": "CoordinatorNotAvailable"}), {("a", "t", 0): 2, ("b", "t", 0): 1}, True),
        (_report(30.0, {"a": 5}), {("a", "t", 0): 2}, True),  # b no longer reported: forgotten
    ],
    ids=["both-read", "cluster-down", "group-unreadable-kept", "group-gone"],
)
def test_evaluate_report_advances_each_window_once_and_keeps_unreadable_ones(second, kept_samples, statuses):
    windows, _ = evaluate_report({}, _report(0.0, {"a": 5, "b": 5}), 0.0, CONFIG)
    windows, got = evaluate_report(windows, second, 30.0, CONFIG)
    assert {k: len(w.samples) for k, w in windows.items()} == kept_samples
    assert (got is not None) is statuses
