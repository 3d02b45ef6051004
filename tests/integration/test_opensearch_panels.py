"""After real scrapes of the real broker into a real OpenSearch node, the aggregation behind every visualization,
control and saved search of the OpenSearch Dashboards objects (kibana/opensearch-dashboards/) returns the
buckets the estate holds: its groups, topics and partitions, its cluster, the values the scrapes measured.
There is no OpenSearch Dashboards here: tests/osd_aggs.py builds the request it would send, from its source."""

from __future__ import annotations

import json

import pytest

from exporter.kibana import osd
from exporter.kibana.lens import ALERTS_VIEW, LAG_VIEW
from tests import osd_aggs
from tests.harness import opensearch_store, unique
from tests.scraped_estate import SCRAPES, orders_produce_rates, scraped_estate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def scraped(bootstrap, os_url, opensearch):
    """Yields (OpenSearch Dashboards objects for a unique prefix, the pipeline results, the index titles)."""
    prefix = unique("osd")
    with scraped_estate(bootstrap, opensearch, opensearch_store(os_url), prefix) as results:
        objects = osd.saved_objects(prefix)
        titles = {o["id"]: o["attributes"]["title"] for o in objects if o["type"] == "index-pattern"}
        yield objects, results, titles


def _vis(objects, vis_id: str) -> dict:
    return next(o for o in objects if o["id"] == vis_id)


def _rows(opensearch, titles, vis: dict, interval: str = "1m") -> list[dict]:
    body = osd_aggs.search_body(vis, interval=interval)
    return osd_aggs.rows(vis, opensearch.search(index=titles[osd_aggs.index_pattern_id(vis)], body=body))


def _aggregation_ids() -> list[str]:
    return [o["id"] for o in osd.saved_objects() if o["type"] == "visualization"
            and osd_aggs.vis_state(o)["type"] != "input_control_vis"]


@pytest.mark.parametrize("vis_id", _aggregation_ids())
def test_the_aggregation_behind_each_visualization_returns_buckets_with_values(scraped, opensearch, vis_id):
    objects, _, titles = scraped
    vis = _vis(objects, vis_id)
    rows = _rows(opensearch, titles, vis)
    assert rows, f"{vis_id}: no buckets"
    for agg in osd_aggs.vis_state(vis)["aggs"]:
        if agg["schema"] == "metric":
            assert any(row[agg["id"]] is not None for row in rows), f"{vis_id}: {agg['type']} {agg['id']} has no value"


def test_total_lag_per_cluster_is_the_mean_total_per_scrape_not_a_sum_over_scrapes(scraped, opensearch):
    objects, results, titles = scraped
    rows = _rows(opensearch, titles, _vis(objects, "lagwatch-total-lag-per-cluster"), interval="1h")
    totals = [sum(g.lag_sum for g in r.report.groups) for r in results]
    assert {row["2"] for row in rows} == {"local"}
    assert sum(row["1-scrapes"] for row in rows) == SCRAPES
    assert sum(row["1"] * row["1-scrapes"] for row in rows) == pytest.approx(sum(totals))
    assert max(row["1"] for row in rows) <= max(totals)  # a sum over scrapes would be ~3x the total


def test_top_groups_by_lag_are_the_estate_s_groups_at_their_highest_lag(scraped, opensearch):
    objects, results, titles = scraped
    rows = _rows(opensearch, titles, _vis(objects, "lagwatch-top-groups-by-lag"))
    highest: dict[str, int] = {}
    for result in results:
        for group in result.report.groups:
            highest[group.group] = max(highest.get(group.group, 0), group.lag_sum)
    assert {row["2"]: row["1"] for row in rows} == highest
    assert [row["1"] for row in rows] == sorted(highest.values(), reverse=True)  # ranked by the metric


def test_produce_rate_per_topic_is_not_multiplied_by_the_groups_reading_it(scraped, opensearch):
    objects, results, titles = scraped
    rows = _rows(opensearch, titles, _vis(objects, "lagwatch-produce-rate-per-topic"), interval="1h")
    orders, lowest, highest = orders_produce_rates(results)
    assert lowest <= max(row["1"] for row in rows if row["2"] == orders) <= highest


def test_the_partitions_table_shows_each_partition_s_latest_offsets_and_lag(scraped, opensearch):
    objects, results, titles = scraped
    rows = _rows(opensearch, titles, _vis(objects, "lagwatch-partitions-table"))
    columns = {a["params"]["customLabel"]: a["id"] for a in osd_aggs.vis_state(_vis(objects, "lagwatch-partitions-table"))["aggs"]}
    shown = {(row[columns["Group"]], row[columns["Topic"]], row[columns["Partition"]]): row for row in rows}
    last = results[-1].report.partitions
    assert set(shown) == {(p.group, p.topic, p.partition) for p in last}
    for p in last:
        row = shown[(p.group, p.topic, p.partition)]
        assert (row[columns["Committed offset"]], row[columns["Log-end offset"]], row[columns["Lag"]]) == (
            p.committed_offset, p.log_end_offset, p.lag)


def test_groups_by_type_and_state_count_each_group_once(scraped, opensearch):
    objects, results, titles = scraped
    groups = results[-1].report.groups
    for vis_id, key in (("lagwatch-group-type", "group_type"), ("lagwatch-group-state", "state")):
        rows = _rows(opensearch, titles, _vis(objects, vis_id))
        expected: dict[str, set[str]] = {}
        for result in results:
            for g in result.report.groups:
                expected.setdefault(getattr(g, key), set()).add(g.group)
        assert {row["2"]: row["1"] for row in rows} == {k: len(v) for k, v in expected.items()}, vis_id
    assert len(groups) == 3


def test_every_control_offers_the_estate_s_values(scraped, opensearch):
    objects, results, titles = scraped
    last = results[-1].report
    wanted = {"lagwatch.cluster": {"local"}, "kafka.consumergroup.id": {g.group for g in last.groups},
              "kafka.topic.name": {t.topic for t in last.group_topics}}
    for vis in (o for o in objects if o["type"] == "visualization" and osd_aggs.vis_state(o)["type"] == "input_control_vis"):
        refs = {r["name"]: r["id"] for r in vis["references"]}
        for control in osd_aggs.vis_state(vis)["params"]["controls"]:
            index = titles[refs[control["indexPatternRefName"]]]
            size = control["options"]["size"]
            body = {"size": 0, "aggs": {"v": {"terms": {"field": control["fieldName"], "size": size, "order": {"_count": "desc"}}}}}
            offered = {b["key"] for b in opensearch.search(index=index, body=body)["aggregations"]["v"]["buckets"]}
            expected = wanted[control["fieldName"]]
            if index == titles[ALERTS_VIEW] and control["fieldName"] == "kafka.consumergroup.id":
                expected = {g.group for g in last.groups if g.lag_sum}  # groups with an alert (lag > 0)
            assert expected <= offered, (vis["id"], control["fieldName"], offered)


def test_the_alert_events_search_finds_alerts_with_every_column(scraped, opensearch):
    objects, _, titles = scraped
    search = next(o for o in objects if o["type"] == "search")
    index = titles[osd_aggs.index_pattern_id(search)]
    body = {"size": 50, "sort": [{"@timestamp": "desc"}]}
    hits = opensearch.search(index=index, body=body)["hits"]["hits"]
    assert hits
    for column in search["attributes"]["columns"]:
        if column == "kafka.topic.name":
            continue  # group-level rules have no topic; per-topic rules fill it
        assert any(h["_source"].get(column) is not None for h in hits), column


def test_every_visualization_reads_the_index_pattern_it_references(scraped):
    objects, _, titles = scraped
    for vis in (o for o in objects if o["type"] == "visualization" and osd_aggs.vis_state(o)["aggs"]):
        query = json.loads(vis["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]
        view = osd_aggs.index_pattern_id(vis)
        assert view in (LAG_VIEW, ALERTS_VIEW) and (view == ALERTS_VIEW) == (query == ""), vis["id"]
