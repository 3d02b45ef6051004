"""Alerting end to end on the real broker and Elasticsearch node, with a real local webhook endpoint:
lag up -> one `fired` notification and alert document; a restart while firing -> no second `fired`;
lag drained -> `resolved`. And a status rule: a group whose consumer left goes STOP and alerts."""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient
from kafka.structs import TopicPartition

from exporter import config as config_module

from exporter.runtime.daemon import Daemon
from exporter.alerts.engine import Alerting
from exporter.alerts.notifiers import WebhookNotifier
from exporter.alerts.state import StateStore
from exporter.kafka.collector import Collector, Selection
from exporter.evaluator.rules import StatusRule
from exporter.evaluator.status import StatusConfig
from exporter.kafka.client import KafkaClient
from exporter.kafka.wire import KafkaWire
from exporter.runtime.pipeline import ClusterPipeline
from exporter.sinks.elasticsearch import ElasticsearchSink
from tests.harness import unique
from tests.webhook_recorder import Recorder

pytestmark = pytest.mark.integration


@pytest.fixture
def webhook():
    server = Recorder()
    yield server
    server.close()


@pytest.fixture
def cleanup(es):
    prefixes = []
    yield prefixes.append
    for prefix in prefixes:
        for kind in ("lag", "alerts"):
            for index in es.indices.get(index=f"{prefix}-{kind}-*", ignore_unavailable=True, allow_no_indices=True):
                es.indices.delete(index=index)
            es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-{kind}")


def search(es, index: str) -> list[dict]:
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=100, sort=[{"@timestamp": "asc"}])["hits"]["hits"]
    return [h["_source"] for h in hits]


def daemon_config(bootstrap, es_url, group, prefix, state_file, spool_dir, webhook_url):
    return config_module.parse(
        {
            "clusters": [{"name": "local", "bootstrap_servers": bootstrap}],
            "groups": {"allow": [group]},
            "elasticsearch": {"hosts": [es_url], "index_prefix": prefix},
            "http": {"enabled": False},
            "spool": {"dir": str(spool_dir)},
            "alerts": {
                "state_path": str(state_file),
                "rules": [{"name": "lag-high", "groups": [group], "metric": "lag", "warn": 20, "critical": 1000}],
                "notifiers": [{"name": "ops", "url": webhook_url, "backoff_s": 0.05}],
            },
        },
        environ={},
    )


def test_an_alert_fires_once_survives_a_restart_and_resolves(kafka, bootstrap, es, es_url, webhook, cleanup, tmp_path):
    topic = kafka.create_topic(unique("alert"), partitions=1)
    group = unique("alert-group")
    kafka.produce(topic, {0: 10})
    kafka.consume(group, topic, count=10)
    prefix = unique("lwa")
    cleanup(prefix)
    config = daemon_config(bootstrap, es_url, group, prefix, tmp_path / "alerts.json", tmp_path / "spool", webhook.url)

    def run_daemon_scrape():
        """A `lagwatch run` process doing one scrape: built from the config, alert state from the file."""
        daemon = Daemon(config, es_client=es)
        daemon.pipelines[0].keep_documents = True  # the daemon drops them once delivered; we read them
        try:
            return daemon.pipelines[0].run_once()
        finally:
            daemon.stop()  # the process ends: its notification sender finishes first

    quiet = run_daemon_scrape()
    assert webhook.bodies() == []
    group_doc = next(d for d in quiet.documents if d["lagwatch.doc_type"] == "group")
    assert group_doc["lagwatch.status.code"] == "OK" and group_doc["lagwatch.status.severity"] == 0

    kafka.produce(topic, {0: 50})  # lag 50 > warn 20
    run_daemon_scrape()
    assert [(b["transition"], b["severity"], b["value"]) for b in webhook.bodies()] == [("fired", "warn", 50)]

    # Restarts while the lag is still high: the same alert continues, nobody is paged twice.
    run_daemon_scrape()
    run_daemon_scrape()
    assert [b["transition"] for b in webhook.bodies()] == ["fired"]

    kafka.consume(group, topic, count=50)
    run_daemon_scrape()
    assert [b["transition"] for b in webhook.bodies()] == ["fired", "resolved"]
    assert {b["alert_id"] for b in webhook.bodies()} == {f"lag-high/local/{group}"}

    alerts = search(es, f"{prefix}-alerts")
    assert [(d["lagwatch.alert.transition"], d["lagwatch.alert.state"]) for d in alerts] == [
        ("fired", "firing"), ("resolved", "resolved")
    ]
    fired, resolved = alerts
    assert fired["kafka.consumergroup.id"] == group and fired["lagwatch.alert.rule"] == "lag-high"
    assert fired["lagwatch.alert.value"] == 50 and fired["lagwatch.alert.threshold"] == 20
    assert resolved["lagwatch.alert.since"] == fired["lagwatch.alert.since"]
    assert es.indices.exists_alias(name=f"{prefix}-alerts")


def test_a_group_whose_consumer_left_goes_stop_and_a_status_rule_fires(kafka, bootstrap, es, webhook, cleanup, tmp_path):
    topic = kafka.create_topic(unique("stop"), partitions=2)
    group = unique("stop-group")
    kafka.produce(topic, {0: 20, 1: 20})
    kafka.commit(group, {TopicPartition(topic, 0): 5, TopicPartition(topic, 1): 20})  # no member stays
    prefix = unique("lws")
    cleanup(prefix)
    now = [1_800_000_000.0]  # the engine's clock: scrapes "60 s apart" without waiting

    def build():
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test")
        collector = Collector("local", KafkaClient(lambda: KafkaWire(admin, timeout_s=10)), Selection(group={group}.__contains__))
        alerting = Alerting(
            "local",
            status_config=StatusConfig(window=3, stop_after_s=120),
            status_rules=[StatusRule("consumer-gone", statuses=("STOP",), for_s=0)],
            store=StateStore(tmp_path / "alerts.json"),
            sink=ElasticsearchSink(es, prefix=prefix, kind="alerts", mappings_file="alert-mappings.json"),
            notifiers=[WebhookNotifier("ops", webhook.url, backoff_s=0.05)],
            clock=lambda: now[0],
        )
        return ClusterPipeline(
            collector, ElasticsearchSink(es, prefix=prefix), interval_s=0.001,  # a slot (and _id) per scrape
            evaluate=alerting.evaluate, alert=alerting.alert,
        )

    pipeline = build()
    statuses = []
    for _ in range(3):  # 0, 60, 120 s
        result = pipeline.run_once()
        statuses.append({(d["lagwatch.doc_type"], d.get("kafka.partition.id")): d["lagwatch.status.code"]
                         for d in result.documents if "lagwatch.status.code" in d})
        now[0] += 60
    pipeline.collector.close()
    assert statuses[0] == {("partition", 0): "OK", ("partition", 1): "OK", ("group", None): "OK"}
    assert statuses[2] == {("partition", 0): "STOP", ("partition", 1): "OK", ("group", None): "STOP"}
    (fired,) = webhook.bodies()
    assert (fired["transition"], fired["status_code"], fired["rule"]) == ("fired", "STOP", "consumer-gone")

    # A restart keeps the STOP clock and the alert: no new notification; then the consumer catches up.
    pipeline = build()
    pipeline.run_once()
    kafka.commit(group, {TopicPartition(topic, 0): 20})
    now[0] += 60
    pipeline.run_once()
    pipeline.collector.close()
    assert [b["transition"] for b in webhook.bodies()] == ["fired", "resolved"]
    group_docs = [d for d in search(es, f"{prefix}-lag") if d["lagwatch.doc_type"] == "group"]
    assert [d["lagwatch.status.code"] for d in group_docs] == ["OK", "OK", "STOP", "STOP", "OK"]
