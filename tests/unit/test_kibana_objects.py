"""The committed Kibana files: they parse, every reference resolves inside the file, every field a panel,
control, saved search or rule uses exists in the index mapping with a type its operation accepts, and every
panel on the lag data filters one document type (sums would count a message up to three times otherwise)."""

from __future__ import annotations

import json
import runpy
from importlib import resources
from pathlib import Path

import pytest

from exporter.kibana import rule as kibana_rule
from exporter.kibana.dashboards import ALERTS, GROUP_DETAIL, OVERVIEW
from exporter.kibana.lens import ALERTS_VIEW, LAG_VIEW
from exporter.kibana.objects import saved_objects
from tests import lens_aggs

ROOT = Path(__file__).resolve().parents[2]
NDJSON = ROOT / "kibana" / "lagwatch-saved-objects.ndjson"
RULE = ROOT / "kibana" / "lagwatch-rule.json"
DOC_TYPES = {"partition", "topic", "group", "self"}


def mapping_fields(file: str) -> dict[str, str]:
    """Reads the mapping the sinks install; a missing file fails here, it is never skipped."""
    text = resources.files("exporter.resources").joinpath(file).read_text()
    return lens_aggs.flatten(json.loads(text)["properties"])


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return lens_aggs.load_ndjson(NDJSON.read_text())


@pytest.fixture(scope="module")
def fields_by_view() -> dict[str, dict[str, str]]:
    return {
        LAG_VIEW: mapping_fields("lag-mappings.json"),
        ALERTS_VIEW: mapping_fields("alert-mappings.json"),
    }


def by_type(objects, type_: str) -> list[dict]:
    return [o for o in objects if o["type"] == type_]


def test_committed_files_are_exactly_what_the_generator_writes():
    build = runpy.run_path(str(ROOT / "kibana" / "build.py"))
    for path, text in build["outputs"]().items():
        assert path.read_text() == text, f"{path.name} is stale: run python kibana/build.py"


def test_every_line_is_one_saved_object_with_a_unique_id(objects):
    lines = [line for line in NDJSON.read_text().split("\n") if line]
    assert len(lines) == len(objects) >= 20
    assert all(set(o) >= {"type", "id", "attributes", "references", "typeMigrationVersion"} for o in objects)
    ids = [(o["type"], o["id"]) for o in objects]
    assert len(set(ids)) == len(ids)
    assert {o["type"] for o in objects} == {"index-pattern", "lens", "search", "dashboard"}
    # The import response's summary line belongs to exports, never to an importable file.
    assert not any("exportedCount" in o for o in objects)
    # Kibana stores these as JSON strings; each must parse.
    for d in by_type(objects, "dashboard"):
        for key in ("panelsJSON", "optionsJSON"):
            json.loads(d["attributes"][key])
        json.loads(d["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
        json.loads(d["attributes"]["controlGroupInput"]["panelsJSON"])


def test_data_views_cover_the_lag_alias_and_the_alerts_alias_by_time(objects):
    views = {o["id"]: o["attributes"] for o in by_type(objects, "index-pattern")}
    assert views[LAG_VIEW]["title"] == "lagwatch-lag*"
    assert views[ALERTS_VIEW]["title"] == "lagwatch-alerts*"
    assert {v["timeFieldName"] for v in views.values()} == {"@timestamp"}


def test_every_reference_resolves_to_an_object_in_the_file(objects):
    present = {(o["type"], o["id"]) for o in objects}
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in present, f"{obj['id']} -> {ref}"


def test_every_dashboard_panel_and_control_has_its_reference(objects):
    for d in by_type(objects, "dashboard"):
        names = {r["name"]: r for r in d["references"]}
        panels = json.loads(d["attributes"]["panelsJSON"])
        assert len({p["panelIndex"] for p in panels}) == len(panels)
        for panel in panels:
            ref = names[f"{panel['panelIndex']}:{panel['panelRefName']}"]
            assert ref["type"] == panel["type"]
            grid = panel["gridData"]
            assert grid["i"] == panel["panelIndex"] and 0 <= grid["x"] and grid["x"] + grid["w"] <= 48
        for control_id in json.loads(d["attributes"]["controlGroupInput"]["panelsJSON"]):
            assert names[f"controlGroup_{control_id}:optionsListDataView"]["type"] == "index-pattern"


def test_every_lens_layer_references_its_data_view_and_every_column_is_wired(objects):
    for lens in by_type(objects, "lens"):
        for layer_id, layer, view in lens_aggs.layers(lens):
            columns = layer["columns"]
            assert sorted(layer["columnOrder"]) == sorted(columns), lens["id"]
            for column in columns.values():
                for target in column.get("references", []):
                    assert target in columns
                if column["operationType"] == "terms" and column["params"]["orderBy"]["type"] == "column":
                    ranked_by = columns[column["params"]["orderBy"]["columnId"]]
                    # Lens can rank terms by a plain metric only (not a formula, math or last_value).
                    assert ranked_by["operationType"] in ("count", "sum", "max", "min", "average", "unique_count")
            shown = lens_aggs.shown_columns(lens)
            assert shown and all(c in columns for c in shown), lens["id"]
            vis = lens["attributes"]["state"]["visualization"]
            for vis_layer in vis.get("layers", [vis]):
                assert vis_layer["layerId"] == layer_id
                for key in ("xAccessor", "splitAccessor", "breakdownByAccessor"):
                    if key in vis_layer:
                        assert columns[vis_layer[key]]["isBucketed"]


def test_every_field_a_panel_uses_exists_with_a_type_its_operation_accepts(objects, fields_by_view):
    checked = 0
    for lens in by_type(objects, "lens"):
        (_, _, view), = lens_aggs.layers(lens)
        fields = fields_by_view[view]
        for operation, field in lens_aggs.fields_used(lens):
            assert field in fields, f"{lens['id']}: {field} is not in the {view} mapping"
            assert fields[field] in lens_aggs.ACCEPTS[operation], (
                f"{lens['id']}: {operation} cannot use {field} ({fields[field]})"
            )
            checked += 1
    assert checked >= 50


def test_every_field_a_control_or_saved_search_uses_exists(objects, fields_by_view):
    for d in by_type(objects, "dashboard"):
        refs = {r["name"]: r["id"] for r in d["references"]}
        for control_id, control in json.loads(d["attributes"]["controlGroupInput"]["panelsJSON"]).items():
            fields = fields_by_view[refs[f"controlGroup_{control_id}:optionsListDataView"]]
            assert fields[control["explicitInput"]["fieldName"]] in lens_aggs.ACCEPTS["terms"]
    for search in by_type(objects, "search"):
        fields = fields_by_view[search["references"][0]["id"]]
        for column in search["attributes"]["columns"]:
            assert column in fields, column
        for field, _ in search["attributes"]["sort"]:
            assert fields[field] == "date"


def test_every_panel_on_lag_documents_filters_exactly_one_document_type(objects):
    for lens in by_type(objects, "lens"):
        (_, _, view), = lens_aggs.layers(lens)
        query = lens["attributes"]["state"]["query"]
        assert query["language"] == "kuery"
        translated = lens_aggs.kql_to_query(query["query"])  # raises on KQL the translator cannot check
        if view == LAG_VIEW:
            doc_types = [
                t["match_phrase"]["lagwatch.doc_type"] for t in translated["bool"]["filter"]
                if "lagwatch.doc_type" in t["match_phrase"]
            ]
            assert len(doc_types) == 1 and doc_types[0] in DOC_TYPES, lens["id"]


def test_sums_over_several_scrapes_are_divided_by_the_number_of_scrapes(objects):
    """A plain sum of lag over a time bucket grows with the bucket: totals must be per scrape."""
    for lens in by_type(objects, "lens"):
        (_, layer, _), = lens_aggs.layers(lens)
        columns = layer["columns"]
        has_time_axis = any(c["operationType"] == "date_histogram" for c in columns.values())
        for cid in lens_aggs.shown_columns(lens):
            if has_time_axis and columns[cid]["operationType"] == "sum":
                pytest.fail(f"{lens['id']}: a sum per time bucket counts every scrape in the bucket")
            if columns[cid]["operationType"] == "formula":
                assert columns[cid]["params"]["formula"].endswith("/ unique_count(lagwatch.slot)")


def test_the_overview_has_the_promised_panels(objects):
    titles = {o["id"]: o["attributes"]["title"] for o in objects}
    dashboards = {d["id"]: d for d in by_type(objects, "dashboard")}
    overview = {r["id"] for r in dashboards[OVERVIEW]["references"] if r["type"] == "lens"}
    assert {
        "lagwatch-total-lag-per-cluster", "lagwatch-top-groups-by-lag", "lagwatch-top-groups-by-lag-seconds",
        "lagwatch-group-status", "lagwatch-produce-vs-consume-per-group",
    } <= overview
    detail = dashboards[GROUP_DETAIL]
    controls = json.loads(detail["attributes"]["controlGroupInput"]["panelsJSON"])
    assert "kafka.consumergroup.id" in {c["explicitInput"]["fieldName"] for c in controls.values()}
    table = next(o for o in objects if o["id"] == "lagwatch-partitions-table")
    used = {field for _, field in lens_aggs.fields_used(table)}
    assert {"kafka.consumergroup.offset", "kafka.partition.offset.newest", "lagwatch.lag.messages",
            "lagwatch.lag.seconds", "kafka.consumergroup.client.id"} <= used
    assert titles[ALERTS] == "lagwatch: Alerts"


def test_the_rule_queries_group_documents_and_groups_alerts_by_consumer_group(fields_by_view):
    rule = json.loads(RULE.read_text())
    fields = fields_by_view[LAG_VIEW]
    params = rule["params"]
    assert rule["rule_type_id"] == ".es-query" and rule["consumer"] == "stackAlerts"
    assert params["searchType"] == "esQuery" and params["index"] == ["lagwatch-lag*"]
    assert fields[params["timeField"]] == "date"
    assert fields[params["termField"]] == "keyword"
    query = json.loads(params["esQuery"])["query"]
    doc_type, either = query["bool"]["filter"]
    assert doc_type == {"term": {"lagwatch.doc_type": "group"}}
    # The time lag, or (while it cannot be read) the last known one: an outage neither fires nor resolves it.
    assert either["bool"]["minimum_should_match"] == 1
    assert [next(iter(c["range"])) for c in either["bool"]["should"]] == [
        "lagwatch.lag.seconds", "lagwatch.lag.seconds_last_known"]
    assert all(c["range"][f] == {"gte": 300} for c in either["bool"]["should"] for f in c["range"])
    assert fields["lagwatch.lag.seconds"] in lens_aggs.NUMERIC
    assert fields["lagwatch.lag.seconds_last_known"] in lens_aggs.NUMERIC
    assert params["thresholdComparator"] == ">" and params["threshold"] == [0]


def test_another_index_prefix_renames_the_data_views_and_the_rule_index_only():
    default = saved_objects()
    acme = saved_objects("acme")
    titles = {o["id"]: o["attributes"]["title"] for o in acme if o["type"] == "index-pattern"}
    assert titles == {LAG_VIEW: "acme-lag*", ALERTS_VIEW: "acme-alerts*"}
    assert [o for o in acme if o["type"] != "index-pattern"] == [o for o in default if o["type"] != "index-pattern"]
    assert kibana_rule.rule("acme")["params"]["index"] == ["acme-lag*"]


def test_the_translator_turns_a_panel_into_nested_aggregations_and_rows():
    lens = next(o for o in saved_objects() if o["id"] == "lagwatch-total-lag-per-cluster")
    body = lens_aggs.search_body(lens)
    assert body["query"]["bool"]["filter"][0] == {"bool": {"filter": [{"match_phrase": {"lagwatch.doc_type": "group"}}]}}
    ts = body["aggs"]["cluster"]["aggs"]["ts"]
    assert body["aggs"]["cluster"]["terms"]["order"] == {"_key": "asc"}
    assert ts["aggs"] == {"lagX0": {"sum": {"field": "lagwatch.lag.messages"}},
                          "lagX1": {"cardinality": {"field": "lagwatch.slot"}}}
    response = {"aggregations": {"cluster": {"buckets": [
        {"key": "a", "ts": {"buckets": [{"key": 1, "key_as_string": "t1", "doc_count": 4,
                                         "lagX0": {"value": 30.0}, "lagX1": {"value": 2}}]}}]}}}
    assert lens_aggs.rows(lens, response) == [
        {"cluster": "a", "ts": "t1", "lagX0": 30.0, "lagX1": 2, "lagX2": 15.0, "lag": 15.0}
    ]
