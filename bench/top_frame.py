"""What a frame of `lagwatch top` costs on a large estate: rows, sort, render, and the process's memory.

    python -m bench.estate --bootstrap 127.0.0.1:9092 --estate W      # build the estate first
    python -m bench.top_frame --bootstrap 127.0.0.1:9092

Scrapes the cluster twice through the view's own feeds (exporter/top/main.py: ClusterPipeline without a
sink, statuses evaluated; broker time probes off as in bench/scrape_once.py), then times, each the median
of several runs: building the group rows from the report, a frame at 80x24 and 200x50 for every sort key
with the sort not yet cached (what a new scrape or a new sort key costs) and cached (what a key press or a
clock tick costs), the cached frame drawn by Rich into an in-memory terminal (escape codes included), a
filter, an opened group, and the whole `--once` frame of every group. RSS is read
from /proc/self/status (VmRSS now, VmHWM peak).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
import tracemalloc

from rich.console import Console, Group

from exporter import config as config_module
from exporter.top import main as top, render
from exporter.top.rows import SORT_KEYS, group_rows
from exporter.top.view import ViewState


def rss_mb() -> dict[str, float]:
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values


def rows_mb(make) -> float:
    """Memory the made object holds, as tracemalloc counts it."""
    tracemalloc.start()
    made = make()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del made
    return held / 2**20


def median_s(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.top_frame", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--groups", default=".*", help="regex of the groups to scrape (default: all)")
    args = parser.parse_args(argv)
    config = config_module.parse(
        {
            "clusters": [{"name": "bench", "bootstrap_servers": [args.bootstrap], "request_timeout_s": 120}],
            "scrape": {"interval_s": 300, "groups_per_request": 2000},
            "time_lag": {"broker_probes": False},
            "groups": {"allow": [args.groups]},
        },
        environ={},
    )
    result: dict = {"rss_start_mb": rss_mb()}
    feeds = top.feeds(config)
    scrapes = []
    for _ in range(2):
        started = time.perf_counter()
        feeds.scrape_all_once()
        scrapes.append(time.perf_counter() - started)
    feed = feeds.feeds[0]
    view = feed.view
    assert view.line.state == "up", view.line
    report, statuses = view.report, view.statuses
    result.update(
        groups=len(report.groups), partitions=len(report.partitions), scrape_s=scrapes,
        rss_after_scrapes_mb=rss_mb(),
        group_rows_s=median_s(lambda: group_rows(report, statuses, feed.trends), args.runs),
        group_rows_mb=rows_mb(lambda: group_rows(report, statuses, feed.trends)),
    )
    picture = feeds.picture()
    frames = {}
    for width, height in ((80, 24), (200, 50)):
        for sort in SORT_KEYS:
            state = ViewState(sort=sort)

            def cold():
                render._memo.clear()
                render.frame(picture, state, width, height)

            frames[f"{width}x{height} sort={sort} uncached"] = median_s(cold, args.runs)
            render.frame(picture, state, width, height)
            frames[f"{width}x{height} sort={sort} cached"] = median_s(
                lambda: render.frame(picture, state, width, height), args.runs
            )
    for width, height in ((80, 24), (200, 50)):
        terminal = Console(file=io.StringIO(), width=width, height=height, force_terminal=True, color_system="truecolor")

        def draw():
            terminal.file.seek(0)
            terminal.file.truncate()
            terminal.print(Group(*render.frame(picture, ViewState(), width, height)))

        frames[f"{width}x{height} cached, drawn to a terminal"] = median_s(draw, args.runs)
    some_group = report.groups[len(report.groups) // 2].group
    frames["80x24 filter uncached"] = median_s(
        lambda: (render._memo.clear(), render.frame(picture, ViewState(filter=some_group[-4:]), 80, 24)), args.runs
    )
    started = time.perf_counter()
    render._memo.clear()
    render.frame(picture, ViewState(detail=("bench", some_group)), 80, 24)
    frames["80x24 opened group, first time (partitions indexed by group)"] = time.perf_counter() - started
    frames["80x24 opened group"] = median_s(
        lambda: render.frame(picture, ViewState(detail=("bench", some_group)), 80, 24), args.runs
    )
    started = time.perf_counter()
    text = render.plain(render.frame(picture, ViewState(), 120, None))
    frames["--once, every group, 120 columns"] = time.perf_counter() - started
    result.update(frames_s=frames, once_lines=text.count("\n") + 1, rss_end_mb=rss_mb())
    feeds.stop()
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
