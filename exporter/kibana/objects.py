"""Kibana 8.11+ saved objects (data views, Lens panels, dashboards, a saved search) and an Elasticsearch
query rule for the lag documents, generated so that ids and references are always consistent (pure, no I/O).

`kibana/build.py` writes the committed files from this module; `lagwatch setup` imports the same objects,
generated for the configured index prefix. Panel arithmetic, and why it never double counts:

- Every Lens layer on the lag data view filters one `lagwatch.doc_type` in its KQL query: `lagwatch.lag.messages`
  is the lag summed over the document's scope, so mixing group, topic and partition documents would count
  each message up to three times.
- A time bucket holds several scrapes. The total lag per cluster is therefore the formula
  `sum(lag) / unique_count(lagwatch.slot)`: the sum over the bucket's group documents divided by the number
  of scrapes in it, i.e. the mean total per scrape (a plain sum would grow with the bucket width).
  Per-group, per-topic and per-partition series use average (or max): one series is one subject.
- A topic read by two groups has two topic documents carrying the same produce rate, so produce rate per
  topic is the *average* over its topic documents, never the sum.
- Time lag is a "worst case" figure: max.
"""

from __future__ import annotations

import json
from typing import Any

KIBANA_VERSION = "8.11.0"  # panels' `version`: the oldest Kibana these objects are written for
CORE_MIGRATION_VERSION = "8.8.0"
# The newest migration of each type in Kibana 8.11: Kibana migrates forward from these on import.
TYPE_MIGRATION_VERSION = {
    "index-pattern": "8.0.0",
    "lens": "8.9.0",
    "dashboard": "8.9.0",
    "search": "8.0.0",
}

LAG_VIEW = "lagwatch-lag"
ALERTS_VIEW = "lagwatch-alerts"
OVERVIEW = "lagwatch-overview"
GROUP_DETAIL = "lagwatch-group-detail"
ALERTS = "lagwatch-alerts-dashboard"
RULE_ID = "lagwatch-time-lag"

GROUP, TOPIC, PARTITION, SELF = "group", "topic", "partition", "self"


# --- Lens columns --------------------------------------------------------------------------------


def _date_histogram() -> dict[str, Any]:
    return {
        "label": "@timestamp",
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": "@timestamp",
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def _terms(field: str, label: str, size: int, order_by: str | None = None, numeric: bool = False) -> dict:
    """Top values; ranked by a metric column, or alphabetically when order_by is None."""
    order = {"type": "column", "columnId": order_by} if order_by else {"type": "alphabetical", "fallback": False}
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number" if numeric else "string",
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "params": {
            "size": size,
            "orderBy": order,
            "orderDirection": "desc" if order_by else "asc",
            "otherBucket": False,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
            "include": [],
            "exclude": [],
            "includeIsRegex": False,
            "excludeIsRegex": False,
        },
    }


def _metric(operation: str, field: str, label: str) -> dict[str, Any]:
    """sum, max, average, min, unique_count or count (field ignored)."""
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number",
        "operationType": operation,
        "sourceField": "___records___" if operation == "count" else field,
        "isBucketed": False,
        "scale": "ratio",
        "params": {"emptyAsNull": True},
    }


def _last_value(field: str, label: str, numeric: bool = True) -> dict[str, Any]:
    # No "field exists" filter: a partition that lost its member or commit shows that, not an old value.
    return {
        "label": label,
        "customLabel": True,
        "dataType": "number" if numeric else "string",
        "operationType": "last_value",
        "sourceField": field,
        "isBucketed": False,
        "scale": "ratio" if numeric else "ordinal",
        "params": {"sortField": "@timestamp", "showArrayValues": False},
    }


def _per_scrape_sum(column_id: str, field: str, label: str) -> dict[str, dict[str, Any]]:
    """Lens formula `sum(field) / unique_count(lagwatch.slot)` as Kibana stores it: the formula column plus
    its hidden parts X0 (sum), X1 (unique count of scrape slots) and X2 (the division)."""
    formula = f"sum({field}) / unique_count(lagwatch.slot)"
    part = {"customLabel": True, "dataType": "number", "isBucketed": False, "scale": "ratio", "label": f"Part of {label}"}
    x0, x1, x2 = f"{column_id}X0", f"{column_id}X1", f"{column_id}X2"
    return {
        column_id: {
            "label": label,
            "customLabel": True,
            "dataType": "number",
            "operationType": "formula",
            "isBucketed": False,
            "scale": "ratio",
            "params": {"formula": formula, "isFormulaBroken": False},
            "references": [x2],
        },
        x0: {**part, "operationType": "sum", "sourceField": field, "params": {"emptyAsNull": False}},
        x1: {**part, "operationType": "unique_count", "sourceField": "lagwatch.slot", "params": {"emptyAsNull": False}},
        x2: {
            **part,
            "operationType": "math",
            "params": {
                "tinymathAst": {
                    "type": "function",
                    "name": "divide",
                    "args": [x0, x1],
                    "location": {"min": 0, "max": len(formula)},
                    "text": formula,
                }
            },
            "references": [x0, x1],
        },
    }


# --- Lens visualizations -------------------------------------------------------------------------


def doc_type_query(doc_type: str) -> str:
    return f'lagwatch.doc_type : "{doc_type}"'


def _lens(
    object_id: str,
    title: str,
    description: str,
    vis_type: str,
    data_view: str,
    query: str,
    columns: dict[str, dict[str, Any]],
    visualization: dict[str, Any],
) -> dict[str, Any]:
    layer_id = f"{object_id}-layer"
    # Aggregations nest in columnOrder: breakdowns outside the date histogram, as Lens orders them, so "top
    # 10 groups" are the top 10 of the whole time range, not of each time bucket.
    order = [c for c, spec in columns.items() if spec["operationType"] == "terms"]
    order += [c for c, spec in columns.items() if spec["isBucketed"] and spec["operationType"] != "terms"]
    order += [c for c, spec in columns.items() if not spec["isBucketed"]]
    state = {
        "adHocDataViews": {},
        "datasourceStates": {
            "formBased": {
                "layers": {
                    layer_id: {
                        "columns": columns,
                        "columnOrder": order,
                        "incompleteColumns": {},
                        "sampling": 1,
                    }
                }
            },
            "indexpattern": {"layers": {}},
            "textBased": {"layers": {}},
        },
        "filters": [],
        "internalReferences": [],
        "query": {"language": "kuery", "query": query},
        "visualization": _with_layer(visualization, layer_id),
    }
    return {
        "type": "lens",
        "id": object_id,
        "attributes": {"title": title, "description": description, "visualizationType": vis_type, "state": state},
        "references": [
            {"type": "index-pattern", "id": data_view, "name": f"indexpattern-datasource-layer-{layer_id}"}
        ],
    }


def _with_layer(visualization: dict[str, Any], layer_id: str) -> dict[str, Any]:
    vis = json.loads(json.dumps(visualization))
    if "layers" in vis:
        for layer in vis["layers"]:
            layer["layerId"] = layer_id
    else:
        vis["layerId"] = layer_id
    return vis


def _xy(series_type: str, x: str, accessors: list[str], split: str | None = None, y_title: str = "") -> dict:
    layer: dict[str, Any] = {
        "accessors": accessors,
        "position": "top",
        "seriesType": series_type,
        "showGridlines": False,
        "layerType": "data",
        "xAccessor": x,
    }
    if split:
        layer["splitAccessor"] = split
    vis: dict[str, Any] = {
        "legend": {"isVisible": True, "position": "right"},
        "valueLabels": "hide",
        "fittingFunction": "Linear",
        "axisTitlesVisibilitySettings": {"x": False, "yLeft": True, "yRight": True},
        "tickLabelsVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "gridlinesVisibilitySettings": {"x": True, "yLeft": True, "yRight": True},
        "preferredSeriesType": series_type,
        "layers": [layer],
    }
    if y_title:
        vis["yTitle"] = y_title
    return vis


def _datatable(columns: list[str]) -> dict[str, Any]:
    return {"layerType": "data", "columns": [{"columnId": c, "isTransposed": False} for c in columns]}


def _metric_vis(metric: str, breakdown: str | None = None) -> dict[str, Any]:
    vis: dict[str, Any] = {"layerType": "data", "metricAccessor": metric, "maxCols": 6}
    if breakdown:
        vis["breakdownByAccessor"] = breakdown
    return vis


def _pie(group: str, metric: str) -> dict[str, Any]:
    return {
        "shape": "donut",
        "layers": [
            {
                "primaryGroups": [group],
                "metrics": [metric],
                "numberDisplay": "value",
                "categoryDisplay": "default",
                "legendDisplay": "default",
                "nestedLegend": False,
                "layerType": "data",
            }
        ],
    }


def lens_objects() -> list[dict[str, Any]]:
    lag, alerts = LAG_VIEW, ALERTS_VIEW
    group_q, topic_q, partition_q, self_q = (doc_type_query(t) for t in (GROUP, TOPIC, PARTITION, SELF))
    return [
        # --- Overview ---
        _lens(
            "lagwatch-total-lag-per-cluster", "Total lag per cluster (messages)",
            "Sum of every group's lag, averaged over the scrapes in each time bucket (group documents). Groups "
            "whose lag was partial (see 'Groups read whole vs partial') are not in the sum.",
            "lnsXY", lag, group_q,
            # Clusters ranked alphabetically: Lens cannot rank terms by a formula column.
            {"ts": _date_histogram(), "cluster": _terms("lagwatch.cluster", "Cluster", 20),
             **_per_scrape_sum("lag", "lagwatch.lag.messages", "Total lag (messages)")},
            _xy("line", "ts", ["lag"], "cluster", "messages"),
        ),
        _lens(
            "lagwatch-top-groups-by-lag", "Top groups by lag (messages, max in time range)",
            "The 10 groups with the highest lag seen in the time range (group documents).",
            "lnsXY", lag, group_q,
            {"group": _terms("kafka.consumergroup.id", "Group", 10, "lag"),
             "lag": _metric("max", "lagwatch.lag.messages", "Lag (messages)")},
            _xy("bar_horizontal", "group", ["lag"]),
        ),
        _lens(
            "lagwatch-top-groups-by-lag-seconds", "Top groups by time lag (seconds, max in time range)",
            "Age of the oldest unread record, worst 10 groups in the time range (group documents).",
            "lnsXY", lag, group_q,
            {"group": _terms("kafka.consumergroup.id", "Group", 10, "seconds"),
             "seconds": _metric("max", "lagwatch.lag.seconds", "Time lag (s)")},
            _xy("bar_horizontal", "group", ["seconds"]),
        ),
        _lens(
            "lagwatch-groups-partial", "Groups read whole vs partial (per scrape)",
            "Groups whose lag lagwatch read whole (false) or only partly (true: a broker or leader did not "
            "answer). A partial group's lag is null in that scrape, so it is missing from 'Total lag per "
            "cluster': any 'true' here means that total is too small for that time.",
            "lnsXY", lag, group_q,
            {"ts": _date_histogram(), "partial": _terms("lagwatch.lag.partial", "Partial", 2, "groups"),
             "groups": _metric("unique_count", "kafka.consumergroup.id", "Groups")},
            _xy("bar_stacked", "ts", ["groups"], "partial", "groups"),
        ),
        _lens(
            "lagwatch-group-status", "Groups by status",
            "Distinct groups per lagwatch status (OK, WARN, STALL, STOP, REWIND, ERR) in the time range.",
            "lnsMetric", lag, group_q,
            {"status": _terms("lagwatch.status.code", "Status", 6, "groups"),
             "groups": _metric("unique_count", "kafka.consumergroup.id", "Groups")},
            _metric_vis("groups", "status"),
        ),
        _lens(
            "lagwatch-group-type", "Groups by type",
            "Distinct groups per group type: classic, consumer (KIP-848), share (KIP-932), streams (KIP-1071).",
            "lnsPie", lag, group_q,
            {"type": _terms("lagwatch.group.type", "Group type", 4, "groups"),
             "groups": _metric("unique_count", "kafka.consumergroup.id", "Groups")},
            _pie("type", "groups"),
        ),
        _lens(
            "lagwatch-group-state", "Groups by Kafka group state",
            "Distinct groups per coordinator state (Stable, Empty, PreparingRebalance, ...).",
            "lnsPie", lag, group_q,
            {"state": _terms("lagwatch.group.state", "Group state", 10, "groups"),
             "groups": _metric("unique_count", "kafka.consumergroup.id", "Groups")},
            _pie("state", "groups"),
        ),
        _lens(
            "lagwatch-produce-vs-consume-per-group", "Produce vs consume rate per group (messages/s)",
            "Per group: records/s written to its topics and records/s it commits (group documents). "
            "A consume line under its produce line means the group is falling behind.",
            "lnsXY", lag, group_q,
            {"ts": _date_histogram(), "group": _terms("kafka.consumergroup.id", "Group", 5, "produce"),
             "produce": _metric("average", "lagwatch.produce.rate", "Produce rate"),
             "consume": _metric("average", "lagwatch.consume.rate", "Consume rate")},
            _xy("line", "ts", ["produce", "consume"], "group", "messages/s"),
        ),
        _lens(
            "lagwatch-produce-rate-per-topic", "Produce rate per topic (messages/s)",
            "Average, not sum, over topic documents: a topic read by N groups has N documents with the same "
            "produce rate.",
            "lnsXY", lag, topic_q,
            {"ts": _date_histogram(), "topic": _terms("kafka.topic.name", "Topic", 10, "produce"),
             "produce": _metric("average", "lagwatch.produce.rate", "Produce rate")},
            _xy("line", "ts", ["produce"], "topic", "messages/s"),
        ),
        _lens(
            "lagwatch-scrape-duration", "Scrape duration per cluster (ms)",
            "How long lagwatch's own scrapes take (self documents).",
            "lnsXY", lag, self_q,
            {"ts": _date_histogram(), "cluster": _terms("lagwatch.cluster", "Cluster", 10, "duration"),
             "duration": _metric("max", "lagwatch.self.duration_ms", "Scrape duration (ms)")},
            _xy("line", "ts", ["duration"], "cluster", "ms"),
        ),
        # --- Group detail ---
        _lens(
            "lagwatch-lag-per-topic", "Lag per topic (messages)",
            "Lag of the selected group on each topic (topic documents); with several groups selected, the "
            "average over them.",
            "lnsXY", lag, topic_q,
            {"ts": _date_histogram(), "topic": _terms("kafka.topic.name", "Topic", 10, "lag"),
             "lag": _metric("average", "lagwatch.lag.messages", "Lag (messages)")},
            _xy("line", "ts", ["lag"], "topic", "messages"),
        ),
        _lens(
            "lagwatch-lag-per-partition", "Lag per partition (messages)",
            "Lag of the selected group on each partition, shown as partition-topic (partition documents); "
            "with several groups selected, the average over them.",
            "lnsXY", lag, partition_q,
            {"ts": _date_histogram(),
             "partition": _terms("kafka.partition.topic_id", "Partition-topic", 20, "lag"),
             "lag": _metric("average", "lagwatch.lag.messages", "Lag (messages)")},
            _xy("line", "ts", ["lag"], "partition", "messages"),
        ),
        _lens(
            "lagwatch-time-lag-per-topic", "Time lag per topic (seconds)",
            "Age of the oldest unread record per topic, worst of the selected groups (topic documents).",
            "lnsXY", lag, topic_q,
            {"ts": _date_histogram(), "topic": _terms("kafka.topic.name", "Topic", 10, "seconds"),
             "seconds": _metric("max", "lagwatch.lag.seconds", "Time lag (s)")},
            _xy("line", "ts", ["seconds"], "topic", "seconds"),
        ),
        _lens(
            "lagwatch-rates-per-topic", "Produce vs consume rate per topic (messages/s)",
            "Average rates over the selected groups' topic documents; select one group for its own rates.",
            "lnsXY", lag, topic_q,
            {"ts": _date_histogram(), "topic": _terms("kafka.topic.name", "Topic", 5, "produce"),
             "produce": _metric("average", "lagwatch.produce.rate", "Produce rate"),
             "consume": _metric("average", "lagwatch.consume.rate", "Consume rate")},
            _xy("line", "ts", ["produce", "consume"], "topic", "messages/s"),
        ),
        _lens(
            "lagwatch-partitions-table", "Partitions",
            "Latest committed offset, log-end offset, lag, time lag and member per group and partition "
            "(partition documents).",
            "lnsDatatable", lag, partition_q,
            {"group": _terms("kafka.consumergroup.id", "Group", 20),
             "topic": _terms("kafka.topic.name", "Topic", 50),
             "partition": _terms("kafka.partition.id", "Partition", 500, numeric=True),
             "committed": _last_value("kafka.consumergroup.offset", "Committed offset"),
             "log_end": _last_value("kafka.partition.offset.newest", "Log-end offset"),
             "lag": _last_value("lagwatch.lag.messages", "Lag"),
             "seconds": _last_value("lagwatch.lag.seconds", "Time lag (s)"),
             "member": _last_value("kafka.consumergroup.client.id", "Member (client id)", numeric=False)},
            _datatable(["group", "topic", "partition", "committed", "log_end", "lag", "seconds", "member"]),
        ),
        # --- Alerts ---
        _lens(
            "lagwatch-alert-transitions", "Alert transitions over time",
            "Alert documents (fired, resolved, ...) per time bucket and transition.",
            "lnsXY", alerts, "",
            {"ts": _date_histogram(), "transition": _terms("lagwatch.alert.transition", "Transition", 10, "count"),
             "count": _metric("count", "", "Alert events")},
            _xy("bar_stacked", "ts", ["count"], "transition", "events"),
        ),
        _lens(
            "lagwatch-alerts-by-severity", "Alerts by severity",
            "Distinct alerts per severity in the time range.",
            "lnsPie", alerts, "",
            {"severity": _terms("lagwatch.alert.severity", "Severity", 10, "alerts"),
             "alerts": _metric("unique_count", "lagwatch.alert.id", "Alerts")},
            _pie("severity", "alerts"),
        ),
        _lens(
            "lagwatch-alerts-by-rule", "Alerts by rule and group",
            "Latest state of every alert: rule, group, metric, value and threshold.",
            "lnsDatatable", alerts, "",
            {"rule": _terms("lagwatch.alert.rule", "Rule", 20),
             "group": _terms("kafka.consumergroup.id", "Group", 50),
             "state": _last_value("lagwatch.alert.state", "State", numeric=False),
             "severity": _last_value("lagwatch.alert.severity", "Severity", numeric=False),
             "metric": _last_value("lagwatch.alert.metric", "Metric", numeric=False),
             "value": _last_value("lagwatch.alert.value", "Value"),
             "threshold": _last_value("lagwatch.alert.threshold", "Threshold")},
            _datatable(["rule", "group", "state", "severity", "metric", "value", "threshold"]),
        ),
    ]


# --- data views, saved search, dashboards -------------------------------------------------------------


def data_view(object_id: str, title: str, name: str) -> dict[str, Any]:
    return {
        "type": "index-pattern",
        "id": object_id,
        "attributes": {
            "title": title,
            "name": name,
            "timeFieldName": "@timestamp",
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
                "lagwatch.alert.transition", "lagwatch.alert.severity", "lagwatch.cluster",
                "kafka.consumergroup.id", "kafka.topic.name", "lagwatch.alert.message",
            ],
            "sort": [["@timestamp", "desc"]],
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
            [("cluster", LAG_VIEW, "lagwatch.cluster", "Cluster")],
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
            [("cluster", LAG_VIEW, "lagwatch.cluster", "Cluster"),
             ("group", LAG_VIEW, "kafka.consumergroup.id", "Group"),
             ("topic", LAG_VIEW, "kafka.topic.name", "Topic")],
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
            [("cluster", ALERTS_VIEW, "lagwatch.cluster", "Cluster"),
             ("group", ALERTS_VIEW, "kafka.consumergroup.id", "Group")],
        ),
    ]


def saved_objects(prefix: str = "lagwatch") -> list[dict[str, Any]]:
    """Every saved object, data views first (Kibana resolves references within one import in any order,
    but a reader of the file should meet a data view before what uses it)."""
    objects = [
        data_view(LAG_VIEW, f"{prefix}-lag*", f"{prefix} lag"),
        data_view(ALERTS_VIEW, f"{prefix}-alerts*", f"{prefix} alerts"),
        *lens_objects(),
        alerts_search(),
        *dashboards(),
    ]
    for obj in objects:
        obj["coreMigrationVersion"] = CORE_MIGRATION_VERSION
        obj["typeMigrationVersion"] = TYPE_MIGRATION_VERSION[obj["type"]]
        obj["managed"] = False
    return objects


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n" for obj in objects)


# --- alerting rule ------------------------------------------------------------------------------------


def rule(
    prefix: str = "lagwatch",
    time_lag_seconds: float = 300,
    interval: str = "1m",
    window_minutes: int = 5,
) -> dict[str, Any]:
    """An Elasticsearch query rule (POST /api/alerting/rule/<id>): one alert per consumer group whose group
    document reported a time lag of at least `time_lag_seconds` within the last `window_minutes`."""
    query = {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"lagwatch.doc_type": GROUP}},
                    {"range": {"lagwatch.lag.seconds": {"gte": time_lag_seconds}}},
                ]
            }
        }
    }
    return {
        "name": f"lagwatch: consumer group time lag >= {time_lag_seconds:g}s",
        "rule_type_id": ".es-query",
        "consumer": "stackAlerts",
        "schedule": {"interval": interval},
        "enabled": True,
        "tags": ["lagwatch", "kafka"],
        "actions": [],  # add a connector (Slack, PagerDuty, ...) in Stack Management > Rules
        "params": {
            "searchType": "esQuery",
            "index": [f"{prefix}-lag*"],
            "timeField": "@timestamp",
            "esQuery": json.dumps(query, indent=2, sort_keys=True),
            "size": 10,
            "aggType": "count",
            "groupBy": "top",
            "termField": "kafka.consumergroup.id",
            "termSize": 100,
            "threshold": [0],
            "thresholdComparator": ">",
            "timeWindowSize": window_minutes,
            "timeWindowUnit": "m",
            "excludeHitsFromPreviousRun": False,
        },
    }


def rule_json(rule_body: dict[str, Any]) -> str:
    return json.dumps(rule_body, indent=2, sort_keys=True) + "\n"
