"""One OpenSearch Dashboards visualization per Lens panel of exporter/kibana/panels.py (pure, no I/O): the same
catalogue, translated column by column into the aggregation-based visualizations OpenSearch Dashboards has
(no Lens there): Lens XY lines and bars become `line`, `histogram` (stacked bars) and `horizontal_bar`; donuts
`pie`; metric tiles `metric`; data tables `table`.

Columns become aggregations (`visState.aggs`): terms, date_histogram, sum, max, min, avg, cardinality
(unique count), count and top_hits (last value, newest first). Lens nests terms outside the date histogram
("top 10 of the whole range"); so does the order of `aggs` here, which OpenSearch Dashboards nests in the
order given. The one formula, `sum(field) / unique_count(lagwatch.slot)` (the mean total per scrape), becomes
`avg_bucket` over the scrapes' slots of `sum(field)`: the same number, without a formula. Anything else raises,
so a new panel cannot pass untranslated. The formats are checked against OpenSearch Dashboards' source in
tests/unit/test_osd_objects.py, and every panel's aggregation runs on a real OpenSearch node in
tests/integration/test_opensearch_panels.py.
"""

from __future__ import annotations

import json
from typing import Any

from exporter.output import fields

# The scrapes a per-scrape total averages over, per time bucket and series: the newest first, so a bucket
# holding more scrapes than this averages the latest ones (a mean over fewer scrapes, never a sum).
SLOTS_PER_BUCKET = 500
SLOT_ORDER = "desc"

_METRIC = {"sum": "sum", "max": "max", "min": "min", "average": "avg", "unique_count": "cardinality", "count": "count"}
_XY = {"line": ("line", "line", "normal"), "bar_stacked": ("histogram", "histogram", "stacked"),
       "bar_horizontal": ("horizontal_bar", "histogram", "normal")}


def _axes(vis_type: str, y_title: str) -> dict[str, Any]:
    """Category and value axes as the vislib types default them (horizontal bars swap the positions)."""
    horizontal = vis_type == "horizontal_bar"
    category = {
        "id": "CategoryAxis-1", "type": "category", "position": "left" if horizontal else "bottom", "show": True,
        "style": {}, "scale": {"type": "linear"}, "labels": {"show": True, "filter": not horizontal, "truncate": 100},
        "title": {},
    }
    value = {
        "id": "ValueAxis-1", "name": "BottomAxis-1" if horizontal else "LeftAxis-1", "type": "value",
        "position": "bottom" if horizontal else "left", "show": True, "style": {},
        "scale": {"type": "linear", "mode": "normal"},
        "labels": {"show": True, "rotate": 75 if horizontal else 0, "filter": horizontal, "truncate": 100},
        "title": {"text": y_title},
    }
    return {"categoryAxes": [category], "valueAxes": [value]}


def _point_series(series_type: str, metrics: list[tuple[str, str]], y_title: str) -> tuple[str, dict[str, Any]]:
    vis_type, chart, mode = _XY[series_type]
    params: dict[str, Any] = {
        "type": vis_type,
        "grid": {"categoryLines": False},
        **_axes(vis_type, y_title),
        "seriesParams": [
            {"show": True, "type": chart, "mode": mode, "data": {"label": label, "id": agg_id},
             "valueAxis": "ValueAxis-1", "drawLinesBetweenPoints": True, "lineWidth": 2, "interpolate": "linear",
             "showCircles": True}
            for agg_id, label in metrics
        ],
        "addTooltip": True,
        "addLegend": True,
        "legendPosition": "right",
        "times": [],
        "addTimeMarker": False,
        "labels": {"show": False},
        "thresholdLine": {"show": False, "value": 10, "width": 1, "style": "full", "color": "#E7664C"},
    }
    return vis_type, params


_PIE = {"type": "pie", "addTooltip": True, "addLegend": True, "legendPosition": "right", "isDonut": True,
        "labels": {"show": False, "values": True, "last_level": True, "truncate": 100}}
_METRIC_VIS = {
    "addTooltip": True, "addLegend": False, "type": "metric",
    "metric": {"percentageMode": False, "useRanges": False, "colorSchema": "Green to Red", "metricColorMode": "None",
               "colorsRange": [{"from": 0, "to": 10000}], "labels": {"show": True}, "invertColors": False,
               "style": {"bgFill": "#000", "bgColor": False, "labelColor": False, "subText": "", "fontSize": 60}},
}
_TABLE = {"perPage": 20, "showPartialRows": False, "showMetricsAtAllLevels": False, "showTotal": False,
          "totalFunc": "sum", "percentageCol": ""}


def _terms(column: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    params = column["params"]
    order_by = params["orderBy"]
    by_metric = order_by["type"] == "column"
    return {
        "field": column["sourceField"], "size": params["size"],
        "orderBy": ids[order_by["columnId"]] if by_metric else "_key",
        "order": params["orderDirection"],
        "otherBucket": False, "otherBucketLabel": "Other", "missingBucket": False, "missingBucketLabel": "Missing",
        "customLabel": column["label"],
    }


def _date_histogram() -> dict[str, Any]:
    # min_doc_count 1: a time without a scrape is a gap, never a bucket of zeros.
    return {"field": fields.TIMESTAMP, "useNormalizedOpenSearchInterval": True, "scaleMetricValues": False,
            "interval": "auto", "drop_partials": False, "min_doc_count": 1, "extended_bounds": {}}


def _per_scrape(column: dict[str, Any], columns: dict[str, dict[str, Any]], agg_id: str) -> dict[str, Any]:
    """The per-scrape-sum formula as avg_bucket: (customBucket: the scrapes' slots, customMetric: the sum)."""
    (math_id,) = column["references"]
    math = columns[math_id]
    ast = math["params"]["tinymathAst"]
    numerator, denominator = (columns[ref] for ref in ast["args"])
    if (ast["name"], numerator["operationType"], denominator["operationType"], denominator["sourceField"]) != (
        "divide", "sum", "unique_count", fields.SLOT
    ):
        raise ValueError(f"a formula OpenSearch Dashboards cannot express: {column['params']['formula']}")
    bucket = {"id": f"{agg_id}-bucket", "enabled": True, "type": "terms", "schema": "bucketAgg",
              "params": {"field": fields.SLOT, "size": SLOTS_PER_BUCKET, "order": SLOT_ORDER, "orderBy": "_key"}}
    metric = {"id": f"{agg_id}-metric", "enabled": True, "type": "sum", "schema": "metricAgg",
              "params": {"field": numerator["sourceField"]}}
    return {"customBucket": bucket, "customMetric": metric, "customLabel": column["label"]}


def _metric_agg(column: dict[str, Any], columns: dict[str, dict[str, Any]], agg_id: str) -> tuple[str, dict]:
    op = column["operationType"]
    if op == "formula":
        return "avg_bucket", _per_scrape(column, columns, agg_id)
    if op == "last_value":
        sort = column["params"]["sortField"]
        return "top_hits", {"field": column["sourceField"], "aggregate": "concat", "size": 1, "sortField": sort,
                            "sortOrder": "desc", "customLabel": column["label"]}
    if op not in _METRIC:
        raise ValueError(f"a Lens operation OpenSearch Dashboards has no aggregation for: {op}")
    params = {} if op == "count" else {"field": column["sourceField"]}
    return _METRIC[op], {**params, "customLabel": column["label"]}


def _schemas(vis_type: str, vis: dict[str, Any]) -> dict[str, str]:
    """Column id -> OpenSearch Dashboards schema of each bucket column."""
    if vis_type == "lnsXY":
        (layer,) = vis["layers"]
        schemas = {layer["xAccessor"]: "segment"}
        if layer.get("splitAccessor"):
            schemas[layer["splitAccessor"]] = "group"
        return schemas
    if vis_type == "lnsPie":
        return {c: "segment" for c in vis["layers"][0]["primaryGroups"]}
    if vis_type == "lnsMetric":
        return {vis["breakdownByAccessor"]: "group"} if vis.get("breakdownByAccessor") else {}
    return {}  # lnsDatatable: every bucket column splits rows


def vis_state(lens: dict[str, Any]) -> dict[str, Any]:
    """The visState of the Lens panel `lens` (a saved object of exporter/kibana/panels.py)."""
    attributes = lens["attributes"]
    state = attributes["state"]
    vis_type, vis = attributes["visualizationType"], state["visualization"]
    (layer,) = state["datasourceStates"]["formBased"]["layers"].values()
    columns = layer["columns"]
    hidden = {ref for c in columns.values() for ref in c.get("references", [])}  # a formula's parts
    buckets = [c for c in layer["columnOrder"] if columns[c]["isBucketed"]]
    metrics = [c for c in columns if not columns[c]["isBucketed"] and c not in hidden]
    ids = {cid: str(n) for n, cid in enumerate(metrics + buckets, 1)}
    schemas = _schemas(vis_type, vis)
    aggs = []
    for cid in metrics:
        agg_type, params = _metric_agg(columns[cid], columns, ids[cid])
        aggs.append({"id": ids[cid], "enabled": True, "type": agg_type, "schema": "metric", "params": params})
    for cid in buckets:  # in Lens's nesting order: terms outside the date histogram
        column = columns[cid]
        if column["operationType"] == "date_histogram":
            agg_type, params = "date_histogram", _date_histogram()
        elif column["operationType"] == "terms":
            agg_type, params = "terms", _terms(column, ids)
        else:
            raise ValueError(f"a Lens bucket OpenSearch Dashboards has no aggregation for: {column['operationType']}")
        aggs.append({"id": ids[cid], "enabled": True, "type": agg_type, "schema": schemas.get(cid, "bucket"),
                     "params": params})
    if vis_type == "lnsXY":
        series = vis["layers"][0]["seriesType"]
        osd_type, params = _point_series(series, [(ids[c], columns[c]["label"]) for c in metrics], vis.get("yTitle", ""))
    else:
        osd_type, params = {"lnsPie": ("pie", _PIE), "lnsMetric": ("metric", _METRIC_VIS),
                            "lnsDatatable": ("table", _TABLE)}[vis_type]
    return {"title": attributes["title"], "type": osd_type, "aggs": aggs, "params": json.loads(json.dumps(params))}
