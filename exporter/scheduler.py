"""APScheduler wiring only: one interval job per cluster, never two runs of one job at once.

A run that overruns its interval is not stacked: APScheduler skips the next start (max_instances=1)
and coalesces missed runs into one; we log each skip as `scrape_overrun`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timezone

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from exporter import logs


class Scheduler:
    def __init__(self, max_workers: int = 8):
        self.max_workers = max_workers
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=max_workers)}, timezone=timezone.utc
        )
        self._scheduler.add_listener(self._on_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
        self.log = logs.get()

    def every(self, name: str, interval_s: float, job: Callable[[], object], start_now: bool = True) -> None:
        """Run `job` now (if start_now) and then at every multiple of the interval since the epoch, so that
        replicas of one shard scrape in the same slot and write the same document ids."""
        aligned = datetime.fromtimestamp(math.ceil(time.time() / interval_s) * interval_s, timezone.utc)
        self._scheduler.add_job(
            job,
            "interval",
            seconds=interval_s,
            start_date=aligned,
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(interval_s)),
            next_run_time=datetime.now(timezone.utc) if start_now else None,
            replace_existing=True,
        )

    def remove_all(self) -> None:
        self._scheduler.remove_all_jobs()

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self, wait: bool = True) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    def _on_event(self, event) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            self.log.warning("scrape_overrun", job=event.job_id, detail="previous scrape still running; skipped")
        elif event.code == EVENT_JOB_MISSED:
            self.log.warning("scrape_missed", job=event.job_id)
        elif event.code == EVENT_JOB_ERROR:
            self.log.error("job_failed", job=event.job_id, error=repr(event.exception))
