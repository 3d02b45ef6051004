"""`lagwatch top` without a terminal or Kafka: rows from LagReports, cells, sort/filter, keys, frames."""

from __future__ import annotations

import dataclasses

import pytest

from exporter.lag import report as lag
from exporter.evaluator.status import Code, Status, Statuses
from exporter.lag.model import (
    CatchUp,
    ClusterSnapshot,
    GroupObservation,
    Member,
    PartitionOffsets,
    ScrapeError,
    TimeLagQuality,
    TopicInfo,
)
from exporter.top import fmt, render
from exporter.top.render import ClusterLine, Picture
from exporter.top.rows import advance_trends, filter_rows, group_rows, partition_rows, sort_rows
from exporter.top.source import ClusterView, observe
from exporter.top.view import ViewState, decode_keys, press


# --- helpers ----------------------------------------------------------------------------------


def snapshot(at, log_ends, groups, cluster="c1", up=True, errors=()):
    names = sorted({t for t, _ in log_ends})
    topics = {n: TopicInfo(n, sum(1 for t, _ in log_ends if t == n), topic_id=f"{n}-v1") for n in names}
    return ClusterSnapshot(
        cluster=cluster, taken_at=at, topics=topics,
        partitions={tp: PartitionOffsets(tp[0], tp[1], end, log_start_offset=0) for tp, end in log_ends.items()},
        groups=tuple(groups), errors=tuple(errors), requests={"Metadata": 1, "OffsetFetch": 1}, duration_s=0.042,
        up=up,
    )


def build(snap, previous=None):
    return lag.build_report(snap, previous, lag.update_histories({}, snap, previous))


LOG_ENDS = {("orders", 0): 100, ("orders", 1): 50, ("payments", 0): 30}


def estate(at=1000.0):
    """Four groups: one lagging, one caught up, one partial (a committed offset unreadable), one that
    never committed."""
    member = Member("m-1", "billing-client", "/10.0.0.7", assignment=(("orders", 0), ("orders", 1)))
    groups = [
        GroupObservation("billing", "Stable", members=(member,), committed={("orders", 0): 40, ("orders", 1): 50},
                         group_type="classic"),
        GroupObservation("audit", "Empty", committed={("orders", 0): 100, ("orders", 1): 50}),
        GroupObservation("ledger", "Empty", committed={("payments", 0): 10},
                         committed_unread=(("orders", 1),), error=None),
        GroupObservation("fresh", "Stable", committed={}, members=(
            Member("m-2", "fresh-client", "/10.0.0.8", assignment=(("payments", 0),)),)),
    ]
    return build(snapshot(at, LOG_ENDS, groups))


def statuses_for(report, codes):
    return Statuses({}, {g: Status(Code(c), "test") for g, c in codes.items()})


def by_group(rows):
    return {r.group: r for r in rows}


# --- rows -------------------------------------------------------------------------------------


def test_group_rows_carry_lag_and_say_partial_instead_of_zero():
    rows = by_group(group_rows(estate(), None, {}))
    assert (rows["billing"].lag, rows["billing"].members, rows["billing"].state) == (60, 1, "Stable")
    assert rows["audit"].lag == 0
    ledger = rows["ledger"]
    assert ledger.lag is None and ledger.lag_known == 20 and ledger.partitions_unknown == 1
    assert rows["billing"].topics == ("orders",)


@pytest.mark.parametrize(
    "group, narrow, wide",
    [
        ("billing", "60", "60"),
        ("audit", "0", "0"),
        ("ledger", "≥20", "≥20 (1 unknown)"),
        ("fresh", "-", "-"),  # never committed: no lag, not 0
    ],
)
def test_lag_cell(group, narrow, wide):
    row = by_group(group_rows(estate(), None, {}))[group]
    assert fmt.group_lag(row) == narrow
    assert fmt.group_lag(row, wide=True) == wide


def test_lag_cell_is_unknown_when_nothing_could_be_read():
    row = by_group(group_rows(estate(), None, {}))["billing"]
    unread = dataclasses.replace(row, lag=None, lag_known=0, partitions_unknown=0)
    assert fmt.group_lag(unread) == "?"


def test_partition_rows_show_unknown_never_committed_and_owner():
    report = estate()
    rows = {(p.topic, p.partition): p for p in partition_rows(report, None, "ledger")}
    assert rows[("orders", 1)].lag_unknown
    assert fmt.partition_lag(rows[("orders", 1)].lag, True, None) == "?"
    assert fmt.partition_lag(rows[("orders", 0)].lag, False, rows[("orders", 0)].committed) == "-"
    billing = {(p.topic, p.partition): p for p in partition_rows(report, None, "billing")}
    assert billing[("orders", 0)].owner == "billing-client@10.0.0.7"
    assert (billing[("orders", 0)].committed, billing[("orders", 0)].log_end, billing[("orders", 0)].lag) == (40, 100, 60)


def test_trends_add_one_point_per_scrape_and_nothing_for_a_down_cluster():
    first = estate(1000.0)
    trends = advance_trends({}, first)
    assert trends[("c1", "billing")] == (60,)
    assert trends[("c1", "ledger")] == (None,)  # partial: unknown, not 0
    down = build(snapshot(1010.0, {}, [], up=False))
    assert advance_trends(trends, down) == trends
    for i in range(20):
        trends = advance_trends(trends, estate(1020.0 + i))
    assert len(trends[("c1", "billing")]) == 12
    gone = build(snapshot(2000.0, LOG_ENDS, [GroupObservation("audit", "Empty", committed={("orders", 0): 1})]))
    assert set(advance_trends(trends, gone)) == {("c1", "audit")}


# --- sort and filter --------------------------------------------------------------------------


def test_sort_by_lag_puts_unreadable_first_then_largest():
    rows = group_rows(estate(), None, {})
    assert [r.group for r in sort_rows(rows, "lag")] == ["billing", "ledger", "audit", "fresh"]


def test_sort_by_name_status_and_time():
    report = estate()
    rows = group_rows(report, statuses_for(report, {"billing": "WARN", "audit": "OK", "ledger": "ERR", "fresh": "OK"}), {})
    assert [r.group for r in sort_rows(rows, "name")] == ["audit", "billing", "fresh", "ledger"]
    assert [r.group for r in sort_rows(rows, "status")][:2] == ["ledger", "billing"]
    timed = [dataclasses.replace(r, lag_seconds=s) for r, s in zip(rows, (5.0, None, 90.0, 1.0))]
    assert [r.group for r in sort_rows(timed, "time")] == ["ledger", "billing", "fresh", "audit"]
    with pytest.raises(ValueError):
        sort_rows(rows, "size")


@pytest.mark.parametrize(
    "pattern, expected",
    [
        ("", {"billing", "audit", "ledger", "fresh"}),
        ("BILL", {"billing"}),  # case-insensitive
        ("payments", {"ledger", "fresh"}),  # by topic
        ("^(audit|fresh)$", {"audit", "fresh"}),  # a regex
        ("orders(", set()),  # not a valid regex: searched literally, no error
        ("c1", {"billing", "audit", "ledger", "fresh"}),  # by cluster
    ],
)
def test_filter(pattern, expected):
    assert {r.group for r in filter_rows(group_rows(estate(), None, {}), pattern)} == expected


# --- cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [(None, "?"), (0, "0"), (12345, "12,345"), (99_999_999, "99,999,999"), (123_456_789, "123M"), (4 * 10**9, "4G")],
)
def test_count(value, expected):
    assert fmt.count(value) == expected


@pytest.mark.parametrize(
    "seconds, quality, expected",
    [
        (None, TimeLagQuality.UNKNOWN, "?"),
        (0.0, TimeLagQuality.EXACT, "0s"),
        (75.0, TimeLagQuality.INTERPOLATED, "1m15s"),
        (7300.0, TimeLagQuality.AT_LEAST, "≥2h01m"),
        (90000.0, TimeLagQuality.INTERPOLATED, "1d01h"),
        (30.0, TimeLagQuality.UNKNOWN, "≥30s"),  # part of the aggregate unknown: a lower bound
        (None, TimeLagQuality.CLOCK_SKEW, "skew"),  # record times ahead of lagwatch's clock
    ],
)
def test_time_lag_cell(seconds, quality, expected):
    assert fmt.time_lag(seconds, quality) == expected


@pytest.mark.parametrize(
    "catch_up, seconds, narrow, wide",
    [
        (CatchUp.CAUGHT_UP, 0.0, "in sync", "caught up"),
        (CatchUp.FALLING_BEHIND, None, "behind", "falling behind"),
        (CatchUp.STEADY, None, "steady", "steady"),
        (CatchUp.CATCHING_UP, 200.0, "3m20s", "3m20s"),
        (CatchUp.UNKNOWN, None, "?", "?"),
    ],
)
def test_eta_cell(catch_up, seconds, narrow, wide):
    row = dataclasses.replace(group_rows(estate(), None, {})[0], catch_up=catch_up, catch_up_seconds=seconds)
    assert (fmt.eta(row), fmt.eta(row, wide=True)) == (narrow, wide)


def test_rates_cell_says_unknown_without_history():
    row = group_rows(estate(), None, {})[0]
    assert fmt.rates(row) == "?/?"
    assert fmt.rates(dataclasses.replace(row, consume_rate=12.0, produce_rate=0.5)) == "12/0.5"


@pytest.mark.parametrize(
    "points, width, expected",
    [
        ((0, 0, 0), 3, "▁▁▁"),
        ((0, 50, 100), 3, "▁▅█"),
        ((10, None, 10), 3, "█?█"),
        ((1, 2), 4, "  ▅█"),  # scaled from 0; newest always last
        ((1, 2, 3, 4, 5), 2, "▇█"),
    ],
)
def test_sparkline(points, width, expected):
    assert fmt.sparkline(points, width) == expected


def test_status_cell_marks_an_unsettled_ok_and_unknown():
    assert fmt.status(Status(Code.STALL, "x")) == "STALL"
    assert fmt.status(Status(Code.OK, "window_filling", settled=False)) == "OK…"
    assert fmt.status(None) == "?"


# --- keys -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, keys",
    [
        (b"q", ["q"]),
        (b"\x1b[A\x1b[B", ["up", "down"]),
        (b"\x1bOA", ["up"]),
        (b"\r", ["enter"]),
        (b"\x1b", ["esc"]),
        (b"/bi\x7f", ["/", "b", "i", "backspace"]),
        (b"\x1b[5~\x1b[6~", ["pgup", "pgdn"]),
        (b"\x1b[1;5Ax", ["x"]),  # an unknown sequence is skipped whole
        ("é".encode(), ["é"]),
    ],
)
def test_decode_keys(data, keys):
    assert decode_keys(data) == keys


def test_keys_sort_filter_open_and_back():
    visible = [("c1", "a"), ("c1", "b"), ("c1", "c")]
    state = ViewState()
    state = press(state, "t", visible)
    assert state.sort == "time"
    for key in "/bil":
        state = press(state, key, visible)
    assert state.editing == "bil" and state.filter == ""
    state = press(state, "q", visible)  # typing a q in the filter does not quit
    assert not state.quit and state.editing == "bilq"
    state = press(press(state, "backspace", visible), "enter", visible)
    assert (state.filter, state.editing) == ("bil", None)
    state = press(state, "down", visible)
    assert state.selected == ("c1", "b")  # nothing selected: the first line is highlighted, down moves to b
    state = press(state, "enter", visible)
    assert state.detail == ("c1", "b")
    state = press(state, "esc", visible)
    assert state.detail is None and state.selected == ("c1", "b")
    assert press(state, "esc", visible).filter == ""
    assert press(state, "q", visible).quit


def test_selection_follows_the_group_when_rows_are_resorted():
    state = ViewState(selected=("c1", "b"))
    assert press(state, "down", [("c1", "b"), ("c1", "a"), ("c1", "c")]).selected == ("c1", "a")
    assert press(state, "end", [("c1", "b"), ("c1", "a")]).selected == ("c1", "a")
    assert press(state, "enter", []).detail is None


# --- frames -----------------------------------------------------------------------------------


def picture(report=None, statuses=None, line=None, now=1000.0):
    report = report or estate()
    line = line or ClusterLine("c1", "up", 10.0, duration_s=0.042, requests=2, groups=4, partial_groups=1, data_at=1000.0)
    return Picture(now, (line,), tuple(group_rows(report, statuses, {})), {"c1": (report, statuses)})


def test_frame_fits_80x24_with_every_column_but_type():
    lines = render.frame(picture(), ViewState(), 80, 24)
    text = [line.plain for line in lines]
    assert len(text) == 24 and all(len(t) <= 80 for t in text)
    header = next(t for t in text if "GROUP" in t)
    for title in ("GROUP", "STATE", "MEM", "LAG", "TIME LAG", "TREND", "CONS/PROD", "ETA", "STATUS"):
        assert title in header
    assert "TYPE" not in header
    assert "c1: scrape 42 ms · 2 requests · 0 errors · 4 groups · 1 partial" in text[1]
    ledger = next(t for t in text if "ledger" in t)
    assert ledger.startswith("ledger ") and "≥20" in ledger
    assert text[-1].startswith("q quit")


def test_wider_frame_shows_type_and_how_many_partitions_are_unknown():
    text = render.plain(render.frame(picture(), ViewState(), 160, 24))
    assert "TYPE" in text and "≥20 (1 unknown)" in text and "classic" in text


def test_once_frame_has_every_row_and_no_footer():
    lines = render.frame(picture(), ViewState(sort="name"), 100, None)
    text = render.plain(lines).splitlines()
    assert [t.split()[0] for t in text[3:]] == ["audit", "billing", "fresh", "ledger"]
    assert not any(t.startswith("q quit") for t in text)


def test_frames_of_any_size_never_raise():
    pic = picture()
    for state in (ViewState(), ViewState(detail=("c1", "billing")), ViewState(editing="x")):
        for width in (1, 20, 33, 57, 80, 101, 250):
            for height in (1, 2, 3, 5, 8, 24, 60):
                lines = render.frame(pic, state, width, height)
                assert len(lines) == height
                assert all(len(line.plain) <= max(20, width) for line in lines)


def test_filtered_frame_says_so_and_shows_only_matches():
    text = render.plain(render.frame(picture(), ViewState(filter="led"), 80, 24))
    assert "1 of 4 groups · filter: led" in text
    assert "ledger" in text and "billing" not in text


def test_detail_frame_lists_partitions_with_offsets_owner_and_unknown():
    text = render.plain(render.frame(picture(), ViewState(detail=("c1", "billing")), 100, 24))
    assert "c1 / billing · Stable · classic · 1 members · ?" in text  # no statuses evaluated: unknown
    assert "lag 60 · time lag " in text
    assert "topic orders: 2 partitions · lag 60" in text
    row = next(t for t in text.splitlines() if t.startswith("orders") and " 40 " in t)
    assert row.split()[:5] == ["orders", "0", "40", "100", "60"] and "billing-client@10.0.0.7" in row
    ledger = render.plain(render.frame(picture(), ViewState(detail=("c1", "ledger")), 100, None))
    assert "lag ≥20 (1 unknown)" in ledger
    unread = next(t for t in ledger.splitlines() if t.startswith("orders") and t.split()[1] == "1")
    assert unread.split()[4] == "?"


def test_detail_of_a_group_that_is_gone_says_so():
    text = render.plain(render.frame(picture(), ViewState(detail=("c1", "nope")), 80, 10))
    assert "group nope is not in the latest scrape of cluster c1" in text


# --- a cluster that goes away -----------------------------------------------------------------


def test_down_cluster_keeps_last_rows_marked_stale_and_header_says_down():
    view = ClusterView(ClusterLine("c1", "pending", 10.0))
    view, trends = observe(view, estate(1000.0), None, {}, 1000.0)
    assert view.line.state == "up" and len(view.rows) == 4
    down = build(snapshot(1010.0, {}, [], up=False, errors=[ScrapeError("cluster", "c1", "KafkaConnectError: refused")]))
    view, trends = observe(view, down, None, trends, 1010.0)
    view, trends = observe(view, down, None, trends, 1020.0)
    assert view.line.state == "down" and view.line.down_since == 1010.0 and view.line.data_at == 1000.0
    assert all(r.stale for r in view.rows)
    pic = Picture(1025.0, (view.line,), view.rows, {"c1": (view.report, None)})
    lines = render.frame(pic, ViewState(), 120, 24)
    assert "DOWN since" in lines[1].plain and "KafkaConnectError: refused" in lines[1].plain
    assert "rows from" in lines[1].plain and "(stale)" in lines[1].plain
    assert all("dim" in str(line.style) for line in lines if "billing" in line.plain)
    view, _ = observe(view, estate(1030.0), None, trends, 1030.0)
    assert view.line.state == "up" and not any(r.stale for r in view.rows)


def test_failed_cycle_is_down_too():
    view, _ = observe(ClusterView(ClusterLine("c1", "pending", 10.0)), None, None, {}, 5.0)
    assert view.line.state == "down" and "scrape failed" in view.line.error


def test_a_new_scrape_releases_what_was_remembered_of_the_old_one():
    old, new = picture(), picture(estate(2000.0))
    render.frame(old, ViewState(), 80, 24)
    render.frame(old, ViewState(detail=("c1", "billing")), 80, 24)
    assert any(hit[0] is old.rows for hit in render._memo.values())
    render.frame(new, ViewState(), 80, 24)
    kept = [hit[0] for hit in render._memo.values()]
    assert all(source is not old.rows and source is not old.reports["c1"][0] for source in kept)


def test_remembered_order_follows_the_sort_and_filter():
    pic = picture()
    names = lambda state: [line.plain.split()[0] for line in render.frame(pic, state, 100, None)[3:]]
    assert names(ViewState(sort="name")) == ["audit", "billing", "fresh", "ledger"]
    assert names(ViewState(sort="lag")) == ["billing", "ledger", "audit", "fresh"]
    assert names(ViewState(sort="name", filter="l")) == ["billing", "ledger"]


# --- the command line -------------------------------------------------------------------------


def run_cli(*args: str, env: dict | None = None):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "exporter.cli", *args], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


@pytest.mark.parametrize(
    "args, says",
    [
        (["top", "--bootstrap", "kafka-without-port", "--once"], "clusters[0].bootstrap_servers"),
        (["once", "--bootstrap", "kafka-without-port"], "clusters[0].bootstrap_servers"),
        (["top", "--bootstrap", "k:9092", "--security-protocol", "SASL_SSL", "--once"], "clusters[0].security"),
        (["top", "--bootstrap", "k:9092", "--once", "--scrapes", "0"], "--scrapes"),
        (["top", "--bootstrap", "k:9092", "--interval", "0.1"], "--interval"),
        (["top", "--bootstrap", "k:9092", "--sort", "size"], "invalid choice"),
        (["top", "--bootstrap", "127.0.0.1:1"], "needs a terminal"),  # stdin is not a terminal here
    ],
)
def test_bad_top_and_quick_once_options_exit_2_naming_the_field(args, says):
    result = run_cli(*args)
    assert result.returncode == 2, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr


def test_the_password_file_is_read_and_never_printed(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("s3cret-Pa55word\n")
    result = run_cli("top", "--bootstrap", "127.0.0.1:1", "--security-protocol", "SASL_PLAINTEXT",
                     "--sasl-mechanism", "PLAIN", "--username", "u", "--password-file", str(secret), "--once",
                     env={"LAGWATCH_CLUSTERS__0__REQUEST_TIMEOUT_S": "1"})
    assert result.returncode == 1  # nothing listens there: down, not a usage error
    assert "DOWN since" in result.stdout
    assert "s3cret-Pa55word" not in result.stdout + result.stderr
