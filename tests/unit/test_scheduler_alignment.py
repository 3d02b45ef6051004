"""Runs fall on the interval's boundaries since the epoch, also after the run at start: processes started at
different moments scrape in phase (a shard's old and new owner, replicas of one static shard)."""

import threading
import time

from exporter.runtime.scheduler import Scheduler


def test_after_the_run_at_start_every_run_starts_on_a_boundary_of_the_interval():
    interval = 0.5
    runs: list[float] = []
    done = threading.Event()

    def job():
        runs.append(time.time())
        if len(runs) >= 4:
            done.set()

    while time.time() % interval < 0.1 or time.time() % interval > 0.4:  # start well off a boundary
        time.sleep(0.01)
    scheduler = Scheduler()
    scheduler.every("scrape:c1", interval, job, start_now=True)
    scheduler.start()
    try:
        assert done.wait(10)
    finally:
        scheduler.shutdown(wait=False)
    assert runs[0] % interval > 0.05  # the run at start: at once, off the boundary
    late = [round(t % interval, 3) for t in runs[1:]]
    assert all(offset < 0.1 for offset in late), late  # then on the boundaries (APScheduler wakes a bit after)
