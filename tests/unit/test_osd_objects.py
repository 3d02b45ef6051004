"""The OpenSearch Dashboards objects (kibana/opensearch-dashboards/) checked against OpenSearch Dashboards' own
source, since none can run here. Each table below says which file of opensearch-project/OpenSearch-Dashboards it
was read from (main branch, read with the project's code search in December 2026):

- saved-object types, the attributes their mappings know, newest migrations:
  src/plugins/visualizations/server/saved_objects/visualization.ts, visualization_migrations.ts ('7.10.0');
  src/plugins/dashboard/server/saved_objects/dashboard.ts, dashboard_migrations.ts ('7.9.3');
  src/plugins/discover/server/saved_objects/search.ts, search_migrations.ts ('7.9.3');
  src/plugins/data/server/saved_objects/index_patterns.ts (mapping `dynamic: false`), index_pattern_migrations.ts
  ('7.6.0');
- reference names: visualization_migrations.ts (`kibanaSavedObjectMeta.searchSourceJSON.index`,
  `control_<i>_index_pattern` for Controls), dashboard_migrations.ts (`panel_<i>` with `panelRefName`);
- visualization types, their schemas and defaults: src/plugins/vis_type_vislib/public/line.ts (and histogram.ts,
  horizontal_bar.ts: the same schemas), pie.ts, src/plugins/vis_type_metric/public/metric_vis_type.ts,
  src/plugins/vis_type_table/public/table_vis_type.ts (top_hits on strings allowed), src/plugins/
  input_control_vis/public/input_control_vis_type.ts;
- aggregation parameters: src/plugins/data/common/search/aggs/buckets/terms.ts (orderBy, order, size, orderAgg),
  metrics/lib/sibling_pipeline_agg_helper.ts and sibling_pipeline_agg_writer.ts (customBucket `<id>-bucket`,
  customMetric `<id>-metric`, any bucket aggregation), metrics/top_hit.ts; date_histogram's
  `useNormalizedOpenSearchInterval` as OpenSearch Dashboards' own sample objects write it;
- an index pattern with an empty field list has its fields read from the indices when first loaded:
  src/plugins/data/common/index_patterns/index_patterns/index_patterns.ts (isFieldRefreshRequired).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exporter.kibana import osd
from exporter.kibana.lens import ALERTS_VIEW, LAG_VIEW
from exporter.kibana.objects import saved_objects as kibana_saved_objects
from tests import lens_aggs, osd_aggs
from tests.unit.test_kibana_objects import mapping_fields

ROOT = Path(__file__).resolve().parents[2]
NDJSON = ROOT / "kibana" / "opensearch-dashboards" / "lagwatch-saved-objects.ndjson"

NEWEST_MIGRATION = {"index-pattern": "7.6.0", "visualization": "7.10.0", "dashboard": "7.9.3", "search": "7.9.3"}
ATTRIBUTES = {  # what each type's mapping knows (index-pattern: dynamic false, these are what it reads)
    "visualization": {"description", "kibanaSavedObjectMeta", "savedSearchRefName", "title", "uiStateJSON", "version",
                      "visState"},
    "dashboard": {"description", "hits", "kibanaSavedObjectMeta", "optionsJSON", "panelsJSON", "refreshInterval",
                  "timeFrom", "timeRestore", "timeTo", "title", "version"},
    "search": {"columns", "description", "hits", "kibanaSavedObjectMeta", "sort", "title", "version"},
    "index-pattern": {"title", "timeFieldName", "fields", "fieldFormatMap", "sourceFilters", "type", "typeMeta"},
}
POINT_SERIES = {"metric", "radius", "segment", "group", "split"}
SCHEMAS = {"line": POINT_SERIES, "histogram": POINT_SERIES, "horizontal_bar": POINT_SERIES,
           "pie": {"metric", "segment", "split"}, "metric": {"metric", "group"}, "table": {"metric", "bucket", "split"},
           "input_control_vis": set()}
AGG_TYPES = {"terms", "date_histogram", "sum", "max", "min", "avg", "cardinality", "count", "top_hits", "avg_bucket"}
# The Lens operation whose field types each aggregation accepts (tests/lens_aggs.py's table).
AS_LENS = {"avg": "average", "cardinality": "unique_count", "top_hits": "last_value", "sum": "sum", "max": "max",
           "min": "min", "terms": "terms", "date_histogram": "date_histogram"}


@pytest.fixture(scope="module")
def objects() -> list[dict]:
    return lens_aggs.load_ndjson(NDJSON.read_text())


def visualizations(objects) -> list[dict]:
    return [o for o in objects if o["type"] == "visualization"]


def test_the_committed_file_is_the_default_prefix_s_objects_with_no_lens_and_nothing_of_kibana_8(objects):
    assert objects == json.loads(json.dumps(osd.saved_objects()))
    assert {o["type"] for o in objects} == set(NEWEST_MIGRATION)
    assert all(set(o) == {"type", "id", "attributes", "references", "migrationVersion"} for o in objects)
    ids = [(o["type"], o["id"]) for o in objects]
    assert len(set(ids)) == len(ids)


def test_each_object_is_at_the_newest_migration_of_its_type_so_none_runs_on_import(objects):
    assert all(o["migrationVersion"] == {o["type"]: NEWEST_MIGRATION[o["type"]]} for o in objects)


def test_each_object_has_only_attributes_its_type_s_mapping_knows(objects):
    for obj in objects:
        assert set(obj["attributes"]) <= ATTRIBUTES[obj["type"]], obj["id"]
        meta = obj["attributes"].get("kibanaSavedObjectMeta")
        if meta is not None:
            assert set(meta) == {"searchSourceJSON"} and isinstance(json.loads(meta["searchSourceJSON"]), dict)
    for board in (o for o in objects if o["type"] == "dashboard"):
        assert set(board["attributes"]["refreshInterval"]) <= {"display", "pause", "section", "value"}


def test_every_reference_resolves_and_uses_the_name_its_migrations_write(objects):
    present = {(o["type"], o["id"]) for o in objects}
    for obj in objects:
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in present, (obj["id"], ref)
        names = {r["name"] for r in obj["references"]}
        if obj["type"] == "visualization":
            state = osd_aggs.vis_state(obj)
            if state["type"] == "input_control_vis":
                wanted = {c["indexPatternRefName"] for c in state["params"]["controls"]}
                assert wanted == {f"control_{i}_index_pattern" for i in range(len(wanted))} == names
            else:
                source = json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])
                assert source["indexRefName"] == "kibanaSavedObjectMeta.searchSourceJSON.index" in names
        if obj["type"] == "dashboard":
            panels = json.loads(obj["attributes"]["panelsJSON"])
            assert [p["panelRefName"] for p in panels] == [f"panel_{i}" for i in range(len(panels))]
            assert names == {p["panelRefName"] for p in panels}


def test_every_visualization_is_a_type_opensearch_dashboards_has_with_its_schemas_and_aggregations(objects):
    for vis in visualizations(objects):
        state = osd_aggs.vis_state(vis)
        assert state["type"] in SCHEMAS and state["title"] == vis["attributes"]["title"]
        metric_ids = {a["id"] for a in state["aggs"] if a["schema"] == "metric"}
        for agg in state["aggs"]:
            assert agg["schema"] in SCHEMAS[state["type"]] and agg["type"] in AGG_TYPES, (vis["id"], agg)
            params = agg["params"]
            if agg["type"] == "terms":
                assert params["orderBy"] in metric_ids | {"_key"} and params["order"] in ("asc", "desc")
            if agg["type"] == "avg_bucket":
                assert params["customBucket"]["id"] == f"{agg['id']}-bucket"
                assert params["customMetric"]["id"] == f"{agg['id']}-metric"
            if agg["type"] == "top_hits":
                assert state["type"] == "table"  # the one type here that shows strings from top_hits
        if state["type"] in ("line", "histogram", "horizontal_bar"):
            assert {s["data"]["id"] for s in state["params"]["seriesParams"]} == metric_ids
            assert [a["schema"] for a in state["aggs"]].count("segment") == 1


def test_every_field_an_aggregation_uses_exists_with_a_type_it_accepts(objects):
    fields = {LAG_VIEW: mapping_fields("lag-mappings.json"), ALERTS_VIEW: mapping_fields("alert-mappings.json")}
    for vis in (v for v in visualizations(objects) if osd_aggs.vis_state(v)["aggs"]):
        mapped = fields[osd_aggs.index_pattern_id(vis)]
        for agg_type, field in osd_aggs.fields_used(vis):
            assert field in mapped, (vis["id"], field)
            assert mapped[field] in lens_aggs.ACCEPTS[AS_LENS[agg_type]], (vis["id"], agg_type, field)
    for vis in (v for v in visualizations(objects) if osd_aggs.vis_state(v)["type"] == "input_control_vis"):
        refs = {r["name"]: r["id"] for r in vis["references"]}
        for control in osd_aggs.vis_state(vis)["params"]["controls"]:
            assert mapping_fields("lag-mappings.json" if refs[control["indexPatternRefName"]] == LAG_VIEW
                                  else "alert-mappings.json")[control["fieldName"]] == "keyword"


def test_each_lens_panel_has_its_twin_with_the_same_query_title_and_shown_metrics(objects):
    twins = {o["id"]: o for o in visualizations(objects)}
    for lens in (o for o in kibana_saved_objects() if o["type"] == "lens"):
        twin = twins[lens["id"]]
        assert twin["attributes"]["title"] == lens["attributes"]["title"]
        assert osd_aggs.query(twin) == lens["attributes"]["state"]["query"]["query"]
        labels = {a["params"].get("customLabel") for a in osd_aggs.vis_state(twin)["aggs"] if a["schema"] == "metric"}
        (_, layer, _), = lens_aggs.layers(lens)
        assert labels == {layer["columns"][c]["label"] for c in lens_aggs.shown_columns(lens)}, lens["id"]


def test_dashboards_keep_the_kibana_layout_below_their_controls_without_overlaps(objects):
    for board in (o for o in objects if o["type"] == "dashboard"):
        grids = [p["gridData"] for p in json.loads(board["attributes"]["panelsJSON"])]
        assert grids[0] == {"x": 0, "y": 0, "w": 48, "h": osd.CONTROLS_HEIGHT, "i": "1"}  # the controls
        cells = set()
        for g in grids:
            assert 0 <= g["x"] and g["x"] + g["w"] <= 48
            area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            assert not cells & area, (board["id"], g)
            cells |= area
    assert {o["id"] for o in objects if o["type"] == "dashboard"} == {
        "lagwatch-overview", "lagwatch-group-detail", "lagwatch-alerts-dashboard"}


def test_another_index_prefix_renames_the_index_patterns_only():
    default, other = osd.saved_objects(), osd.saved_objects("team-a")
    titles = {o["id"]: o["attributes"]["title"] for o in other if o["type"] == "index-pattern"}
    assert titles == {LAG_VIEW: "team-a-lag*", ALERTS_VIEW: "team-a-alerts*"}
    assert [o for o in default if o["type"] != "index-pattern"] == [o for o in other if o["type"] != "index-pattern"]


def test_a_formula_other_than_the_per_scrape_sum_is_refused_not_mistranslated():
    from exporter.kibana.visualize import vis_state

    lens = next(o for o in kibana_saved_objects() if o["id"] == "lagwatch-total-lag-per-cluster")
    broken = json.loads(json.dumps(lens))
    (layer_id,) = broken["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
    columns = broken["attributes"]["state"]["datasourceStates"]["formBased"]["layers"][layer_id]["columns"]
    columns["lagX1"]["operationType"] = "max"  # sum(lag) / max(slot): not a mean per scrape
    with pytest.raises(ValueError, match="cannot express"):
        vis_state(broken)
