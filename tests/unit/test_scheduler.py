"""The scheduler never stacks a slow scrape on top of itself."""

import threading
import time

from exporter.scheduler import Scheduler


def test_a_scrape_that_overruns_its_interval_is_never_run_twice_at_once():
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
    assert peak == 1
