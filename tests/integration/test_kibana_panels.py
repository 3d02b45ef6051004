"""After real scrapes of the real broker into the real Elasticsearch node, the search behind every Lens panel,
control and saved search of kibana/lagwatch-saved-objects.ndjson returns data (there is no Kibana here:
tests/lens_aggs.py translates each panel into the aggregation Kibana would send)."""

from __future__ import annotations

import json
import time

import pytest
from kafka import KafkaAdminClient

from exporter.kibana import objects as kibana_objects
from exporter.kibana.lens import LAG_VIEW
from exporter.alerts.engine import Alerting
from exporter.kafka.collector import Collector, Selection
from exporter.evaluator.rules import Match, ThresholdRule
from exporter.kafka.client import KafkaClient
from exporter.kafka.wire import KafkaWire
from exporter.runtime.pipeline import ClusterPipeline
from exporter.sinks.elasticsearch import ElasticsearchSink
from tests import lens_aggs
from tests.harness import unique, wait_for

pytestmark = pytest.mark.integration

SCRAPES = 3


def _next_second(after: float) -> None:
    """interval_s=1: a scrape in the same second would share the previous one's slot (and _ids)."""
    wait_for(lambda: int(time.time()) > int(after), timeout=5, interval=0.05, what="the next scrape slot")


@pytest.fixture(scope="module")
def scraped(bootstrap, es):
    """Two topics, three groups (one keeps a live member, two read the same topic), three scrapes with
    traffic in between, a lag alert rule on the real alerting engine; lag and alert documents indexed under a
    unique prefix. Yields (saved objects for that prefix, pipeline results, prefix)."""
    from tests.harness import KafkaDriver

    kafka = KafkaDriver(bootstrap)
    prefix = unique("kbn")
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
    lag_sink = ElasticsearchSink(es, prefix=prefix)
    alert_sink = ElasticsearchSink(es, prefix=prefix, kind="alerts", mappings_file="alert-mappings.json")
    alerting = Alerting(
        "local",
        threshold_rules=[ThresholdRule("consumer-lag", Match(groups=tuple(sorted(groups))), "lag", warn=1)],
        sink=alert_sink,
    )
    pipeline = ClusterPipeline(
        collector, lag_sink, interval_s=1, evaluate=alerting.evaluate, alert=alerting.alert
    )
    results = []
    try:
        for n in range(SCRAPES):
            if n:
                _next_second(results[-1].report.snapshot.taken_at)
                kafka.produce(orders, {0: 6, 1: 3, 2: 0})
                kafka.produce(audit, {0: 2})
            results.append(pipeline.run_once())
            assert results[-1].sink_error is None
        es.indices.refresh(index=f"{prefix}-*")
        yield kibana_objects.saved_objects(prefix), results, prefix
    finally:
        member.close(autocommit=False)
        collector.close()
        kafka.close()
        for kind in ("lag", "alerts"):
            for index in es.indices.get(index=f"{prefix}-{kind}-*"):
                es.indices.delete(index=index)
            es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-{kind}")


def _titles(objects) -> dict[str, str]:
    return {o["id"]: o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}


def _lens_ids() -> list[str]:
    return [o["id"] for o in kibana_objects.saved_objects() if o["type"] == "lens"]


@pytest.mark.parametrize("lens_id", _lens_ids())
def test_the_aggregation_behind_each_panel_returns_data(scraped, es, lens_id):
    objects, _, _ = scraped
    lens = next(o for o in objects if o["id"] == lens_id)
    (_, _, view), = lens_aggs.layers(lens)
    response = es.search(index=_titles(objects)[view], body=lens_aggs.search_body(lens))
    rows = lens_aggs.rows(lens, response)
    shown = lens_aggs.shown_columns(lens)
    assert rows, f"{lens_id}: no buckets"
    for column in shown:
        assert any(row[column] is not None for row in rows), f"{lens_id}: column {column} has no value"


def test_total_lag_per_cluster_is_the_mean_total_per_scrape_not_a_sum_over_scrapes(scraped, es):
    """The formula divides by the number of scrapes in the bucket, so several scrapes never add up."""
    objects, results, _ = scraped
    lens = next(o for o in objects if o["id"] == "lagwatch-total-lag-per-cluster")
    body = lens_aggs.search_body(lens, interval="1h")  # every scrape of this test in one or two buckets
    rows = lens_aggs.rows(lens, es.search(index=_titles(objects)[LAG_VIEW], body=body))
    totals = [sum(g.lag_sum for g in r.report.groups) for r in results]
    scrapes = sum(row["lagX1"] for row in rows)
    assert scrapes == SCRAPES
    assert sum(row["lag"] * row["lagX1"] for row in rows) == pytest.approx(sum(totals))
    assert max(row["lag"] for row in rows) <= max(totals)  # a sum over scrapes would be ~3x the total


def test_produce_rate_per_topic_is_not_multiplied_by_the_groups_reading_it(scraped, es):
    objects, results, _ = scraped
    lens = next(o for o in objects if o["id"] == "lagwatch-produce-rate-per-topic")
    rows = lens_aggs.rows(lens, es.search(index=_titles(objects)[LAG_VIEW],
                                          body=lens_aggs.search_body(lens, interval="1h")))
    last = results[-1].report
    topic_rates = {r.topic: r.produced.rate for r in last.group_topics}  # same value for every group
    orders = next(t for t in topic_rates if t.startswith("orders"))
    assert len([r for r in last.group_topics if r.topic == orders]) == 2  # read by two groups
    observed = max(row["produce"] for row in rows if row["topic"] == orders)
    all_rates = [r.produced.rate for res in results[1:] for r in res.report.group_topics if r.topic == orders]
    assert min(all_rates) - 1e-9 <= observed <= max(all_rates) + 1e-9


def test_every_dashboard_control_offers_values(scraped, es):
    objects, _, _ = scraped
    titles = _titles(objects)
    for dashboard in (o for o in objects if o["type"] == "dashboard"):
        refs = {r["name"]: r["id"] for r in dashboard["references"]}
        for cid, control in json.loads(dashboard["attributes"]["controlGroupInput"]["panelsJSON"]).items():
            field = control["explicitInput"]["fieldName"]
            index = titles[refs[f"controlGroup_{cid}:optionsListDataView"]]
            aggs = es.search(index=index, size=0, aggs={"v": {"terms": {"field": field}}})["aggregations"]
            assert aggs["v"]["buckets"], f"{dashboard['id']}: control {field} offers nothing"


def test_the_alert_events_search_finds_alerts_with_every_column(scraped, es):
    objects, _, _ = scraped
    search = next(o for o in objects if o["type"] == "search")
    index = _titles(objects)[search["references"][0]["id"]]
    hits = es.search(index=index, size=50, sort=[{"@timestamp": "desc"}])["hits"]["hits"]
    assert hits
    for column in search["attributes"]["columns"]:
        if column == "kafka.topic.name":
            continue  # group-level rules have no topic; per-topic rules fill it
        assert any(h["_source"].get(column) is not None for h in hits), column
