"""Signals on the real daemon process: SIGTERM exits 0 in time, SIGHUP reloads or rejects a config."""

from __future__ import annotations

import os
import signal

import pytest

from devstack import KafkaBroker
from tests.harness import daemon_config, start_daemon, unique, wait_for, write_config

pytestmark = pytest.mark.integration


def connected_to(port: int) -> bool:
    """Some socket on this machine has an established connection to 127.0.0.1:`port` (the kernel accepts
    connections for a stopped process, so this is how we know the scrape is now waiting on it)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote, state = fields[2], fields[3]
            if state == "01" and int(remote.rsplit(":", 1)[1], 16) == port:
                return True
    return False


def config(bootstrap: str, es_url: str, **scrape) -> dict:
    """Cluster `sig` scraped every 2 s (or as `scrape` says), a fresh index prefix each time."""
    return daemon_config("sig", bootstrap, es_url, unique("sig"), request_timeout_s=30,
                         scrape={"interval_s": 2, **scrape})


def test_sighup_applies_a_valid_config_and_keeps_the_old_one_when_invalid(tmp_path, bootstrap, es_url):
    path = tmp_path / "lagwatch.yaml"
    daemon = start_daemon(path, config(bootstrap, es_url))
    try:
        daemon.wait_event("scrape_done")
        path.write_text("clusters: []\nscrape: {interval_s: -1}\n")
        daemon.signal(signal.SIGHUP)
        (rejected,) = daemon.wait_event("config_reload_rejected")
        assert any(p.startswith("clusters") for p in rejected["problems"])
        scrapes = len(daemon.events("scrape_done"))
        daemon.wait_event("scrape_done", count=scrapes + 1)  # still scraping with the old config

        write_config(path, config(bootstrap, es_url, granularity="group"))
        daemon.signal(signal.SIGHUP)
        (reloaded,) = daemon.wait_event("config_reloaded")
        assert reloaded["started"] == ["sig"]  # granularity changed: the cluster's pipeline was rebuilt
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.kill()


def test_sigterm_exits_zero_within_ten_seconds_even_while_a_scrape_hangs(tmp_path, es_url):
    broker = KafkaBroker().start()
    os.kill(broker.pid, signal.SIGSTOP)  # accepts connections, answers nothing: the first scrape hangs
    daemon = start_daemon(tmp_path / "lagwatch.yaml", config(broker.bootstrap, es_url, interval_s=30))
    try:
        daemon.wait_event("daemon_started")
        port = int(broker.bootstrap.rsplit(":", 1)[1])
        wait_for(lambda: connected_to(port), what="the first scrape connected to the frozen broker")
        code, elapsed = daemon.terminate(timeout=15)
    finally:
        daemon.kill()
        os.kill(broker.pid, signal.SIGCONT)
        broker.stop()
    assert code == 0
    assert elapsed < 10, f"took {elapsed:.1f}s to exit"
    names = [e["event"] for e in daemon.events()]
    assert "scrape_done" not in names  # the scrape really was stuck when the signal came
    assert names[-2:] == ["scrape_abandoned", "daemon_stopped"]
