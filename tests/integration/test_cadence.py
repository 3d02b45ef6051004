"""The scrape cadence never depends on a sink, a notifier or a reload; SIGTERM is honoured at any time.

Each test runs the real daemon process (`lagwatch run`) against the harness's Kafka broker and Elasticsearch
node; slow or hung dependencies are a `Blackhole` (a port that accepts and never answers)."""

from __future__ import annotations

import signal
import time

import pytest
import yaml

from tests.harness import Blackhole, RunningDaemon, unique, wait_for

pytestmark = pytest.mark.integration


def write_config(path, bootstrap: str, es_url: str, prefix: str, *, interval_s=1, alerts=None, es=None) -> None:
    config = {
        "clusters": [{"name": "cad", "bootstrap_servers": [bootstrap], "request_timeout_s": 5}],
        "scrape": {"interval_s": interval_s},
        "elasticsearch": {"hosts": [es_url], "index_prefix": prefix, **(es or {})},
        "spool": {"dir": str(path.parent / "spool")},
    }
    if alerts:
        config["alerts"] = alerts
    path.write_text(yaml.safe_dump(config))


def slots_scraped(daemon: RunningDaemon, since: float, until: float) -> int:
    """Scrapes the daemon finished between two wall-clock times (scrape_done carries its own timestamp)."""
    from datetime import datetime

    count = 0
    for event in daemon.events("scrape_done"):
        at = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
        count += since <= at < until
    return count


def test_scraping_and_retention_go_on_after_two_sighups_with_an_unchanged_config(tmp_path, bootstrap, es_url, es):
    prefix = unique("hup")
    old_index = f"{prefix}-lag-2020.01.01"  # far older than retention_days: maintenance must delete it
    es.indices.create(index=old_index)
    path = tmp_path / "lagwatch.yaml"
    write_config(path, bootstrap, es_url, prefix, es={"maintenance_interval_s": 2})
    daemon = RunningDaemon(str(path))
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
    path = tmp_path / "lagwatch.yaml"
    write_config(path, bootstrap, hung.url, unique("hung"), es={"request_timeout_s": 30})
    daemon = RunningDaemon(str(path))
    try:
        daemon.wait_event("daemon_started")
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        code = daemon.wait_exit(timeout=20)
        elapsed = time.monotonic() - started
    finally:
        daemon.kill()
        hung.close()
    assert code == 0
    assert elapsed < 10, f"took {elapsed:.1f}s to exit"


def test_a_hung_elasticsearch_costs_no_scrape_and_its_documents_are_spooled(tmp_path, bootstrap):
    hung = Blackhole()
    path = tmp_path / "lagwatch.yaml"
    write_config(path, bootstrap, hung.url, unique("slow"), es={"request_timeout_s": 10})
    daemon = RunningDaemon(str(path))
    try:
        daemon.wait_event("scrape_done")
        since = time.time()
        time.sleep(8.2)  # a measurement window: 8 slots of 1 s, while every delivery hangs for 10 s
        until = time.time()
        scraped = slots_scraped(daemon, since, until)
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.kill()
        hung.close()
    assert scraped >= 7, f"only {scraped} of 8 slots scraped while Elasticsearch hung"
    assert not daemon.events("scrape_skipped")
    spooled = sum(e["documents"] for e in daemon.events("documents_spooled"))
    assert spooled > 0  # what could not be delivered waits on disk


def test_a_hung_webhook_costs_no_scrape(tmp_path, bootstrap, es_url, kafka):
    topic = kafka.create_topic(unique("hook"), partitions=1)
    group = unique("hook-group")
    kafka.produce(topic, {0: 30})
    kafka.consume(group, topic, count=5)  # lag 25 from the first scrape on: the rule fires at once
    hung = Blackhole()
    path = tmp_path / "lagwatch.yaml"
    alerts = {
        "state_path": str(tmp_path / "alerts.json"),
        "rules": [{"name": "lag", "groups": [group], "metric": "lag", "warn": 1}],
        "notifiers": [{"name": "hung", "url": hung.url + "/hook", "timeout_s": 5, "retries": 2, "backoff_s": 1}],
    }
    write_config(path, bootstrap, es_url, unique("hook"), alerts=alerts)
    daemon = RunningDaemon(str(path))
    try:
        daemon.wait_event("alert_fired", timeout=30)
        since = time.time()
        time.sleep(8.2)
        until = time.time()
        scraped = slots_scraped(daemon, since, until)
        daemon.signal(signal.SIGTERM)
        code = daemon.wait_exit()
    finally:
        daemon.kill()
        hung.close()
    assert code == 0
    assert scraped >= 7, f"only {scraped} of 8 slots scraped while the webhook hung"
    assert not daemon.events("notification_sent")  # it really hung
