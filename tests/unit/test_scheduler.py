"""The scheduler starts every slot on time and never leaves a job paused."""

import threading
import time

from exporter.runtime.scheduler import Scheduler


def test_a_slot_starts_on_time_while_the_previous_run_overruns():
    # The pipeline (run_slot) decides what an overlapping slot does; the scheduler must not drop it silently.
    running, peak, runs = 0, 0, 0
    lock = threading.Lock()

    def slow_scrape():
        nonlocal running, peak, runs
        with lock:
            running += 1
            runs += 1
            peak = max(peak, running)
        time.sleep(0.6)
        with lock:
            running -= 1

    scheduler = Scheduler()
    scheduler.every("scrape:slow", 0.2, slow_scrape)
    scheduler.start()
    deadline = time.monotonic() + 5
    while runs < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.shutdown(wait=True)
    assert runs >= 3
    assert peak == 2  # never more than two at once: the overrunning one and the slot that records the skip


def test_a_job_added_without_start_now_is_scheduled_not_paused():
    scheduler = Scheduler()
    scheduler.start()
    try:
        scheduler.every("maintenance", 3600, lambda: None, start_now=False)
        scheduler.every("scrape:c1", 30, lambda: None, start_now=False)
        jobs = scheduler.jobs()
        assert jobs["maintenance"] is not None and jobs["scrape:c1"] is not None
    finally:
        scheduler.shutdown(wait=False)


def test_re_adding_jobs_as_a_reload_does_keeps_them_running():
    calls = []
    scheduler = Scheduler()
    scheduler.start()
    try:
        for _ in range(3):  # three reloads: remove everything, add the kept cluster back at its next slot
            scheduler.remove_all()
            scheduler.every("scrape:kept", 0.2, lambda: calls.append(time.monotonic()), start_now=False)
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(calls) >= 3
    finally:
        scheduler.shutdown(wait=False)
