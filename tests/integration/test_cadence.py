"""The scrape cadence never depends on a sink, a notifier or a reload; SIGTERM is honoured at any time.

Each test runs the real daemon process (`lagwatch run`) against the harness's Kafka broker and Elasticsearch
node; slow or hung dependencies are a `Blackhole` (a port that accepts and never answers)."""

from __future__ import annotations

import signal
import time

import pytest

from tests.harness import Blackhole, RunningDaemon, daemon_config, start_daemon, unique, wait_for

pytestmark = pytest.mark.integration


def start(tmp_path, bootstrap: str, es_url: str, prefix: str, *, es=None, **sections) -> RunningDaemon:
    """The daemon scraping one cluster every second, its spool in tmp_path; `es`: Elasticsearch settings."""
    config = daemon_config("cad", bootstrap, es_url, prefix, request_timeout_s=5, elasticsearch=es,
                           scrape={"interval_s": 1}, spool={"dir": str(tmp_path / "spool")}, **sections)
    return start_daemon(tmp_path / "lagwatch.yaml", config)


def scrapes_during(daemon: RunningDaemon, window_s: float = 8.2) -> tuple[int, int]:
    """(scrapes finished, slots skipped) in the next `window_s` seconds: a measurement window of 8 slots of
    1 s (a sleep that measures, not one that waits for something), counted by each event's own timestamp."""
    from datetime import datetime

    def within(name: str) -> int:
        stamps = [datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")).timestamp()
                  for e in daemon.events(name)]
        return sum(since <= at < until for at in stamps)

    since = time.time()
    time.sleep(window_s)
    until = time.time()
    return within("scrape_done"), within("scrape_skipped")


def test_scraping_and_retention_go_on_after_two_sighups_with_an_unchanged_config(tmp_path, bootstrap, es_url, es):
    prefix = unique("hup")
    old_index = f"{prefix}-lag-2020.01.01"  # far older than retention_days: maintenance must delete it
    es.indices.create(index=old_index)
    daemon = start(tmp_path, bootstrap, es_url, prefix, es={"maintenance_interval_s": 2})
    try:
        daemon.wait_event("scrape_done")
        for reload_number in (1, 2):
            daemon.signal(signal.SIGHUP)
            daemon.wait_event("config_reloaded", count=reload_number)
        after = len(daemon.events("scrape_done"))
        daemon.wait_event("scrape_done", count=after + 3, timeout=20)  # still scraping after both reloads
        daemon.wait_event("maintenance_started", count=1, timeout=20)
        wait_for(lambda: not es.indices.exists(index=old_index), timeout=20, what="the old index pruned")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.kill()
        for name in es.indices.get(index=f"{prefix}-*", ignore_unavailable=True):
            es.indices.delete(index=name)


def test_sigterm_at_start_up_with_a_hung_elasticsearch_exits_within_ten_seconds(tmp_path, bootstrap):
    hung = Blackhole()
    daemon = start(tmp_path, bootstrap, hung.url, unique("hung"), es={"request_timeout_s": 30})
    try:
        daemon.wait_event("daemon_started")
        code, elapsed = daemon.terminate(timeout=20)
    finally:
        daemon.kill()
        hung.close()
    assert code == 0
    assert elapsed < 10, f"took {elapsed:.1f}s to exit"


def test_a_hung_elasticsearch_costs_no_scrape_and_its_documents_are_spooled(tmp_path, bootstrap):
    hung = Blackhole()
    daemon = start(tmp_path, bootstrap, hung.url, unique("slow"), es={"request_timeout_s": 10})
    try:
        daemon.wait_event("scrape_done")
        scraped, skipped = scrapes_during(daemon)  # while every delivery hangs for 10 s
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.kill()
        hung.close()
    assert scraped >= 7, f"only {scraped} of 8 slots scraped while Elasticsearch hung"
    # Only the window counts: a daemon started a few ms before a slot boundary honestly skips that first slot
    # (its first scrape, run at start, is still connecting), whatever Elasticsearch does.
    assert skipped == 0, daemon.events("scrape_skipped")
    spooled = sum(e["documents"] for e in daemon.events("documents_spooled"))
    assert spooled > 0  # what could not be delivered waits on disk


def test_a_hung_webhook_costs_no_scrape(tmp_path, bootstrap, es_url, kafka):
    topic = kafka.create_topic(unique("hook"), partitions=1)
    group = unique("hook-group")
    kafka.produce(topic, {0: 30})
    kafka.consume(group, topic, count=5)  # lag 25 from the first scrape on: the rule fires at once
    hung = Blackhole()
    alerts = {
        "state_path": str(tmp_path / "alerts.json"),
        "rules": [{"name": "lag", "groups": [group], "metric": "lag", "warn": 1}],
        "notifiers": [{"name": "hung", "url": hung.url + "/hook", "timeout_s": 5, "retries": 2, "backoff_s": 1}],
    }
    daemon = start(tmp_path, bootstrap, es_url, unique("hook"), alerts=alerts)
    try:
        daemon.wait_event("alert_fired", timeout=30)
        scraped, _ = scrapes_during(daemon)
        daemon.signal(signal.SIGTERM)
        code = daemon.wait_exit()
    finally:
        daemon.kill()
        hung.close()
    assert code == 0
    assert scraped >= 7, f"only {scraped} of 8 slots scraped while the webhook hung"
    assert not daemon.events("notification_sent")  # it really hung
