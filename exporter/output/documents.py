"""Turn a LagReport into Elasticsearch documents with stable field names (pure, no I/O).

Field names follow Metricbeat's kafka module where a field exists there (`kafka.consumergroup.*`,
`kafka.partition.*`, `kafka.topic.*`); everything else lives under `lagwatch.*`. Every document carries
`lagwatch.doc_type` (partition, topic, group or self) and `lagwatch.lag.messages`, the lag summed over the
document's scope, so one field answers "how far behind" at every granularity.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from datetime import datetime, timezone
from collections.abc import Iterator
from typing import Any

from exporter.lag.model import (
    ClusterSnapshot,
    Counter,
    GroupLag,
    GroupTopicLag,
    LagReport,
    PartitionLag,
    TimeLagQuality,
)

PARTITION, TOPIC, GROUP, SELF = "partition", "topic", "group", "self"
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


def document_id(*parts: object) -> str:
    """Deterministic _id: a retried or duplicated bulk overwrites instead of adding documents."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=15).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _counter(prefix: str, counter: Counter) -> dict[str, Any]:
    return {f"{prefix}.count": counter.count, f"{prefix}.rate": counter.rate}


def _time_lag_and_rates(
    seconds: float | None, quality: TimeLagQuality, produced: Counter, consumed: Counter
) -> dict[str, Any]:
    """The fields every lag document carries the same way, whatever its scope."""
    return {
        "lagwatch.lag.seconds": seconds,
        "lagwatch.lag.seconds_quality": quality.value,
        **_counter("lagwatch.produce", produced),
        **_counter("lagwatch.consume", consumed),
    }


def _partial(row: GroupTopicLag | GroupLag) -> dict[str, Any]:
    """A sum that could not read every partition: `lagwatch.lag.messages` is then null (never a smaller
    number), `messages_known` the lower bound from what was read."""
    return {
        "lagwatch.lag.partial": row.partial,
        "lagwatch.lag.messages_known": row.lag_known_sum,
        "lagwatch.partitions_unknown": row.partitions_unknown,
        "lagwatch.partitions_beyond_log_end": row.partitions_beyond_log_end,
    }


def _base(snapshot: ClusterSnapshot, doc_type: str, slot_ms: int) -> dict[str, Any]:
    return {
        "@timestamp": iso(snapshot.taken_at),
        "event.dataset": "lagwatch.lag",
        "lagwatch.cluster": snapshot.cluster,
        "lagwatch.doc_type": doc_type,
        "lagwatch.slot": slot_ms,
    }


def partition_doc(row: PartitionLag, snapshot: ClusterSnapshot, slot_ms: int) -> dict[str, Any]:
    doc = _base(snapshot, PARTITION, slot_ms)
    doc.update(
        {
            "kafka.consumergroup.id": row.group,
            "kafka.topic.name": row.topic,
            "kafka.partition.id": row.partition,
            "kafka.partition.topic_id": f"{row.partition}-{row.topic}",
            "kafka.consumergroup.offset": row.committed_offset,
            "kafka.consumergroup.consumer_lag": row.lag,
            "kafka.partition.offset.newest": row.log_end_offset,
            "kafka.partition.offset.oldest": row.log_start_offset,
            "kafka.consumergroup.client.id": row.member.client_id if row.member else None,
            "kafka.consumergroup.client.host": row.member.client_host if row.member else None,
            "kafka.consumergroup.client.member_id": row.member.member_id if row.member else None,
            "lagwatch.lag.messages": row.lag,
            "lagwatch.lag.items": row.lag_items,
            "lagwatch.committed": row.committed_offset is not None,
            "lagwatch.committed_below_log_start": row.committed_below_log_start,
            "lagwatch.lag.partial": row.lag_unknown,
            "lagwatch.committed_beyond_log_end": row.beyond_log_end > 0,
            "lagwatch.committed_beyond_by": row.beyond_log_end or None,
            "lagwatch.error": row.error,
        }
    )
    doc.update(_time_lag_and_rates(row.time_lag.seconds, row.time_lag.quality, row.produced, row.consumed))
    doc["_id"] = document_id(snapshot.cluster, PARTITION, row.group, row.topic, row.partition, slot_ms)
    return doc


def topic_doc(row: GroupTopicLag, snapshot: ClusterSnapshot, slot_ms: int) -> dict[str, Any]:
    doc = _base(snapshot, TOPIC, slot_ms)
    doc.update(
        {
            "kafka.consumergroup.id": row.group,
            "kafka.topic.name": row.topic,
            "lagwatch.lag.messages": row.lag_sum,
            "lagwatch.lag.max_partition": row.lag_max,
            "lagwatch.lag.items": row.lag_items_sum,
            **_partial(row),
            "lagwatch.partitions": row.partitions,
            "lagwatch.partitions_without_commit": row.partitions_without_commit,
            "lagwatch.partitions_below_log_start": row.partitions_below_log_start,
            "lagwatch.retention.ms": row.retention_ms,
            "lagwatch.retention.used": row.retention_used,
        }
    )
    doc.update(_time_lag_and_rates(row.lag_seconds_max, row.time_lag_quality, row.produced, row.consumed))
    doc["_id"] = document_id(snapshot.cluster, TOPIC, row.group, row.topic, slot_ms)
    return doc


def group_doc(row: GroupLag, snapshot: ClusterSnapshot, slot_ms: int) -> dict[str, Any]:
    doc = _base(snapshot, GROUP, slot_ms)
    doc.update(
        {
            "kafka.consumergroup.id": row.group,
            "lagwatch.group.state": row.state,
            "lagwatch.group.type": row.group_type or "classic",
            "lagwatch.group.epoch": row.epoch,
            "lagwatch.group.members": row.members,
            "lagwatch.group.topics": row.topics,
            "lagwatch.lag.messages": row.lag_sum,
            "lagwatch.lag.max_partition": row.lag_max,
            "lagwatch.lag.items": row.lag_items_sum,
            **_partial(row),
            "lagwatch.partitions": row.partitions,
            "lagwatch.partitions_without_commit": row.partitions_without_commit,
            "lagwatch.catch_up.state": row.catch_up.value,
            "lagwatch.catch_up.seconds": row.catch_up_seconds,
            "lagwatch.retention.used": row.retention_used_max,
            "lagwatch.error": row.error,
        }
    )
    doc.update(_time_lag_and_rates(row.lag_seconds_max, row.time_lag_quality, row.produced, row.consumed))
    doc["_id"] = document_id(snapshot.cluster, GROUP, row.group, slot_ms)
    return doc


def self_doc(
    snapshot: ClusterSnapshot, slot_ms: int, documents: int, instance: str = "", partial_groups: int = 0,
    outcome: str = "scraped", reason: str | None = None, delivery: dict[str, int] | None = None,
) -> dict[str, Any]:
    """What the scrape itself did: the exporter's own health, charted and alerted on like any metric.
    Every scrape slot has one, also a slot that was not scraped (`outcome: skipped`, with the reason)."""
    doc = _base(snapshot, SELF, slot_ms)
    doc.update(
        {
            "lagwatch.self.outcome": outcome,
            "lagwatch.self.reason": reason,
            "lagwatch.self.up": snapshot.up,
            "lagwatch.self.duration_ms": round(snapshot.duration_s * 1000, 3),
            "lagwatch.self.groups": len(snapshot.groups),
            "lagwatch.self.partitions": len(snapshot.partitions),
            "lagwatch.self.documents": documents,
            "lagwatch.self.kafka_requests": sum(snapshot.requests.values()),
            "lagwatch.self.errors": len(snapshot.errors),
            "lagwatch.self.partial_groups": partial_groups,
            "lagwatch.self.error_messages": [f"{e.scope} {e.name}: {e.message}" for e in snapshot.errors][:50],
            "lagwatch.self.instance": instance or None,
        }
    )
    for api, count in snapshot.requests.items():
        doc[f"lagwatch.self.requests.{api}"] = count
    # Documents by outcome since the daemon started: every measurement is indexed, waits, or is counted.
    for outcome, count in (delivery or {}).items():
        doc[f"lagwatch.self.delivery.{outcome}"] = count
    doc["_id"] = document_id(snapshot.cluster, SELF, instance, slot_ms)
    return doc


def shard_fields(owned: tuple[int, ...], total: int) -> dict[str, Any]:
    """For the `self` documents of replicas sharing the groups (exporter/coordination): the shards this
    process owned (`lagwatch.self.shards`, numbers 0..S-1) and how many there are (S)."""
    return {"lagwatch.self.shards": list(owned), "lagwatch.self.shards_total": total}


def with_status(doc: dict[str, Any], status) -> dict[str, Any]:
    """Add an evaluator Status (exporter.evaluator.status) as lagwatch.status.* fields; None adds nothing."""
    if status is not None:
        doc["lagwatch.status.code"] = getattr(status.code, "value", status.code)
        doc["lagwatch.status.severity"] = status.severity
        doc["lagwatch.status.reason"] = status.reason
    return doc


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
    doc["lagwatch.self.up"] = None  # not measured, not known to be down
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
        for r in report.partitions:
            yield with_status(partition_doc(r, snapshot, slot_ms), part_status.get((r.group, r.topic, r.partition)))
    if TOPIC in wanted:
        for r in report.group_topics:
            yield topic_doc(r, snapshot, slot_ms)
    if GROUP in wanted:
        for r in report.groups:
            yield with_status(group_doc(r, snapshot, slot_ms), group_status.get(r.group))
    partial_groups = sum(1 for g in report.groups if g.partial)
    yield self_doc(snapshot, slot_ms, count(report, granularity), instance, partial_groups, delivery=delivery)


def build(
    report: LagReport, granularity: str, interval_s: float, instance: str = "", statuses=None
) -> list[dict[str, Any]]:
    """All documents for one scrape as a list (see `iterate`)."""
    return list(iterate(report, granularity, interval_s, instance, statuses))
