"""A small estate scraped for real, its lag and alert documents indexed: what the dashboard tests of both
products (tests/integration/test_kibana_panels.py, test_opensearch_panels.py) run every panel's query on."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any

from kafka import KafkaAdminClient

from exporter.alerts.engine import Alerting
from exporter.evaluator.rules import Match, ThresholdRule
from exporter.kafka.client import KafkaClient
from exporter.kafka.collector import Collector, Selection
from exporter.kafka.wire import KafkaWire
from exporter.runtime.pipeline import ClusterPipeline
from exporter.sinks.elasticsearch import ElasticsearchSink
from tests.harness import KafkaDriver, unique, wait_for

SCRAPES = 3


def _next_second(after: float) -> None:
    """interval_s=1: a scrape in the same second would share the previous one's slot (and _ids)."""
    wait_for(lambda: int(time.time()) > int(after), timeout=5, interval=0.05, what="the next scrape slot")


def orders_produce_rates(results) -> tuple[str, float, float]:
    """(the orders topic, its lowest and highest produce rate over the scrapes): what a produce-rate panel
    may show for it. It is read by two groups, so a panel that summed its topic documents would show twice."""
    last = results[-1].report
    orders = next(r.topic for r in last.group_topics if r.topic.startswith("orders"))
    assert len([r for r in last.group_topics if r.topic == orders]) == 2  # read by two groups
    rates = [r.produced.rate for res in results[1:] for r in res.report.group_topics if r.topic == orders]
    return orders, min(rates) - 1e-9, max(rates) + 1e-9


def drop(client: Any, prefix: str) -> None:
    """Delete the estate's indices and templates (`client`: elasticsearch-py or opensearch-py, same calls)."""
    for kind in ("lag", "alerts"):
        for index in client.indices.get(index=f"{prefix}-{kind}-*", expand_wildcards="all"):
            client.indices.delete(index=index)
        if client.indices.exists_index_template(name=f"{prefix}-{kind}"):
            client.indices.delete_index_template(name=f"{prefix}-{kind}")


@contextmanager
def scraped_estate(bootstrap: str, client: Any, store: Any, prefix: str):
    """Two topics, three groups (one keeps a live member, two read the same topic), SCRAPES scrapes with traffic
    in between, a lag alert rule on the real alerting engine; lag and alert documents indexed through `store`
    (a Store or an elasticsearch-py client) under `prefix` and refreshed through `client`. Yields the pipeline
    results; deletes what it indexed afterwards."""
    kafka = KafkaDriver(bootstrap)
    orders, audit = kafka.create_topic(unique("orders"), partitions=3), kafka.create_topic(unique("audit"))
    live, batch, auditor = unique("billing"), unique("reports"), unique("auditor")
    kafka.produce(orders, {0: 20, 1: 10, 2: 5})
    kafka.produce(audit, {0: 8})
    member = kafka.consume(live, orders, count=12, keep_open=True)
    kafka.consume(batch, orders, count=30)
    kafka.consume(auditor, audit, count=3)

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test")
    groups = {live, batch, auditor}
    collector = Collector("local", KafkaClient(lambda: KafkaWire(admin, timeout_s=10)), Selection(group=groups.__contains__))
    lag_sink = ElasticsearchSink(store, prefix=prefix)
    alert_sink = ElasticsearchSink(store, prefix=prefix, kind="alerts", mappings_file="alert-mappings.json")
    alerting = Alerting(
        "local",
        threshold_rules=[ThresholdRule("consumer-lag", Match(groups=tuple(sorted(groups))), "lag", warn=1)],
        sink=alert_sink,
    )
    pipeline = ClusterPipeline(collector, lag_sink, interval_s=1, evaluate=alerting.evaluate, alert=alerting.alert)
    results = []
    try:
        for n in range(SCRAPES):
            if n:
                _next_second(results[-1].report.snapshot.taken_at)
                kafka.produce(orders, {0: 6, 1: 3, 2: 0})
                kafka.produce(audit, {0: 2})
            results.append(pipeline.run_once())
            assert results[-1].sink_error is None
        client.indices.refresh(index=f"{prefix}-*")
        yield results
    finally:
        member.close(autocommit=False)
        collector.close()
        kafka.close()
        drop(client, prefix)
