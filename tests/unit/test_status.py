"""Window-based statuses (exporter.evaluator.status): numbered table cases, one scrape every 30 s."""

from __future__ import annotations

import pytest

from exporter.evaluator.status import Code, PartitionWindow, Sample, Status, StatusConfig, evaluate, push, worst

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
    ("S10-no-consumer-past-stop-after", [(50, 60 + i, False) for i in range(11)], Code.STOP, "not_committing"),
    ("S11-member-stuck-long-is-stall-not-stop", [(50, 60 + i, True) for i in range(20)], Code.STALL, "offset_not_moving"),
    ("S12-offset-moved-backwards", [(100, 120), (110, 130), (50, 140), (60, 150), (70, 160)], Code.REWIND, "offset_rewound"),
    ("S13-rewind-then-caught-up-is-ok", [(100, 120), (50, 120), (120, 120)], Code.OK, "caught_up"),
    ("S14-lag-growing-not-strictly-is-ok", lagging([10, 20, 20, 30, 40]), Code.OK, "consuming"),
    # A stopped consumer is judged on lagwatch's scrapes: log-end keeps moving, lag keeps growing.
    ("S15-stopped-consumer-lag-keeps-growing", [(50, 60 + 100 * i, False) for i in range(11)], Code.STOP, "not_committing"),
    # Slow topic (Burrow #38/#303): caught up for an hour, then one new record: not STOP.
    ("S16-slow-topic-new-record-after-quiet-hour", [(50, 50, False)] * 120 + [(50, 51, False)], Code.OK, "consuming"),
    ("S17-commit-moves-but-lag-only-once-positive", [(10, 10), (10, 10), (10, 10), (10, 10), (10, 12)], Code.OK, "consuming"),
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
    ("G02-stop-beats-rewind", [Status(Code.REWIND, "offset_rewound"), Status(Code.STOP, "not_committing")], None, Code.STOP, True),
    ("G03-group-unreadable-is-err", [OK], "COORDINATOR_NOT_AVAILABLE", Code.ERR, True),
    ("G04-ok-with-filling-partition-is-unsettled", [OK, OK_FILLING], None, Code.OK, False),
    ("G05-warn-next-to-filling-is-settled", [Status(Code.WARN, "lag_growing"), OK_FILLING], None, Code.WARN, True),
    ("G06-no-partitions", [], None, Code.OK, True),
]


@pytest.mark.parametrize("parts, error, code, settled", [c[1:] for c in GROUP_CASES], ids=[c[0] for c in GROUP_CASES])
def test_group_status_is_the_worst_partition(parts, error, code, settled):
    status = worst(parts, error)
    assert (status.code, status.settled) == (code, settled)
