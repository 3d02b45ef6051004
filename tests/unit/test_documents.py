"""LagReport -> Elasticsearch documents (read back from the `_bulk` bytes): required fields, granularity,
deterministic ids, the strict mapping."""

import json
from importlib import resources

import pytest

from exporter.output import documents, encode

from exporter.lag import report as lag
from exporter.lag.model import (
    ClusterSnapshot,
    GroupObservation,
    Member,
    PartitionOffsets,
    ScrapeError,
    TopicInfo,
)

T0 = 1_700_000_010.5  # inside the 30 s slot starting at 1_700_000_010.0 (a multiple of 30 s)
INTERVAL = 30.0


def make_report(taken_at=T0, groups=None, requests=None):
    topics = {"orders": TopicInfo("orders", 2, topic_id="o1", retention_ms=604_800_000)}
    partitions = {
        ("orders", 0): PartitionOffsets("orders", 0, 100, log_start_offset=10, leader=1),
        ("orders", 1): PartitionOffsets("orders", 1, 200, log_start_offset=0, leader=2),
    }
    member = Member("m-1", "app", "/10.0.0.1", assignment=(("orders", 0),))
    if groups is None:
        groups = (
            GroupObservation("g1", "Stable", members=(member,), committed={("orders", 0): 5, ("orders", 1): 150}),
            GroupObservation("g2", "Empty", committed={("gone", 0): 3}, error="COORDINATOR_NOT_AVAILABLE"),
        )
    snap = ClusterSnapshot(
        cluster="prod",
        taken_at=taken_at,
        topics=topics,
        partitions=partitions,
        groups=tuple(groups),
        errors=(ScrapeError("topic", "gone", "UNKNOWN_TOPIC_OR_PARTITION"),),
        requests=requests if requests is not None else {"ListOffsets": 2, "OffsetFetch": 1},
        duration_s=0.25,
        time_probes={("orders", 0): ((taken_at - 600, 0),)},
    )
    histories = lag.update_histories({}, snap, None)
    return lag.build_report(snap, None, histories, records_per_message=lambda t: 3)


def build(report, granularity, interval_s, instance="", statuses=None):
    """The documents a scrape of `report` makes, decoded from its batches, each with its `_id`."""
    return [doc for batch in encode.encode(report, granularity, interval_s, instance, statuses) for doc in batch.decode()]


def by_type(docs):
    out = {}
    for doc in docs:
        out.setdefault(doc["lagwatch.doc_type"], []).append(doc)
    return out


# --- required fields and granularity ----------------------------------------------------------


@pytest.mark.parametrize("granularity", ["partition", "topic", "group"])
def test_every_document_has_the_common_fields(granularity):
    docs = build(make_report(), granularity, INTERVAL)
    for doc in docs:
        assert doc["@timestamp"] == "2023-11-14T22:13:30.500Z"
        assert doc["lagwatch.cluster"] == "prod"
        assert doc["lagwatch.doc_type"] in {"partition", "topic", "group", "self"}
        assert doc["_id"]
        if doc["lagwatch.doc_type"] != "self":
            assert "lagwatch.lag.messages" in doc


@pytest.mark.parametrize(
    "granularity, expected",
    [
        ("partition", {"partition": 3, "topic": 2, "group": 2, "self": 1}),
        ("topic", {"topic": 2, "group": 2, "self": 1}),
        ("group", {"group": 2, "self": 1}),
    ],
    ids=["partition", "topic", "group"],
)
def test_granularity_selects_document_types(granularity, expected):
    docs = build(make_report(), granularity, INTERVAL)
    assert {t: len(d) for t, d in by_type(docs).items()} == expected
    assert docs[-1]["lagwatch.doc_type"] == "self"
    assert docs[-1]["lagwatch.self.documents"] == len(docs)


def test_lag_messages_is_the_lag_summed_over_each_scope():
    docs = by_type(build(make_report(), "partition", INTERVAL))
    partitions = {(d["kafka.consumergroup.id"], d["kafka.topic.name"], d["kafka.partition.id"]): d for d in docs["partition"]}
    assert partitions[("g1", "orders", 0)]["lagwatch.lag.messages"] == 95
    assert partitions[("g1", "orders", 0)]["lagwatch.lag.items"] == 285
    assert partitions[("g1", "orders", 0)]["kafka.consumergroup.client.id"] == "app"
    assert partitions[("g1", "orders", 1)]["kafka.consumergroup.client.id"] is None
    assert partitions[("g2", "gone", 0)]["lagwatch.lag.messages"] is None
    assert partitions[("g2", "gone", 0)]["lagwatch.error"]
    topics = {(d["kafka.consumergroup.id"], d["kafka.topic.name"]): d for d in docs["topic"]}
    assert topics[("g1", "orders")]["lagwatch.lag.messages"] == 145
    groups = {d["kafka.consumergroup.id"]: d for d in docs["group"]}
    assert groups["g1"]["lagwatch.lag.messages"] == 145
    assert groups["g2"]["lagwatch.error"] == "COORDINATOR_NOT_AVAILABLE"


SUM_FIELDS = ("lagwatch.lag.messages", "lagwatch.lag.partial", "lagwatch.lag.messages_known",
              "lagwatch.partitions_unknown", "lagwatch.partitions")


@pytest.mark.parametrize(
    "unread, expected",
    [
        ((), (145, False, 145, 0, 2)),
        ((("orders", 1),), (None, True, 95, 1, 2)),  # one partition unreadable: no sum, the known part apart
    ],
    ids=["complete", "partial"],
)
def test_topic_and_group_documents_carry_the_same_sums(unread, expected):
    committed = {("orders", 0): 5} if unread else {("orders", 0): 5, ("orders", 1): 150}
    report = make_report(groups=(GroupObservation("g1", "Empty", committed=committed, committed_unread=unread),))
    docs = by_type(build(report, "partition", INTERVAL))
    for doc in (docs["topic"][0], docs["group"][0]):
        assert tuple(doc[name] for name in SUM_FIELDS) == expected


def test_self_document_describes_the_scrape():
    (self_doc,) = by_type(build(make_report(), "group", INTERVAL, instance="pod-1"))["self"]
    assert self_doc["lagwatch.self.up"] is True
    assert self_doc["lagwatch.self.duration_ms"] == 250.0
    assert self_doc["lagwatch.self.kafka_requests"] == 3
    assert self_doc["lagwatch.self.requests.ListOffsets"] == 2
    assert self_doc["lagwatch.self.errors"] == 1
    assert self_doc["lagwatch.self.error_messages"] == ["topic gone: UNKNOWN_TOPIC_OR_PARTITION"]
    assert self_doc["lagwatch.self.instance"] == "pod-1"


# --- ids and slots ----------------------------------------------------------------------------


def test_ids_keep_their_format_across_releases():
    # The urlsafe base64 of blake2b(parts joined by \x1f, digest_size=15): a release that changed it would
    # write a second copy of every document of the slot it is rolled out in.
    assert documents.document_id("prod", "group", "billing", 1700000010000) == "h1QiIaW3lbFvO1MEqsME"
    assert documents.partition_id_prefix("prod", "billing", "orders", 1700000010000) == "kSQAkznNfeuKqYNcXIUt"


def test_ids_are_deterministic_across_two_builds():
    first = build(make_report(), "partition", INTERVAL, instance="a")
    second = build(make_report(), "partition", INTERVAL, instance="a")
    assert [d["_id"] for d in first] == [d["_id"] for d in second]


def test_ids_are_unique_within_a_build():
    ids = [d["_id"] for d in build(make_report(), "partition", INTERVAL)]
    assert len(ids) == len(set(ids))


def test_same_slot_gives_same_ids_so_replicas_overwrite():
    early = build(make_report(taken_at=1_700_000_010.0), "partition", INTERVAL)
    late = build(make_report(taken_at=1_700_000_039.9), "partition", INTERVAL)
    assert [d["_id"] for d in early] == [d["_id"] for d in late]


def test_next_slot_gives_new_ids():
    now = build(make_report(taken_at=T0), "partition", INTERVAL)
    later = build(make_report(taken_at=T0 + INTERVAL), "partition", INTERVAL)
    assert not {d["_id"] for d in now} & {d["_id"] for d in later}


@pytest.mark.parametrize(
    "a, b",
    [
        (("prod", "partition", "g1", "orders", 0, 0), ("prod", "partition", "g2", "orders", 0, 0)),
        (("prod", "partition", "g1", "orders", 0, 0), ("prod", "partition", "g1", "orders", 1, 0)),
        (("prod", "partition", "g1", "orders", 0, 0), ("prod", "partition", "g1", "orders", 0, 30000)),
        (("prod", "partition", "g1", "orders", 0, 0), ("test", "partition", "g1", "orders", 0, 0)),
        (("prod", "group", "g1", 0), ("prod", "topic", "g1", 0)),
    ],
    ids=["group", "partition", "slot", "cluster", "doc-type"],
)
def test_document_id_differs_when_any_part_differs(a, b):
    assert documents.document_id(*a) != documents.document_id(*b)


def test_self_document_id_differs_per_instance():
    a = by_type(build(make_report(), "group", INTERVAL, instance="pod-1"))["self"][0]
    b = by_type(build(make_report(), "group", INTERVAL, instance="pod-2"))["self"][0]
    assert a["_id"] != b["_id"]


@pytest.mark.parametrize(
    "ts, interval, expected",
    [
        (1_700_000_025.0, 30.0, 1_700_000_010_000),
        (1_700_000_039.999, 30.0, 1_700_000_010_000),
        (1_700_000_040.0, 30.0, 1_700_000_040_000),
        (1_700_000_040.0, 60.0, 1_700_000_040_000),
        (1_700_000_099.5, 60.0, 1_700_000_040_000),
        (1_700_000_000.75, 1.0, 1_700_000_000_000),
        (1_700_000_000.75, 0.5, 1_700_000_000_500),
    ],
    ids=["floor-30", "end-of-slot", "on-boundary", "boundary-60", "floor-60", "floor-1s", "sub-second"],
)
def test_slot_floors_to_the_interval(ts, interval, expected):
    assert documents.slot(ts, interval) == expected


# --- the strict mapping -----------------------------------------------------------------------


def mapping():
    text = resources.files("exporter").joinpath("resources/lag-mappings.json").read_text()
    return json.loads(text)


def mapped_field(props, dotted):
    """The mapping of a dotted field name, walking nested `properties`; None when not mapped."""
    node = {"properties": props}
    for part in dotted.split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            return None
    return node


def all_documents():
    report = make_report()
    docs = [doc for g in ("partition", "topic", "group") for doc in build(report, g, INTERVAL, "pod")]
    return docs


def test_mapping_is_strict():
    assert mapping()["dynamic"] == "strict"


def test_every_document_field_exists_in_the_mapping():
    props = mapping()["properties"]
    missing = set()
    for doc in all_documents():
        for key in doc:
            if key == "_id" or key.startswith("lagwatch.self.requests."):
                continue  # _id is metadata, not source; request counts are mapped dynamically
            if mapped_field(props, key) is None or "type" not in mapped_field(props, key):
                missing.add(key)
    assert not missing, f"fields not in lag-mappings.json: {sorted(missing)}"


def test_request_counts_are_dynamic_under_lagwatch_self_requests():
    m = mapping()
    assert mapped_field(m["properties"], "lagwatch.self.requests")["dynamic"] is True
    templates = [next(iter(t.values())) for t in m["dynamic_templates"]]
    assert any(t["path_match"] == "lagwatch.self.requests.*" for t in templates)


TYPE_CHECKS = {
    "keyword": lambda v: isinstance(v, str) or (isinstance(v, list) and all(isinstance(i, str) for i in v)),
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31,
    "double": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "date": lambda v: isinstance(v, str) and v.endswith("Z"),
}


def test_every_value_fits_its_mapped_type():
    props = mapping()["properties"]
    wrong = set()
    for doc in all_documents():
        for key, value in doc.items():
            if key == "_id" or key.startswith("lagwatch.self.requests.") or value is None:
                continue
            field_type = mapped_field(props, key)["type"]
            if not TYPE_CHECKS[field_type](value):
                wrong.add((key, field_type, repr(value)))
    assert not wrong, sorted(wrong)
