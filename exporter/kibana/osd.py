"""Every OpenSearch Dashboards saved object lagwatch ships (pure, no I/O): made from the Kibana objects of
exporter/kibana/objects.py, so both products show the same panels, fields, queries and layout.

- data views become index patterns (the same ids and titles);
- each Lens panel becomes a visualization (exporter/kibana/visualize.py), with the same id;
- the saved search of alert events stays a saved search;
- each dashboard keeps its grid; its options-list controls become one Controls visualization
  (`input_control_vis`) across the top, the rest moved down by its height.

Objects carry `migrationVersion` at the newest migration OpenSearch Dashboards has for their type, so it
imports them as they are, and only the attributes its saved-object mappings know (tests/unit/
test_osd_objects.py names the source files each check follows). `kibana/build.py` writes the committed file
kibana/opensearch-dashboards/lagwatch-saved-objects.ndjson for the default prefix.
"""

from __future__ import annotations

import json
from typing import Any

from exporter.kibana import objects as kibana_objects
from exporter.kibana.visualize import vis_state

MIGRATION_VERSION = {"index-pattern": "7.6.0", "visualization": "7.10.0", "dashboard": "7.9.3", "search": "7.9.3"}
CONTROLS_HEIGHT = 5  # grid rows the Controls panel takes at the top of a dashboard
_INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def _search_source(query: str, with_index: bool = True) -> dict[str, Any]:
    source: dict[str, Any] = {"query": {"query": query, "language": "kuery"}, "filter": []}
    if with_index:
        source["indexRefName"] = _INDEX_REF
    return {"searchSourceJSON": json.dumps(source, sort_keys=True)}


def index_pattern(view: dict[str, Any]) -> dict[str, Any]:
    attributes = view["attributes"]
    return {
        "type": "index-pattern",
        "id": view["id"],
        # No field list: OpenSearch Dashboards reads the fields from the indices when it first loads the pattern.
        "attributes": {"title": attributes["title"], "timeFieldName": attributes["timeFieldName"], "fields": "[]"},
        "references": [],
    }


def visualization(lens: dict[str, Any]) -> dict[str, Any]:
    (reference,) = lens["references"]
    state = lens["attributes"]["state"]
    return {
        "type": "visualization",
        "id": lens["id"],
        "attributes": {
            "title": lens["attributes"]["title"],
            "description": lens["attributes"]["description"],
            "visState": json.dumps(vis_state(lens), sort_keys=True),
            "uiStateJSON": "{}",
            "version": 1,
            "kibanaSavedObjectMeta": _search_source(state["query"]["query"]),
        },
        "references": [{"type": "index-pattern", "id": reference["id"], "name": _INDEX_REF}],
    }


def search(saved: dict[str, Any]) -> dict[str, Any]:
    attributes = saved["attributes"]
    return {
        "type": "search",
        "id": saved["id"],
        "attributes": {
            "title": attributes["title"],
            "description": attributes["description"],
            "hits": 0,
            "columns": attributes["columns"],
            "sort": attributes["sort"],
            "version": 1,
            "kibanaSavedObjectMeta": _search_source(""),
        },
        "references": [{"type": "index-pattern", "id": saved["references"][0]["id"], "name": _INDEX_REF}],
    }


def controls(dashboard: dict[str, Any]) -> dict[str, Any] | None:
    """The dashboard's options-list controls as one Controls visualization (None: it has none)."""
    group = dashboard["attributes"].get("controlGroupInput")
    if group is None:
        return None
    views = {r["name"]: r["id"] for r in dashboard["references"]}
    panels = sorted(json.loads(group["panelsJSON"]).items(), key=lambda item: item[1]["order"])
    made, references = [], []
    for n, (control_id, panel) in enumerate(panels):
        made.append({
            "id": control_id, "fieldName": panel["explicitInput"]["fieldName"], "label": panel["explicitInput"]["title"],
            "parent": "", "type": "list", "indexPatternRefName": f"control_{n}_index_pattern",
            "options": {"type": "terms", "multiselect": True, "dynamicOptions": True, "size": 20, "order": "desc"},
        })
        references.append({"type": "index-pattern", "name": f"control_{n}_index_pattern",
                           "id": views[f"controlGroup_{control_id}:optionsListDataView"]})
    title = f"{dashboard['attributes']['title']}: controls"
    state = {"title": title, "type": "input_control_vis", "aggs": [],
             "params": {"controls": made, "updateFiltersOnChange": True, "useTimeFilter": True, "pinFilters": False}}
    return {
        "type": "visualization",
        "id": f"{dashboard['id']}-controls",
        "attributes": {"title": title, "description": "Pick values to filter every panel of the dashboard.",
                       "visState": json.dumps(state, sort_keys=True), "uiStateJSON": "{}", "version": 1,
                       "kibanaSavedObjectMeta": _search_source("", with_index=False)},
        "references": references,
    }


def dashboard(board: dict[str, Any], controls_vis: dict[str, Any] | None) -> dict[str, Any]:
    attributes = board["attributes"]
    refs = {r["name"]: r for r in board["references"]}
    shift = CONTROLS_HEIGHT if controls_vis is not None else 0
    panels, references = [], []
    placed = [(refs[f"{p['panelIndex']}:{p['panelRefName']}"], p["gridData"]) for p in json.loads(attributes["panelsJSON"])]
    if controls_vis is not None:
        placed.insert(0, ({"type": "visualization", "id": controls_vis["id"]}, {"x": 0, "y": -shift, "w": 48, "h": shift}))
    for n, (ref, grid) in enumerate(placed):
        index = str(n + 1)
        panels.append({"version": "7.10.2", "gridData": {**grid, "y": grid["y"] + shift, "i": index},
                       "panelIndex": index, "embeddableConfig": {}, "panelRefName": f"panel_{n}"})
        references.append({"type": "visualization" if ref["type"] == "lens" else ref["type"], "id": ref["id"],
                           "name": f"panel_{n}"})
    return {
        "type": "dashboard",
        "id": board["id"],
        "attributes": {
            "title": attributes["title"], "description": attributes["description"], "hits": 0,
            "panelsJSON": json.dumps(panels, sort_keys=True),
            "optionsJSON": json.dumps({"useMargins": True, "hidePanelTitles": False}, sort_keys=True),
            "timeRestore": attributes["timeRestore"], "timeFrom": attributes["timeFrom"], "timeTo": attributes["timeTo"],
            "refreshInterval": attributes["refreshInterval"], "version": 1,
            "kibanaSavedObjectMeta": _search_source("", with_index=False),
        },
        "references": references,
    }


def saved_objects(prefix: str = "lagwatch") -> list[dict[str, Any]]:
    """Every OpenSearch Dashboards object, in the order of the Kibana ones (index patterns first), each
    dashboard preceded by its Controls visualization."""
    made: list[dict[str, Any]] = []
    for obj in kibana_objects.saved_objects(prefix):
        kind = obj["type"]
        if kind == "index-pattern":
            made.append(index_pattern(obj))
        elif kind == "lens":
            made.append(visualization(obj))
        elif kind == "search":
            made.append(search(obj))
        elif kind == "dashboard":
            control = controls(obj)
            made += [control] if control is not None else []
            made.append(dashboard(obj, control))
        else:
            raise ValueError(f"a Kibana object type without an OpenSearch Dashboards twin: {kind}")
    for obj in made:
        obj["migrationVersion"] = {obj["type"]: MIGRATION_VERSION[obj["type"]]}
    return made
