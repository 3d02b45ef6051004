"""APScheduler wiring only: one interval job per cluster, started at every slot.

Two instances of a job may run at once, so the job of a slot starts on time even while the previous slot's
scrape overruns: the pipeline then records that slot as skipped (exporter/runtime/pipeline.py `run_slot`) instead of
APScheduler dropping it without a trace. Missed runs are coalesced into one; we log APScheduler's own skips.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timezone

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from exporter import logs


class _SlotTrigger(IntervalTrigger):
    """Runs on the multiples of the interval since the epoch, also after a run at another moment (the run at
    start): an interval counted from that run would put processes started at different times out of phase,
    and a shard handed from one to another could fall between their scrapes."""

    def get_next_fire_time(self, previous_fire_time, now):
        if previous_fire_time is None:
            return super().get_next_fire_time(previous_fire_time, now)
        step = self.interval_length
        boundary = math.floor(previous_fire_time.timestamp() / step + 1e-6) + 1
        return datetime.fromtimestamp(boundary * step, timezone.utc)


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
        options = {}
        if start_now:
            options["next_run_time"] = datetime.now(timezone.utc)
        # Without start_now, next_run_time is left out: APScheduler takes an explicit None as "paused".
        self._scheduler.add_job(
            job,
            _SlotTrigger(seconds=interval_s, start_date=aligned, timezone=timezone.utc),
            id=name,
            name=name,
            max_instances=2,
            coalesce=True,
            misfire_grace_time=max(1, int(interval_s)),
            replace_existing=True,
            **options,
        )

    def jobs(self) -> dict[str, datetime | None]:
        """Each job's next run time (None: paused): what the daemon's tests check after a reload."""
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

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
