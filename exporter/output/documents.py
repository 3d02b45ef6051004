"""Turn a LagReport into Elasticsearch documents with stable field names (pure, no I/O; the names are
defined in exporter/output/fields.py).

Field names follow Metricbeat's kafka module where a field exists there (`kafka.consumergroup.*`,
`kafka.partition.*`, `kafka.topic.*`); everything else lives under `lagwatch.*`. Every document carries
`lagwatch.doc_type` (partition, topic, group or self) and `lagwatch.lag.messages`, the lag summed over the
document's scope, so one field answers "how far behind" at every granularity.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
from datetime import datetime, timezone
from collections.abc import Iterator
from typing import Any

from exporter.lag.model import (
    ClusterSnapshot,
    GroupLag,
    GroupTopicLag,
    LagReport,
    PartitionLag,
)
from exporter.output import fields
from exporter.output.fields import DocType

PARTITION, TOPIC, GROUP, SELF = DocType.PARTITION, DocType.TOPIC, DocType.GROUP, DocType.SELF
GRANULARITY_DOC_TYPES = {
    "partition": (PARTITION, TOPIC, GROUP),
    "topic": (TOPIC, GROUP),
    "group": (GROUP,),
}


@functools.lru_cache(maxsize=256)  # one scrape's documents share a few timestamps: format each once
def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def slot(ts: float, interval_s: float) -> int:
    """The scrape slot (ms) a time falls in: replicas scraping the same slot write the same ids."""
    interval_ms = max(1, int(interval_s * 1000))
    return int(ts * 1000) // interval_ms * interval_ms


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def document_id(*parts: object) -> str:
    """Deterministic _id: a retried or duplicated bulk overwrites instead of adding documents."""
    return _hashed_id("\x1f".join(str(p) for p in parts))


_BLAKE2B_15 = hashlib.blake2b(digest_size=15)  # never updated: each id hashes a copy of it


def _hashed_id(text: str, _copy=_BLAKE2B_15.copy, _b64=binascii.b2a_base64, _urlsafe=_URLSAFE) -> str:
    # blake2b(text, digest_size=15) as urlsafe base64, without base64's two Python frames, and from a copy of
    # an empty hasher: half the cost of the constructor's argument parsing (once per topic and group document
    # and per group-topic run of partition documents). 15 bytes need no padding.
    hasher = _copy()
    hasher.update(text.encode())
    return _b64(hasher.digest(), newline=False).translate(_urlsafe).decode()


# The builders below write each document as one dict literal, `_id` last: the bulk serializer cuts `_id` from
# the end of the serialized bytes (exporter/sinks/bulk.py) instead of copying the dict. A scrape builds one
# document per group-partition, so the per-document cost is the stage's cost: no helper dicts, no merges.
# `x._value_` reads an enum member's value without the descriptor behind `.value`.


def partition_id_prefix(cluster: str, group: str, topic: str, slot_ms: int) -> str:
    """What the ids of one group's partition documents of a topic in a slot share: `<prefix>-<partition>`.
    One hash per group and topic instead of one per partition (a wide group reads hundreds of partitions)."""
    return _hashed_id(f"{cluster}\x1f{PARTITION}\x1f{group}\x1f{topic}\x1f{slot_ms}")


def topic_id(cluster: str, group: str, topic: str, slot_ms: int) -> str:
    return _hashed_id(f"{cluster}\x1f{TOPIC}\x1f{group}\x1f{topic}\x1f{slot_ms}")


def group_id(cluster: str, group: str, slot_ms: int) -> str:
    return _hashed_id(f"{cluster}\x1f{GROUP}\x1f{group}\x1f{slot_ms}")


def partition_doc(
    row: PartitionLag, snapshot: ClusterSnapshot, slot_ms: int, status=None, id_prefix: str | None = None
) -> dict[str, Any]:
    """`id_prefix`: partition_id_prefix(...) of the row, when the caller has it already."""
    member, time_lag, produced, consumed = row.member, row.time_lag, row.produced, row.consumed
    doc = {
        fields.TIMESTAMP: iso(snapshot.taken_at),
        fields.DATASET: fields.Dataset.LAG,
        fields.CLUSTER: snapshot.cluster,
        fields.DOC_TYPE: PARTITION,
        fields.SLOT: slot_ms,
        fields.GROUP_ID: row.group,
        fields.TOPIC_NAME: row.topic,
        fields.PARTITION_ID: row.partition,
        fields.PARTITION_TOPIC_ID: f"{row.partition}-{row.topic}",
        fields.COMMITTED_OFFSET: row.committed_offset,
        fields.CONSUMER_LAG: row.lag,
        fields.LOG_END_OFFSET: row.log_end_offset,
        fields.LOG_START_OFFSET: row.log_start_offset,
        fields.MEMBER_CLIENT_ID: member.client_id if member else None,
        fields.MEMBER_CLIENT_HOST: member.client_host if member else None,
        fields.MEMBER_ID: member.member_id if member else None,
        fields.LAG_MESSAGES: row.lag,
        fields.LAG_ITEMS: row.lag_items,
        fields.COMMITTED: row.committed_offset is not None,
        fields.COMMITTED_BELOW_LOG_START: row.committed_below_log_start,
        fields.LAG_PARTIAL: row.lag_unknown,
        fields.COMMITTED_BEYOND_LOG_END: row.beyond_log_end > 0,
        fields.COMMITTED_BEYOND_BY: row.beyond_log_end or None,
        fields.ERROR: row.error,
        fields.LAG_SECONDS: time_lag.seconds,
        fields.LAG_SECONDS_QUALITY: time_lag.quality._value_,
        fields.PRODUCE_COUNT: produced.count,
        fields.PRODUCE_RATE: produced.rate,
        fields.CONSUME_COUNT: consumed.count,
        fields.CONSUME_RATE: consumed.rate,
    }
    if status is not None:
        _add_status(doc, status)
    if id_prefix is None:
        id_prefix = partition_id_prefix(snapshot.cluster, row.group, row.topic, slot_ms)
    doc["_id"] = f"{id_prefix}-{row.partition}"
    return doc


def _aggregate_doc(
    row: GroupTopicLag | GroupLag, snapshot: ClusterSnapshot, slot_ms: int, doc_type: str, own: dict[str, Any]
) -> dict[str, Any]:
    """What a topic and a group document share around their `own` fields. A sum that could not read every
    partition: `lagwatch.lag.messages` is null (never a smaller number), `messages_known` the lower bound from
    what was read. One literal with one merge: a document per group and per group-topic."""
    produced, consumed = row.produced, row.consumed
    return {
        fields.TIMESTAMP: iso(snapshot.taken_at),
        fields.DATASET: fields.Dataset.LAG,
        fields.CLUSTER: snapshot.cluster,
        fields.DOC_TYPE: doc_type,
        fields.SLOT: slot_ms,
        fields.GROUP_ID: row.group,
        **own,
        fields.LAG_MESSAGES: row.lag_sum,
        fields.LAG_MAX_PARTITION: row.lag_max,
        fields.LAG_ITEMS: row.lag_items_sum,
        fields.LAG_PARTIAL: row.partial,
        fields.LAG_MESSAGES_KNOWN: row.lag_known_sum,
        fields.PARTITIONS_UNKNOWN: row.partitions_unknown,
        fields.PARTITIONS_BEYOND_LOG_END: row.partitions_beyond_log_end,
        fields.PARTITIONS: row.partitions,
        fields.PARTITIONS_WITHOUT_COMMIT: row.partitions_without_commit,
        fields.LAG_SECONDS: row.lag_seconds_max,
        fields.LAG_SECONDS_QUALITY: row.time_lag_quality._value_,
        fields.PRODUCE_COUNT: produced.count,
        fields.PRODUCE_RATE: produced.rate,
        fields.CONSUME_COUNT: consumed.count,
        fields.CONSUME_RATE: consumed.rate,
    }


def topic_doc(row: GroupTopicLag, snapshot: ClusterSnapshot, slot_ms: int) -> dict[str, Any]:
    own = {
        fields.TOPIC_NAME: row.topic,
        fields.PARTITIONS_BELOW_LOG_START: row.partitions_below_log_start,
        fields.RETENTION_MS: row.retention_ms,
        fields.RETENTION_USED: row.retention_used,
    }
    doc = _aggregate_doc(row, snapshot, slot_ms, TOPIC, own)
    doc["_id"] = topic_id(snapshot.cluster, row.group, row.topic, slot_ms)
    return doc


def group_doc(row: GroupLag, snapshot: ClusterSnapshot, slot_ms: int, status=None) -> dict[str, Any]:
    own = {
        fields.GROUP_STATE: row.state,
        fields.GROUP_TYPE: row.group_type or "classic",
        fields.GROUP_EPOCH: row.epoch,
        fields.GROUP_MEMBERS: row.members,
        fields.GROUP_TOPICS: row.topics,
        fields.CATCH_UP_STATE: row.catch_up._value_,
        fields.CATCH_UP_SECONDS: row.catch_up_seconds,
        fields.RETENTION_USED: row.retention_used_max,
        fields.ERROR: row.error,
    }
    doc = _aggregate_doc(row, snapshot, slot_ms, GROUP, own)
    if status is not None:
        _add_status(doc, status)
    doc["_id"] = group_id(snapshot.cluster, row.group, slot_ms)
    return doc


def _base(snapshot: ClusterSnapshot, doc_type: str, slot_ms: int) -> dict[str, Any]:
    return {
        fields.TIMESTAMP: iso(snapshot.taken_at),
        fields.DATASET: fields.Dataset.LAG,
        fields.CLUSTER: snapshot.cluster,
        fields.DOC_TYPE: doc_type,
        fields.SLOT: slot_ms,
    }


def self_doc(
    snapshot: ClusterSnapshot, slot_ms: int, documents: int, instance: str = "", partial_groups: int = 0,
    outcome: str = "scraped", reason: str | None = None, delivery: dict[str, int] | None = None,
) -> dict[str, Any]:
    """What the scrape itself did: the exporter's own health, charted and alerted on like any metric.
    Every scrape slot has one, also a slot that was not scraped (`outcome: skipped`, with the reason)."""
    doc = _base(snapshot, SELF, slot_ms)
    doc.update(
        {
            fields.SELF_OUTCOME: outcome,
            fields.SELF_REASON: reason,
            fields.SELF_UP: snapshot.up,
            fields.SELF_DURATION_MS: round(snapshot.duration_s * 1000, 3),
            fields.SELF_GROUPS: len(snapshot.groups),
            fields.SELF_PARTITIONS: len(snapshot.partitions),
            fields.SELF_DOCUMENTS: documents,
            fields.SELF_KAFKA_REQUESTS: sum(snapshot.requests.values()),
            fields.SELF_ERRORS: len(snapshot.errors),
            fields.SELF_PARTIAL_GROUPS: partial_groups,
            fields.SELF_ERROR_MESSAGES: [f"{e.scope} {e.name}: {e.message}" for e in snapshot.errors][:50],
            fields.SELF_INSTANCE: instance or None,
        }
    )
    for api, count in snapshot.requests.items():
        doc[fields.SELF_REQUESTS_PREFIX + api] = count
    # Documents by outcome since the daemon started: every measurement is indexed, waits, or is counted.
    for outcome, count in (delivery or {}).items():
        doc[fields.SELF_DELIVERY_PREFIX + outcome] = count
    doc["_id"] = document_id(snapshot.cluster, SELF, instance, slot_ms)
    return doc


def shard_fields(owned: tuple[int, ...], total: int, membership: str) -> dict[str, Any]:
    """For the `self` documents of replicas sharing the groups (exporter/coordination): the shards this
    process owned (`lagwatch.self.shards`, numbers 0..S-1), how many there are (S), and whether it was a
    member of the coordination group (`member`, else its state)."""
    return {fields.SELF_SHARDS: list(owned), fields.SELF_SHARDS_TOTAL: total, fields.SELF_COORDINATION: membership}


def _add_status(doc: dict[str, Any], status) -> None:
    """An evaluator Status (exporter.evaluator.status) as lagwatch.status.* fields."""
    code = status.code
    doc[fields.STATUS_CODE] = getattr(code, "_value_", code)
    doc[fields.STATUS_SEVERITY] = status.severity
    doc[fields.STATUS_REASON] = status.reason


def count(report: LagReport, granularity: str) -> int:
    """How many documents `iterate` yields for this report (the self document included)."""
    wanted = GRANULARITY_DOC_TYPES[granularity]
    return (
        (len(report.partitions) if PARTITION in wanted else 0)
        + (len(report.group_topics) if TOPIC in wanted else 0)
        + (len(report.groups) if GROUP in wanted else 0)
        + 1
    )


def skipped_slot_doc(
    cluster: str, at: float, slot_ms: int, reason: str, instance: str = ""
) -> dict[str, Any]:
    """The self document of a slot that was not scraped (the previous scrape overran it)."""
    snapshot = ClusterSnapshot(cluster=cluster, taken_at=at, topics={}, partitions={}, groups=(), up=False)
    doc = self_doc(snapshot, slot_ms, 1, instance, outcome="skipped", reason=reason)
    doc[fields.SELF_UP] = None  # not measured, not known to be down
    return doc


def iterate(
    report: LagReport, granularity: str, interval_s: float, instance: str = "", statuses=None,
    slot_ms: int | None = None, delivery: dict[str, int] | None = None,
) -> Iterator[dict[str, Any]]:
    """The documents for one scrape, one at a time (a large estate's scrape never has to be held whole):
    the granularity's lag documents, then one self document. `statuses`
    (exporter.evaluator.status.Statuses) adds each partition's and group's status."""
    part_status = statuses.partitions if statuses is not None else {}
    group_status = statuses.groups if statuses is not None else {}
    snapshot = report.snapshot
    if slot_ms is None:  # the scheduler's slot when it passes one; a late scrape keeps its own slot's ids
        slot_ms = slot(snapshot.taken_at, interval_s)
    wanted = GRANULARITY_DOC_TYPES[granularity]
    if PARTITION in wanted:
        group = topic = prefix = None
        cluster = snapshot.cluster
        for r in report.partitions:  # a group's rows of one topic are one run: one id prefix per run
            if r.topic != topic or r.group != group:
                group, topic = r.group, r.topic
                prefix = partition_id_prefix(cluster, group, topic, slot_ms)
            yield partition_doc(r, snapshot, slot_ms, part_status.get((r.group, r.topic, r.partition)), prefix)
    if TOPIC in wanted:
        for r in report.group_topics:
            yield topic_doc(r, snapshot, slot_ms)
    if GROUP in wanted:
        for r in report.groups:
            yield group_doc(r, snapshot, slot_ms, group_status.get(r.group))
    partial_groups = sum(1 for g in report.groups if g.partial)
    yield self_doc(snapshot, slot_ms, count(report, granularity), instance, partial_groups, delivery=delivery)


def build(
    report: LagReport, granularity: str, interval_s: float, instance: str = "", statuses=None
) -> list[dict[str, Any]]:
    """All documents for one scrape as a list (see `iterate`)."""
    return list(iterate(report, granularity, interval_s, instance, statuses))
