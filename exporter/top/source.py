"""Where `lagwatch top` gets its numbers: the daemon's own pipeline per cluster, without a sink.

Each cluster has a ClusterPipeline (collector -> lag model -> statuses) with `sink=None`, so nothing is
written anywhere, and an Alerting that only evaluates statuses (no rules, no notifiers, no state file: the
view must not touch the daemon's alert state). Each cluster scrapes in its own thread every interval, so a
cluster that is down (its scrape waits on timeouts) never holds up the others or the screen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from exporter.evaluator.status import Statuses
from exporter.lag.model import LagReport
from exporter.top.screen import ClusterLine, Picture
from exporter.top.rows import GroupKey, GroupRow, advance_trends, group_rows


@dataclass(frozen=True)
class ClusterView:
    """One cluster as last seen: the latest good report (kept while the cluster is down) and its header."""

    line: ClusterLine
    report: LagReport | None = None
    statuses: Statuses | None = None
    rows: tuple[GroupRow, ...] = ()


def observe(
    view: ClusterView,
    report: LagReport | None,
    statuses: Statuses | None,
    trends: dict[GroupKey, tuple[int | None, ...]],
    now: float,
) -> tuple[ClusterView, dict[GroupKey, tuple[int | None, ...]]]:
    """The cluster after one scrape (`report` None: the cycle itself failed). Pure.

    A scrape that reached the cluster replaces everything. One that did not keeps the last good rows,
    marked stale, and the header says DOWN since when and why."""
    line = view.line
    if report is None or not report.snapshot.up:
        error = "scrape failed (see the log)"
        if report is not None and report.snapshot.errors:
            error = report.snapshot.errors[0].message
        down_since = line.down_since if line.state == "down" and line.down_since is not None else now
        rows = tuple(r if r.stale else _stale(r) for r in view.rows)
        new_line = ClusterLine(
            line.name, "down", line.interval_s, data_at=line.data_at, down_since=down_since, error=error,
            groups=line.groups,
        )
        return ClusterView(new_line, view.report, view.statuses, rows), trends
    trends = advance_trends(trends, report)
    snapshot = report.snapshot
    rows = tuple(group_rows(report, statuses, trends))
    group_errors = snapshot.errors
    new_line = ClusterLine(
        line.name,
        "up",
        line.interval_s,
        duration_s=snapshot.duration_s,
        requests=sum(snapshot.requests.values()),
        errors=len(snapshot.errors),
        first_error=f"{group_errors[0].scope} {group_errors[0].name}: {group_errors[0].message}" if group_errors else None,
        groups=len(report.groups),
        partial_groups=sum(1 for g in report.groups if g.lag_sum is None),
        data_at=snapshot.taken_at,
    )
    return ClusterView(new_line, report, statuses, rows), trends


def _stale(row: GroupRow) -> GroupRow:
    return replace(row, stale=True)


class Feed:
    """One cluster: its pipeline (which evaluates the statuses) and what the screen shows of it."""

    def __init__(self, pipeline, interval_s: float, clock=time.time):
        self.pipeline = pipeline
        self.interval_s = interval_s
        self.clock = clock
        self.name = pipeline.collector.cluster
        self.view = ClusterView(ClusterLine(self.name, "pending", interval_s))
        self.trends: dict[GroupKey, tuple[int | None, ...]] = {}

    def scrape_once(self) -> ClusterView:
        result = self.pipeline.run_once()  # never raises: failures come back as an up=false report or None
        report = result.report if result is not None else None
        statuses = result.statuses if result is not None else None  # None: unknown, lag is still shown
        self.view, self.trends = observe(self.view, report, statuses, self.trends, self.clock())
        return self.view

    def close(self) -> None:
        try:
            self.pipeline.collector.close()
        except Exception:  # noqa: BLE001 - closing a client that never connected
            pass


class Feeds:
    """Every cluster of the view; `picture()` is what the screen shows now (thread-safe, cached)."""

    def __init__(self, feeds: Sequence[Feed], clock=time.time):
        self.feeds = list(feeds)
        self.clock = clock
        self.version = 0  # bumped whenever any cluster's view changes
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._cached: tuple[int, Picture] | None = None

    def scrape_all_once(self) -> None:
        """One scrape of every cluster, side by side (for `--once`)."""
        threads = [threading.Thread(target=self._scrape, args=(f,), daemon=True) for f in self.feeds]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _scrape(self, feed: Feed) -> None:
        feed.scrape_once()
        with self._lock:
            self.version += 1

    def _loop(self, feed: Feed) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._scrape(feed)
            self._stop.wait(max(0.0, feed.interval_s - (time.monotonic() - started)))

    def start(self) -> None:
        for feed in self.feeds:
            thread = threading.Thread(target=self._loop, args=(feed,), name=f"top-{feed.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 3.0) -> None:
        """Stop scraping; a scrape stuck on the network is abandoned (daemon threads) after `timeout_s`."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for feed, thread in zip(self.feeds, self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
            if not thread.is_alive():
                feed.close()
        if not self._threads:
            for feed in self.feeds:
                feed.close()

    def picture(self) -> Picture:
        with self._lock:
            version = self.version
            cached = self._cached
        if cached is None or cached[0] != version:
            views = [f.view for f in self.feeds]
            rows = tuple(r for v in views for r in v.rows)
            reports = {v.line.name: (v.report, v.statuses) for v in views if v.report is not None}
            cached = (version, Picture(0.0, tuple(v.line for v in views), rows, reports))
            with self._lock:
                self._cached = cached
        return replace(cached[1], now=self.clock())

    @property
    def all_up(self) -> bool:
        return all(f.view.line.state == "up" for f in self.feeds)
