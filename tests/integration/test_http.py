"""/healthz, /readyz and /metrics of a real daemon run (in-process, real broker and Elasticsearch)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from kafka.structs import TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from exporter import config as config_module

from exporter.runtime.daemon import Daemon
from devstack.common import free_port
from tests.harness import unique, wait_for

pytestmark = pytest.mark.integration


def get(port: int, path: str) -> tuple[int, str, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def make_daemon(bootstrap: str, es_url: str, group: str, prefix: str, tmp_path, **spool) -> Daemon:
    config = config_module.parse(
        {
            "clusters": [{"name": "web", "bootstrap_servers": bootstrap, "request_timeout_s": 2}],
            "groups": {"allow": [group]},
            "scrape": {"interval_s": 1},
            "time_lag": {"broker_probes": False},
            "elasticsearch": {"hosts": [es_url], "index_prefix": prefix, "request_timeout_s": 3},
            "spool": {"dir": str(tmp_path / "spool"), **spool},
            "http": {"host": "127.0.0.1", "port": 0},
        },
        environ={},
    )
    return Daemon(config)


def samples(text: str) -> dict[tuple, float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_health_readiness_and_prometheus_metrics_of_a_running_daemon(kafka, es, es_url, tmp_path):
    topic = kafka.create_topic(unique("http"), partitions=2)
    kafka.produce(topic, {0: 10, 1: 5})
    group = unique("http-group")
    kafka.commit(group, {TopicPartition(topic, 0): 3, TopicPartition(topic, 1): 1})
    prefix = unique("lwhttp")
    daemon = make_daemon(kafka.bootstrap, es_url, group, prefix, tmp_path)
    daemon.start()
    try:
        port = daemon.http.port
        assert get(port, "/healthz")[0] == 200
        # Ready once a scrape went out and its delivery (off the scrape path) reached Elasticsearch.
        status, body, _ = wait_for(
            lambda: (r := get(port, "/readyz"))[0] == 200 and json.loads(r[1])["sink"]["reachable"] and r,
            what="ready with the sink reached",
        )
        ready = json.loads(body)
        assert ready["ready"] and ready["clusters"]["web"]["ready"] and ready["sink"]["reachable"]
        status, text, headers = get(port, "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=")
        values = samples(text)
        assert values[("lagwatch_group_lag", (("cluster", "web"), ("group", group)))] == 11
        info = (("cluster", "web"), ("group", group), ("state", "Empty"), ("type", "classic"))
        assert values[("lagwatch_group_info", info)] == 1
        assert values[("lagwatch_group_topic_lag", (("cluster", "web"), ("group", group), ("topic", topic)))] == 11
        assert values[("lagwatch_up", (("cluster", "web"),))] == 1
        assert values[("lagwatch_scrapes_total", (("cluster", "web"), ("result", "ok")))] >= 1
        assert values[("lagwatch_kafka_requests_total", (("api", "Metadata"), ("cluster", "web")))] >= 1
        assert ("lagwatch_scrape_duration_seconds", (("cluster", "web"),)) in values
        assert values[("lagwatch_spool_bytes", ())] == 0
        assert values[("lagwatch_spool_dropped_documents_total", ())] == 0
        assert get(port, "/nope")[0] == 404
    finally:
        daemon.stop()
    for index in es.indices.get(index=f"{prefix}-lag-*"):
        es.indices.delete(index=index)
    es.indices.delete_index_template(name=f"{prefix}-lag")


def test_not_ready_names_the_unreachable_cluster_and_the_full_spool(kafka, tmp_path):
    group = unique("nr-group")
    dead = f"127.0.0.1:{free_port()}"  # nothing listens: neither Kafka nor Elasticsearch
    daemon = make_daemon(dead, f"http://{dead}", group, unique("lwnr"), tmp_path, max_bytes=2048)
    daemon.start()
    try:
        port = daemon.http.port
        assert get(port, "/healthz")[0] == 200  # alive, though nothing works
        wait_for(lambda: daemon.sink.health().dropping, timeout=30, what="the spool to reach its cap")
        # Skipped slots' self documents can fill the spool before the first scrape (2 s to give up on the dead
        # broker) has finished: wait for that scrape's verdict too.
        wait_for(lambda: json.loads(get(port, "/readyz")[1])["clusters"]["web"]["reason"] != "no scrape finished yet",
                 timeout=30, what="the first scrape to finish")
        status, body, _ = get(port, "/readyz")
        ready = json.loads(body)
        assert status == 503 and not ready["ready"]
        assert not ready["clusters"]["web"]["ready"]
        assert ready["clusters"]["web"]["reason"].startswith("cluster web: ")
        assert ready["sink"]["ready"] is False and ready["sink"]["reachable"] is False
        values = samples(get(port, "/metrics")[1])
        assert values[("lagwatch_up", (("cluster", "web"),))] == 0
        assert values[("lagwatch_spool_dropped_documents_total", ())] > 0
        assert values[("lagwatch_scrapes_total", (("cluster", "web"), ("result", "failed")))] >= 1
    finally:
        daemon.stop()
