"""The data views, the saved search of alert events, the options-list controls and the three dashboards that
lay out the panels of exporter/kibana/panels.py (pure, no I/O)."""

from __future__ import annotations

import json
from typing import Any

from exporter.kibana.lens import ALERTS_VIEW, KIBANA_VERSION, LAG_VIEW
from exporter.output import fields

OVERVIEW = "lagwatch-overview"
GROUP_DETAIL = "lagwatch-group-detail"
ALERTS = "lagwatch-alerts-dashboard"


def data_view(object_id: str, title: str, name: str) -> dict[str, Any]:
    return {
        "type": "index-pattern",
        "id": object_id,
        "attributes": {
            "title": title,
            "name": name,
            "timeFieldName": fields.TIMESTAMP,
            "fields": "[]",  # Kibana reads fields from the mapping; nothing to pin here
            "fieldAttrs": "{}",
            "fieldFormatMap": "{}",
            "runtimeFieldMap": "{}",
            "sourceFilters": "[]",
            "typeMeta": "{}",
            "allowNoIndex": True,  # importable before the first scrape created an index
        },
        "references": [],
    }


def alerts_search() -> dict[str, Any]:
    search_source = {
        "query": {"language": "kuery", "query": ""},
        "filter": [],
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    }
    return {
        "type": "search",
        "id": "lagwatch-alert-events",
        "attributes": {
            "title": "lagwatch alert events",
            "description": "Every alert document, newest first, with its message.",
            "columns": [
                fields.ALERT_TRANSITION, fields.ALERT_SEVERITY, fields.CLUSTER,
                fields.GROUP_ID, fields.TOPIC_NAME, fields.ALERT_MESSAGE,
            ],
            "sort": [[fields.TIMESTAMP, "desc"]],
            "grid": {},
            "hideChart": False,
            "isTextBasedQuery": False,
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(search_source, sort_keys=True)},
        },
        "references": [
            {"type": "index-pattern", "id": ALERTS_VIEW, "name": "kibanaSavedObjectMeta.searchSourceJSON.index"}
        ],
    }


def _controls(controls: list[tuple[str, str, str, str]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Options-list controls (control id, data view, field, title) above the panels; they filter every panel."""
    panels, refs = {}, []
    for order, (control_id, view, field, title) in enumerate(controls):
        panels[control_id] = {
            "order": order,
            "width": "medium",
            "grow": True,
            "type": "optionsListControl",
            "explicitInput": {
                "id": control_id,
                "fieldName": field,
                "title": title,
                "selectedOptions": [],
                "searchTechnique": "prefix",
                "sort": {"by": "_count", "direction": "desc"},
                "enhancements": {},
            },
        }
        refs.append({"type": "index-pattern", "id": view, "name": f"controlGroup_{control_id}:optionsListDataView"})
    group_input = {
        "controlStyle": "oneLine",
        "chainingSystem": "HIERARCHICAL",
        "showApplySelections": False,
        "ignoreParentSettingsJSON": json.dumps(
            {"ignoreFilters": False, "ignoreQuery": False, "ignoreTimerange": False, "ignoreValidations": False},
            sort_keys=True,
        ),
        "panelsJSON": json.dumps(panels, sort_keys=True),
    }
    return group_input, refs


def dashboard(
    object_id: str,
    title: str,
    description: str,
    panels: list[tuple[str, str, int, int, int, int]],
    controls: list[tuple[str, str, str, str]] = (),
) -> dict[str, Any]:
    """panels: (saved object type, id, x, y, w, h) on Kibana's 48-column grid."""
    panels_json, refs = [], []
    for index, (obj_type, obj_id, x, y, w, h) in enumerate(panels):
        panel_index = f"p{index + 1}"
        panels_json.append(
            {
                "version": KIBANA_VERSION,
                "type": obj_type,
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": panel_index},
                "panelIndex": panel_index,
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{panel_index}",
            }
        )
        refs.append({"type": obj_type, "id": obj_id, "name": f"{panel_index}:panel_{panel_index}"})
    attributes: dict[str, Any] = {
        "title": title,
        "description": description,
        "panelsJSON": json.dumps(panels_json, sort_keys=True),
        "optionsJSON": json.dumps(
            {"useMargins": True, "syncColors": False, "syncCursor": True, "syncTooltips": False,
             "hidePanelTitles": False},
            sort_keys=True,
        ),
        "timeRestore": True,
        "timeFrom": "now-1h",
        "timeTo": "now",
        "refreshInterval": {"pause": False, "value": 30000},
        "version": 1,
        "kibanaSavedObjectMeta": {
            "searchSourceJSON": json.dumps({"query": {"language": "kuery", "query": ""}, "filter": []}, sort_keys=True)
        },
    }
    if controls:
        attributes["controlGroupInput"], control_refs = _controls(list(controls))
        refs += control_refs
    return {"type": "dashboard", "id": object_id, "attributes": attributes, "references": refs}


# The options-list controls a dashboard may show above its panels: control id -> (field, title).
_CONTROLS = {
    "cluster": (fields.CLUSTER, "Cluster"),
    "group": (fields.GROUP_ID, "Group"),
    "topic": (fields.TOPIC_NAME, "Topic"),
}


def _filters(view: str, *control_ids: str) -> list[tuple[str, str, str, str]]:
    return [(control_id, view, *_CONTROLS[control_id]) for control_id in control_ids]


def dashboards() -> list[dict[str, Any]]:
    return [
        dashboard(
            OVERVIEW, "lagwatch: Overview",
            "Consumer lag across clusters: total lag, worst groups, group status, produce vs consume rates.",
            [
                ("lens", "lagwatch-group-status", 0, 0, 24, 8),
                ("lens", "lagwatch-group-type", 24, 0, 12, 8),
                ("lens", "lagwatch-group-state", 36, 0, 12, 8),
                ("lens", "lagwatch-total-lag-per-cluster", 0, 8, 48, 14),
                ("lens", "lagwatch-top-groups-by-lag", 0, 22, 24, 14),
                ("lens", "lagwatch-top-groups-by-lag-seconds", 24, 22, 24, 14),
                ("lens", "lagwatch-produce-vs-consume-per-group", 0, 36, 24, 14),
                ("lens", "lagwatch-produce-rate-per-topic", 24, 36, 24, 14),
                ("lens", "lagwatch-scrape-duration", 0, 50, 24, 10),
                ("lens", "lagwatch-groups-partial", 24, 50, 24, 10),
            ],
            _filters(LAG_VIEW, "cluster"),
        ),
        dashboard(
            GROUP_DETAIL, "lagwatch: Group detail",
            "One consumer group (pick it in the Group control): lag per topic and partition, time lag, "
            "rates, and every partition's offsets and member.",
            [
                ("lens", "lagwatch-lag-per-topic", 0, 0, 24, 14),
                ("lens", "lagwatch-lag-per-partition", 24, 0, 24, 14),
                ("lens", "lagwatch-time-lag-per-topic", 0, 14, 24, 14),
                ("lens", "lagwatch-rates-per-topic", 24, 14, 24, 14),
                ("lens", "lagwatch-partitions-table", 0, 28, 48, 20),
            ],
            _filters(LAG_VIEW, "cluster", "group", "topic"),
        ),
        dashboard(
            ALERTS, "lagwatch: Alerts",
            "Alerts lagwatch raised and resolved: transitions over time, severities, latest state per rule "
            "and group, and every alert event with its message.",
            [
                ("lens", "lagwatch-alert-transitions", 0, 0, 32, 12),
                ("lens", "lagwatch-alerts-by-severity", 32, 0, 16, 12),
                ("lens", "lagwatch-alerts-by-rule", 0, 12, 48, 14),
                ("search", "lagwatch-alert-events", 0, 26, 48, 16),
            ],
            _filters(ALERTS_VIEW, "cluster", "group"),
        ),
    ]
