"""Field names are defined once (exporter/output/fields.py) and agree with the ground truth, the mappings in
exporter/resources/: every name there is mapped, every mapped field the Kibana objects use comes from it,
every document key is one of them, and no module that writes or reads documents spells a field itself."""

from __future__ import annotations

import ast
import json
import re
from importlib import resources
from pathlib import Path

from exporter.alerts.lifecycle import FIRED, Evaluation, Transition, transition_doc
from exporter.evaluator.rules import Condition
from exporter.kibana import rule as kibana_rule
from exporter.kibana.objects import saved_objects
from exporter.output import documents, encode, fields
from exporter.output.fields import Dataset, DocType
from tests import lens_aggs
from tests.unit.test_documents import INTERVAL, build, make_report

ROOT = Path(__file__).resolve().parents[2]
PREFIXES = {name: value for name, value in vars(fields).items() if name.endswith("_PREFIX")}
NAMES = {
    name: value for name, value in vars(fields).items()
    if name.isupper() and isinstance(value, str) and name not in PREFIXES
}
FIELD_NAMES = set(NAMES.values())
# A string that is exactly a document field name (not a sentence or a KQL query mentioning one).
FIELD_LITERAL = re.compile(r"(@timestamp|event\.dataset|(lagwatch|kafka)\.[a-z_]+(\.[a-z_]+)*\.?)")


def mapping(file: str) -> dict:
    return json.loads(resources.files("exporter.resources").joinpath(file).read_text())


LAG_MAPPING, ALERT_MAPPING = mapping("lag-mappings.json"), mapping("alert-mappings.json")
MAPPED = {**lens_aggs.flatten(LAG_MAPPING["properties"]), **lens_aggs.flatten(ALERT_MAPPING["properties"])}


def object_at(properties: dict, dotted: str) -> dict:
    """The mapping of an object field, e.g. lagwatch.self.requests."""
    spec = {"properties": properties}
    for part in dotted.split("."):
        spec = spec["properties"][part]
    return spec


def test_every_field_name_is_mapped_for_elasticsearch():
    unmapped = sorted(value for value in FIELD_NAMES if value not in MAPPED)
    assert not unmapped, f"in fields.py but in neither mapping: {unmapped}"
    assert len(FIELD_NAMES) == len(NAMES), "two constants name the same field"


def test_every_field_prefix_is_a_mapped_object():
    for name, prefix in PREFIXES.items():
        spec = object_at(LAG_MAPPING["properties"], prefix.rstrip("."))
        assert spec.get("type") == "object" or "properties" in spec, name


def test_lag_documents_carry_the_four_document_types():
    written = {doc[fields.DOC_TYPE] for doc in build(make_report(), "partition", INTERVAL)}
    assert written == {DocType.PARTITION, DocType.TOPIC, DocType.GROUP, DocType.SELF}
    assert written == {"partition", "topic", "group", "self"}  # the values the panels' KQL filters match


def kibana_fields() -> set[str]:
    """Every field the saved objects and the rule name: Lens columns, formula parts, controls, the saved
    search's columns and sort, the rule's time, term and query fields."""
    used: set[str] = set()
    for obj in saved_objects():
        if obj["type"] == "lens":
            used |= {field for _, field in lens_aggs.fields_used(obj)}
            for _, layer, _ in lens_aggs.layers(obj):
                for column in layer["columns"].values():
                    formula = column.get("params", {}).get("formula")
                    if formula:
                        used |= set(re.findall(r"\(([^()]+)\)", formula))
        elif obj["type"] == "dashboard":
            controls = json.loads(obj["attributes"]["controlGroupInput"]["panelsJSON"])
            used |= {c["explicitInput"]["fieldName"] for c in controls.values()}
        elif obj["type"] == "search":
            used |= set(obj["attributes"]["columns"]) | {field for field, _ in obj["attributes"]["sort"]}
        elif obj["type"] == "index-pattern":
            used.add(obj["attributes"]["timeFieldName"])
    params = kibana_rule.rule()["params"]
    used |= {params["timeField"], params["termField"]}
    return used | query_fields(json.loads(params["esQuery"])["query"])


def query_fields(node) -> set[str]:
    """The fields a query's leaf clauses (term, terms, range) name, at any depth of bool clauses."""
    if isinstance(node, list):
        return set().union(*map(query_fields, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    found: set[str] = set()
    for key, value in node.items():
        found |= set(value) if key in ("term", "terms", "range") else query_fields(value)
    return found


def test_every_mapped_field_the_kibana_objects_use_comes_from_fields_py():
    used = kibana_fields()
    assert len(used) >= 20
    assert not sorted(used - FIELD_NAMES), "named in exporter/kibana/ but not in fields.py"
    assert used <= set(MAPPED)


def test_every_key_of_every_document_is_a_field_name():
    report = make_report(requests={"ListOffsets": 2})
    shards = lambda: documents.shard_fields((0,), 2, "member")  # noqa: E731
    docs = [d for b in encode.encode(report, "partition", INTERVAL, delivery={"indexed": 3}, self_fields=shards)
            for d in b.decode()]
    evaluation = Evaluation("a1", "lag", "prod", "g1", "orders", "lag", 10.0, 5.0, None, Condition(), "lag 10")
    docs.append(transition_doc(Transition(FIRED, 120.0, 60.0, "warn", evaluation)))
    keys = {key for doc in docs for key in doc if key != "_id"}
    dynamic = {key for key in keys if key.startswith(tuple(PREFIXES.values()))}
    assert dynamic == {"lagwatch.self.requests.ListOffsets", "lagwatch.self.delivery.indexed"}
    assert not sorted(keys - dynamic - FIELD_NAMES)
    assert {doc[fields.DATASET] for doc in docs} == {Dataset.LAG, Dataset.ALERT}


def field_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and FIELD_LITERAL.fullmatch(node.value)
    ]


def test_no_module_writing_or_showing_documents_spells_a_field_name_itself():
    paths = [*sorted((ROOT / "exporter/output").glob("*.py")), *sorted((ROOT / "exporter/sinks").glob("*.py")),
             *sorted((ROOT / "exporter/alerts").glob("*.py")), *sorted((ROOT / "exporter/kibana").glob("*.py")),
             *sorted((ROOT / "exporter/coordination").glob("*.py"))]
    paths.remove(ROOT / "exporter/output/fields.py")
    assert len(paths) >= 20
    spelled = [hit for path in paths for hit in field_literals(path)]
    assert not spelled, "use exporter.output.fields: " + ", ".join(spelled)
