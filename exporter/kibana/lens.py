"""Lens primitives: the columns, layers and visualizations of Kibana 8.11+ Lens saved objects, as Kibana
stores them (pure, no I/O). exporter/kibana/panels.py composes them into lagwatch's panels."""

from __future__ import annotations

import json
from typing import Any

from exporter.output import fields

KIBANA_VERSION = "8.11.0"  # panels' `version`: the oldest Kibana these objects are written for

# Data views (ids): every Lens layer, control and saved search points at one of them.
LAG_VIEW = "lagwatch-lag"
ALERTS_VIEW = "lagwatch-alerts"


# --- Lens columns --------------------------------------------------------------------------------


def date_histogram() -> dict[str, Any]:
    return {
        "label": fields.TIMESTAMP,
        "dataType": "date",
        "operationType": "date_histogram",
        "sourceField": fields.TIMESTAMP,
        "isBucketed": True,
        "scale": "interval",
        "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
    }


def _column(label: str, operation: str, field: str, data_type: str, scale: str, params: dict) -> dict[str, Any]:
    """A labelled column on one field: bucketed (a breakdown) for terms, a value otherwise."""
    return {
        "label": label,
        "customLabel": True,
        "dataType": data_type,
        "operationType": operation,
        "sourceField": field,
        "isBucketed": operation == "terms",
        "scale": scale,
        "params": params,
    }


def terms(field: str, label: str, size: int, order_by: str | None = None, numeric: bool = False) -> dict:
    """Top values; ranked by a metric column, or alphabetically when order_by is None."""
    order = {"type": "column", "columnId": order_by} if order_by else {"type": "alphabetical", "fallback": False}
    params = {
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
    }
    return _column(label, "terms", field, "number" if numeric else "string", "ordinal", params)


def metric(operation: str, field: str, label: str) -> dict[str, Any]:
    """sum, max, average, min, unique_count or count (field ignored)."""
    source = "___records___" if operation == "count" else field
    return _column(label, operation, source, "number", "ratio", {"emptyAsNull": True})


def last_value(field: str, label: str, numeric: bool = True) -> dict[str, Any]:
    # No "field exists" filter: a partition that lost its member or commit shows that, not an old value.
    params = {"sortField": fields.TIMESTAMP, "showArrayValues": False}
    if numeric:
        return _column(label, "last_value", field, "number", "ratio", params)
    return _column(label, "last_value", field, "string", "ordinal", params)


def per_scrape_sum(column_id: str, field: str, label: str) -> dict[str, dict[str, Any]]:
    """Lens formula `sum(field) / unique_count(lagwatch.slot)` as Kibana stores it: the formula column plus
    its hidden parts X0 (sum), X1 (unique count of scrape slots) and X2 (the division)."""
    formula = f"sum({field}) / unique_count({fields.SLOT})"
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
        x1: {**part, "operationType": "unique_count", "sourceField": fields.SLOT, "params": {"emptyAsNull": False}},
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
    return f'{fields.DOC_TYPE} : "{doc_type}"'


def lens(
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


def xy(series_type: str, x: str, accessors: list[str], split: str | None = None, y_title: str = "") -> dict:
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


def datatable(columns: list[str]) -> dict[str, Any]:
    return {"layerType": "data", "columns": [{"columnId": c, "isTransposed": False} for c in columns]}


def metric_vis(metric: str, breakdown: str | None = None) -> dict[str, Any]:
    vis: dict[str, Any] = {"layerType": "data", "metricAccessor": metric, "maxCols": 6}
    if breakdown:
        vis["breakdownByAccessor"] = breakdown
    return vis


def pie(group: str, metric: str) -> dict[str, Any]:
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
