"""Translate the visualizations in kibana/opensearch-dashboards/*.ndjson into the search OpenSearch Dashboards
would send, and read the rows back: the test stand-in for OpenSearch Dashboards, which cannot run here.

The request follows OpenSearch Dashboards' AggConfigs.toDsl for a non-hierarchical vis, read from its source
(src/plugins/data/common/search/aggs/): bucket aggregations nest in the order of `visState.aggs`, metrics sit in
the innermost bucket; a terms ordered by a metric carries that metric beside it and orders by its id
(buckets/terms.ts, param orderAgg); a sibling pipeline metric (avg_bucket) puts its customBucket, with its
customMetric inside, beside itself and reads `<id>-bucket><id>-metric` (metrics/lib/sibling_pipeline_agg_writer.ts);
top_hits asks for one hit's doc value and _source field, sorted by its sort field (metrics/top_hit.ts).
DQL `field : "value"` joined by `and` becomes match_phrase filters, as the Kibana translator does.
Anything else raises, so a new visualization cannot pass untranslated.
"""

from __future__ import annotations

import json
from typing import Any

from tests.lens_aggs import kql_to_query

_METRICS = {"sum", "max", "min", "avg", "cardinality"}


def vis_state(obj: dict[str, Any]) -> dict[str, Any]:
    return json.loads(obj["attributes"]["visState"])


def index_pattern_id(obj: dict[str, Any]) -> str:
    (ref,) = [r for r in obj["references"] if r["name"] == "kibanaSavedObjectMeta.searchSourceJSON.index"]
    return ref["id"]


def query(obj: dict[str, Any]) -> str:
    return json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])["query"]["query"]


def _metric_dsl(agg: dict[str, Any]) -> dict[str, Any]:
    """{id: dsl} of one metric aggregation (a sibling pipeline brings its customBucket along)."""
    kind, params, agg_id = agg["type"], agg["params"], agg["id"]
    if kind in _METRICS:
        return {agg_id: {kind: {"field": params["field"]}}}
    if kind == "top_hits":
        field = params["field"]
        return {agg_id: {"top_hits": {
            "docvalue_fields": [{"field": field, "format": "use_field_mapping"}], "_source": field,
            "size": params["size"], "sort": [{params["sortField"]: {"order": params["sortOrder"]}}],
        }}}
    if kind == "avg_bucket":
        bucket, metric = params["customBucket"], params["customMetric"]
        inner = _bucket_dsl(bucket, {})
        inner["aggs"] = _metric_dsl(metric)
        return {bucket["id"]: inner, agg_id: {"avg_bucket": {"buckets_path": f"{bucket['id']}>{metric['id']}"}}}
    if kind == "count":
        return {}
    raise ValueError(f"metric the translator does not know: {kind}")


def _bucket_dsl(agg: dict[str, Any], metrics: dict[str, dict[str, Any]], interval: str = "1m") -> dict[str, Any]:
    kind, params = agg["type"], agg["params"]
    if kind == "date_histogram":
        return {"date_histogram": {"field": params["field"], "fixed_interval": interval,
                                   "min_doc_count": params["min_doc_count"]}}
    if kind == "terms":
        order_by = params["orderBy"]
        if order_by == "_key":
            order: dict[str, str] = {"_key": params["order"]}
        elif metrics[order_by]["type"] == "count":
            order = {"_count": params["order"]}
        else:
            order = {order_by: params["order"]}
        return {"terms": {"field": params["field"], "size": params["size"], "order": order}}
    raise ValueError(f"bucket the translator does not know: {kind}")


def search_body(obj: dict[str, Any], time_from: str = "now-1h", interval: str = "1m") -> dict[str, Any]:
    state = vis_state(obj)
    metrics = {a["id"]: a for a in state["aggs"] if a["schema"] == "metric"}
    buckets = [a for a in state["aggs"] if a["schema"] != "metric"]
    aggs: dict[str, Any] = {}
    for metric in metrics.values():
        aggs.update(_metric_dsl(metric))
    for bucket in reversed(buckets):
        dsl = _bucket_dsl(bucket, metrics, interval)
        inner = dict(aggs)
        order_target = next(iter(dsl.get("terms", {}).get("order", {})), "")
        if order_target in metrics:  # the orderAgg beside the terms
            inner.update(_metric_dsl(metrics[order_target]))
        dsl["aggs"] = inner
        aggs = {bucket["id"]: dsl}
    time_filter = {"range": {"@timestamp": {"gte": time_from}}}
    return {"size": 0, "query": {"bool": {"filter": [kql_to_query(query(obj)), time_filter]}}, "aggs": aggs}


def rows(obj: dict[str, Any], response: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per innermost bucket: bucket keys and metric values by agg id."""
    state = vis_state(obj)
    metrics = [a for a in state["aggs"] if a["schema"] == "metric"]
    buckets = [a["id"] for a in state["aggs"] if a["schema"] != "metric"]
    out: list[dict[str, Any]] = []

    def leaf(node: dict[str, Any], keys: dict[str, Any]) -> None:
        row = dict(keys)
        for metric in metrics:
            agg_id = metric["id"]
            if metric["type"] == "count":
                row[agg_id] = node["doc_count"]
            elif metric["type"] == "top_hits":
                hits = node[agg_id]["hits"]["hits"]
                values = hits[0].get("fields", {}).get(metric["params"]["field"]) if hits else None
                row[agg_id] = values[0] if values else None
            else:
                row[agg_id] = node[agg_id]["value"]
            if metric["type"] == "avg_bucket":  # the scrapes it averaged over, for the tests
                row[f"{agg_id}-scrapes"] = len(node[metric["params"]["customBucket"]["id"]]["buckets"])
        out.append(row)

    def walk(node: dict[str, Any], depth: int, keys: dict[str, Any]) -> None:
        if depth == len(buckets):
            leaf(node, keys)
            return
        for bucket in node[buckets[depth]]["buckets"]:
            walk(bucket, depth + 1, {**keys, buckets[depth]: bucket.get("key_as_string", bucket["key"])})

    root = response["aggregations"] if buckets else {**response["aggregations"], "doc_count": response["hits"]["total"]["value"]}
    walk(root, 0, {})
    return out


def fields_used(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(aggregation type, field) of every aggregation, nested ones and top_hits' sort field included."""
    used = []
    for agg in vis_state(obj)["aggs"]:
        params = agg["params"]
        if "field" in params:
            used.append((agg["type"], params["field"]))
        if agg["type"] == "top_hits":
            used.append(("date_histogram", params["sortField"]))
        for nested in ("customBucket", "customMetric"):
            if nested in params:
                used.append((params[nested]["type"], params[nested]["params"]["field"]))
    return used
