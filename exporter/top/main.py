"""`lagwatch top`: builds the feeds from a validated Config and shows them, live or as one frame."""

from __future__ import annotations

import io
import os
import shutil
import signal
import sys
import time
from collections import deque
from pathlib import Path

from rich.console import Console

from exporter import logs

from exporter.runtime import wiring
from exporter.runtime.signals import stop_event
from exporter.alerts.engine import Alerting
from exporter.config import Config
from exporter.evaluator.status import StatusConfig
from exporter.runtime.pipeline import ClusterPipeline
from exporter.top import render
from exporter.top.source import Feed, Feeds
from exporter.top.view import ViewState


class _Ring:
    """Where log lines go while the screen is ours: the last few are kept, none is drawn over the view."""

    def __init__(self, size: int = 200):
        self.lines: deque[str] = deque(maxlen=size)

    def write(self, text: str) -> int:
        self.lines.append(text)
        return len(text)

    def flush(self) -> None:
        pass


def feeds(config: Config, interval_s: float | None = None) -> Feeds:
    """One feed per cluster: the daemon's collector and lag model, statuses, and no sink."""
    interval = interval_s or config.scrape.interval_s
    made = []
    for cluster in config.clusters:
        alerting = Alerting(
            cluster.name,
            status_config=StatusConfig(config.alerts.window, config.alerts.stop_after_s) if config.alerts.status else None,
        )  # no store, rules or notifiers: the view never touches the daemon's alert state
        pipeline = ClusterPipeline(
            wiring.collector(config, cluster),
            None,
            granularity="group",  # the pipeline builds documents even without a sink: the fewest
            interval_s=interval,
            items_per_record=config.items_per_record,
            **wiring.time_lag_options(config),
            scrape_timeout_s=min(config.scrape.effective_timeout_s, 0.8 * interval),
            keep_documents=False,
            evaluate=alerting.evaluate,
        )
        made.append(Feed(pipeline, interval))
    return Feeds(made)


def _detail_key(config: Config, group: str | None):
    """`--group NAME` or `--group CLUSTER/NAME`: the group to open."""
    if not group:
        return None
    names = {c.name for c in config.clusters}
    cluster, sep, name = group.partition("/")
    if sep and cluster in names:
        return (cluster, name)
    return (config.clusters[0].name, group)


def once(
    config: Config,
    state: ViewState,
    width: int | None,
    interval_s: float | None = None,
    scrapes: int = 1,
    svg: str | None = None,
    height: int | None = None,
) -> int:
    """Scrape every cluster (`scrapes` times, an interval apart: rates and trends need two or more) and
    print the last frame: every group, or with `height` exactly what a screen that high shows (key help
    included); with `svg`, also save it as an SVG picture. Exit 1 when a cluster is down."""
    view = feeds(config, interval_s)
    try:
        for index in range(scrapes):
            started = time.monotonic()
            view.scrape_all_once()
            if index < scrapes - 1:
                time.sleep(max(0.0, view.feeds[0].interval_s - (time.monotonic() - started)))
        picture = view.picture()
    finally:
        view.stop()
    columns = width or shutil.get_terminal_size((80, 24)).columns
    lines = render.frame(picture, state, columns, height)
    if sys.stdout.isatty():
        console = Console(width=columns, highlight=False, soft_wrap=False)
        for line in lines:
            console.print(line, no_wrap=True, overflow="crop")
    else:
        print(render.plain(lines))  # no colours, no escapes: for scripts and tests
    if svg:
        recorder = Console(width=columns, record=True, file=io.StringIO(), force_terminal=True, color_system="truecolor")
        for line in lines:
            recorder.print(line, no_wrap=True, overflow="crop")
        Path(svg).write_text(recorder.export_svg(title="lagwatch top"), encoding="utf-8")
    return 0 if view.all_up else 1


def live(
    config: Config, state: ViewState, interval_s: float | None = None, log_file: str | None = None, stop=None
) -> int:
    from exporter.top.live import NotATerminal, run

    if not (os.isatty(0) and sys.stdout.isatty()):  # before connecting anywhere
        print("lagwatch: lagwatch top needs a terminal; use --once to print one frame", file=sys.stderr)
        return 2
    if stop is None:
        # SIGTERM, or SIGHUP when the terminal or the ssh session goes away: leave the loop so the terminal
        # is restored, rather than die with it in cbreak mode on the alternate screen.
        stop = stop_event((signal.SIGTERM, signal.SIGHUP))
    stream = open(log_file, "a", encoding="utf-8") if log_file else _Ring()
    logs.configure(config.log.level, config.log.format, stream=stream)
    view = feeds(config, interval_s)
    try:
        view.start()
        run(view, state, stop=stop)
    except NotATerminal as exc:
        print(f"lagwatch: {exc}", file=sys.stderr)
        return 2
    finally:
        view.stop()  # the log file is left open: a scrape abandoned mid-network may still log a line
    return 0


def detail_state(config: Config, sort: str, pattern: str, group: str | None) -> ViewState:
    key = _detail_key(config, group)
    return ViewState(sort=sort, filter=pattern, detail=key, selected=key)
