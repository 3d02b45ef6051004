"""Translate the Lens panels in kibana/*.ndjson into the Elasticsearch search Kibana would run, and read the
rows back: the test stand-in for Kibana, which is not available on this machine.

Covers exactly the operations lagwatch's panels use (date_histogram, terms, sum, max, min, average,
unique_count, count, last_value, and formulas of one division) and KQL of the form `field : "value"`
joined by `and`; anything else raises, so a new panel cannot pass untranslated.
"""

from __future__ import annotations

import json
import re
from typing import Any

NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float", "unsigned_long"}
AGGREGATABLE = NUMERIC | {"keyword", "date", "date_nanos", "boolean", "ip", "constant_keyword"}
# Which mapping types each Lens operation accepts (Lens offers a field for an operation only if it fits).
ACCEPTS = {
    "sum": NUMERIC,
    "max": NUMERIC,
    "min": NUMERIC,
    "average": NUMERIC,
    "unique_count": AGGREGATABLE,
    "terms": NUMERIC | {"keyword", "boolean", "ip", "constant_keyword"},
    "date_histogram": {"date", "date_nanos"},
    "last_value": AGGREGATABLE,
}
_METRIC_AGG = {"sum": "sum", "max": "max", "min": "min", "average": "avg", "unique_count": "cardinality"}
_KQL_TERM = re.compile(r'^\s*([A-Za-z0-9_.@]+)\s*:\s*"([^"]*)"\s*$')
_MATH = {"divide": lambda a, b: None if a is None or not b else a / b}


def flatten(properties: dict, prefix: str = "") -> dict[str, str]:
    """{dotted field name: mapping type} of an index mapping's properties."""
    fields = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            fields.update(flatten(spec["properties"], f"{path}."))
        elif spec.get("type") not in (None, "object"):
            fields[path] = spec["type"]
    return fields


def load_ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def kql_to_query(kql: str) -> dict[str, Any]:
    if not kql.strip():
        return {"match_all": {}}
    terms = []
    for part in re.split(r"\s+and\s+", kql.strip()):
        match = _KQL_TERM.match(part)
        if not match:
            raise ValueError(f"KQL the translator does not know: {part!r}")
        terms.append({"match_phrase": {match.group(1): match.group(2)}})
    return {"bool": {"filter": terms}}


def layers(lens: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """(layer id, layer, data view id) of a Lens saved object."""
    refs = {r["name"]: r["id"] for r in lens["references"]}
    found = lens["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]
    return [(lid, layer, refs[f"indexpattern-datasource-layer-{lid}"]) for lid, layer in found.items()]


def fields_used(lens: dict[str, Any]) -> list[tuple[str, str]]:
    """(operation, field) of every field-based column, terms' custom order and last_value's sort field."""
    used = []
    for _, layer, _ in layers(lens):
        for column in layer["columns"].values():
            op = column["operationType"]
            if op in ("count", "formula", "math"):
                continue
            used.append((op, column["sourceField"]))
            if op == "last_value":
                used.append(("date_histogram", column["params"]["sortField"]))  # sorts by a date
    return used


def _computed(columns: dict[str, Any]) -> set[str]:
    return {cid for cid, c in columns.items() if c["operationType"] in ("formula", "math")}


def _metric_aggs(columns: dict[str, Any]) -> dict[str, Any]:
    aggs: dict[str, Any] = {}
    for cid, column in columns.items():
        op = column["operationType"]
        if column["isBucketed"] or cid in _computed(columns) or op == "count":
            continue
        if op in _METRIC_AGG:
            aggs[cid] = {_METRIC_AGG[op]: {"field": column["sourceField"]}}
        elif op == "last_value":
            aggs[cid] = {
                "top_hits": {
                    "size": 1,
                    "sort": [{column["params"]["sortField"]: {"order": "desc"}}],
                    "_source": False,
                    "docvalue_fields": [column["sourceField"]],
                }
            }
        else:
            raise ValueError(f"operation the translator does not know: {op}")
    return aggs


def _bucket_agg(column: dict[str, Any], columns: dict[str, Any], interval: str) -> dict[str, Any]:
    op = column["operationType"]
    if op == "date_histogram":
        return {"date_histogram": {"field": column["sourceField"], "fixed_interval": interval, "min_doc_count": 1}}
    if op == "terms":
        params = column["params"]
        order_by = params["orderBy"]
        if order_by["type"] == "alphabetical":
            order = {"_key": params["orderDirection"]}
        elif order_by["type"] == "column":
            target = columns[order_by["columnId"]]
            if target["operationType"] == "count":
                order = {"_count": params["orderDirection"]}
            elif target["operationType"] in _METRIC_AGG:
                order = {order_by["columnId"]: params["orderDirection"]}
            else:  # Lens cannot rank by formulas or last_value either
                raise ValueError(f"terms ranked by a {target['operationType']} column")
        else:
            raise ValueError(f"terms order the translator does not know: {order_by}")
        return {"terms": {"field": column["sourceField"], "size": params["size"], "order": order}}
    raise ValueError(f"bucket operation the translator does not know: {op}")


def search_body(lens: dict[str, Any], time_from: str = "now-1h", interval: str = "1m") -> dict[str, Any]:
    """The search of the (single) layer: query, time range, nested bucket aggregations, metrics inside."""
    (_, layer, _), = layers(lens)
    columns = layer["columns"]
    buckets = [cid for cid in layer["columnOrder"] if columns[cid]["isBucketed"]]
    aggs: dict[str, Any] = _metric_aggs(columns)
    for cid in reversed(buckets):
        agg = _bucket_agg(columns[cid], columns, interval)
        # A terms order naming a metric needs that metric next to it, not only in the innermost level.
        order_target = next(iter(agg.get("terms", {}).get("order", {})), "")
        inner = dict(aggs)
        if order_target in columns:
            inner.setdefault(order_target, _metric_aggs(columns)[order_target])
        agg["aggs"] = inner
        aggs = {cid: agg}
    query = kql_to_query(lens["attributes"]["state"]["query"]["query"])
    time_filter = {"range": {"@timestamp": {"gte": time_from}}}
    return {"size": 0, "query": {"bool": {"filter": [query, time_filter]}}, "aggs": aggs}


def rows(lens: dict[str, Any], response: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per innermost bucket: bucket keys and metric values by column id, formulas evaluated."""
    (_, layer, _), = layers(lens)
    columns = layer["columns"]
    buckets = [cid for cid in layer["columnOrder"] if columns[cid]["isBucketed"]]
    out: list[dict[str, Any]] = []

    def leaf(node: dict[str, Any], keys: dict[str, Any]) -> None:
        row = dict(keys)
        for cid, column in columns.items():
            op = column["operationType"]
            if column["isBucketed"] or cid in _computed(columns):
                continue
            if op == "count":
                row[cid] = node["doc_count"]
            elif op == "last_value":
                hits = node[cid]["hits"]["hits"]
                values = hits[0].get("fields", {}).get(column["sourceField"]) if hits else None
                row[cid] = values[0] if values else None
            else:
                row[cid] = node[cid]["value"]
        for cid in _computed(columns):  # math first, then formulas that point at it
            column = columns[cid]
            if column["operationType"] == "math":
                ast = column["params"]["tinymathAst"]
                row[cid] = _MATH[ast["name"]](*(row[a] for a in ast["args"]))
        for cid in _computed(columns):
            if columns[cid]["operationType"] == "formula":
                row[cid] = row[columns[cid]["references"][0]]
        out.append(row)

    def walk(node: dict[str, Any], depth: int, keys: dict[str, Any]) -> None:
        if depth == len(buckets):
            leaf(node, keys)
            return
        cid = buckets[depth]
        for bucket in node[cid]["buckets"]:
            walk(bucket, depth + 1, {**keys, cid: bucket.get("key_as_string", bucket["key"])})

    walk(response["aggregations"] if buckets else {**response["aggregations"], "doc_count": response["hits"]["total"]["value"]}, 0, {})
    return out


def shown_columns(lens: dict[str, Any]) -> list[str]:
    """Metric columns the visualization displays (hidden formula parts excluded)."""
    vis = lens["attributes"]["state"]["visualization"]
    if "layers" in vis:
        shown = []
        for layer in vis["layers"]:
            shown += layer.get("accessors", []) + layer.get("metrics", [])
        return shown
    if "metricAccessor" in vis:
        return [vis["metricAccessor"]]
    (_, layer, _), = layers(lens)
    return [c["columnId"] for c in vis["columns"] if not layer["columns"][c["columnId"]]["isBucketed"]]
