"""After real scrapes of the real broker into the real Elasticsearch node, the search behind every Lens panel,
control and saved search of kibana/lagwatch-saved-objects.ndjson returns data (there is no Kibana here:
tests/lens_aggs.py translates each panel into the aggregation Kibana would send)."""

from __future__ import annotations

import json

import pytest

from exporter.kibana import objects as kibana_objects
from exporter.kibana.lens import LAG_VIEW
from tests import lens_aggs
from tests.harness import unique
from tests.scraped_estate import SCRAPES, orders_produce_rates, scraped_estate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scraped(bootstrap, es):
    """The estate of tests/scraped_estate.py indexed into the node under a unique prefix. Yields (saved
    objects for that prefix, pipeline results, prefix)."""
    prefix = unique("kbn")
    with scraped_estate(bootstrap, es, es, prefix) as results:
        yield kibana_objects.saved_objects(prefix), results, prefix


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
    orders, lowest, highest = orders_produce_rates(results)
    assert lowest <= max(row["produce"] for row in rows if row["topic"] == orders) <= highest


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


def test_the_time_lag_rule_holds_a_group_through_its_partial_documents(scraped, es):
    """The shipped rule's query, run on the real node over group documents as the pipeline writes them: a group
    whose time lag crossed the threshold, then could not be read (partial, time lag null, the last known one
    carried), still matches; a group that never crossed it does not, known or not. Without the carried value
    the query would stop matching and Kibana would resolve the alert during the outage."""
    from msgspec.structs import replace

    from exporter.kibana.rule import rule
    from exporter.lag.held import carry, held
    from exporter.output import encode
    from exporter.sinks.elasticsearch import ElasticsearchSink

    _, results, _ = scraped
    report = results[-1].report
    row = report.groups[0]
    prefix = unique("rule")
    sink = ElasticsearchSink(es, prefix=prefix)
    lagging, cool = replace(row, group="lagging", lag_seconds_max=900.0), replace(row, group="cool", lag_seconds_max=60.0)
    carried = carry({}, [lagging, cool], up=True)
    unread = {"lag_sum": None, "lag_seconds_max": None, "partitions_unknown": row.partitions}
    lagging_later, cool_later = replace(lagging, **unread), replace(cool, **unread)
    assert lagging_later.partial and held(lagging_later, carried) == 900.0
    snapshot, slot = report.snapshot, int(report.snapshot.taken_at * 1000)
    batches = [next(encode.encode(replace(report, groups=(r,)), "group", 1, slot_ms=slot + n * 1000, carried=carried))
               for n, r in enumerate([lagging, cool, lagging_later, cool_later])]
    try:
        assert sum(sink.deliver(batch).indexed for batch in batches) == 4
        es.indices.refresh(index=f"{prefix}-lag")
        params = rule(prefix=prefix, time_lag_seconds=300)["params"]
        query = json.loads(params["esQuery"])["query"]
        hits = es.search(index=params["index"], query=query, size=10)["hits"]["hits"]
        matched = sorted((h["_source"]["kafka.consumergroup.id"], h["_source"]["lagwatch.lag.partial"]) for h in hits)
        assert matched == [("lagging", False), ("lagging", True)]
        # The query as it was (time lag alone) lets the partial document go: the alert would resolve.
        before = {"bool": {"filter": [query["bool"]["filter"][0], {"range": {"lagwatch.lag.seconds": {"gte": 300}}}]}}
        assert es.count(index=params["index"], query=before)["count"] == 1
    finally:
        for index in es.indices.get(index=f"{prefix}-lag-*"):
            es.indices.delete(index=index)
        es.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}-lag")
