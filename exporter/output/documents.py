"""What identifies a lag document, and the `self` document of each scrape slot (pure, no I/O).

Ids are deterministic (a hash of cluster, document kind, group, topic and scrape slot), so a batch sent twice,
or by two replicas scraping the same slot, overwrites instead of adding documents. The partition, topic and
group documents themselves are exporter/output/doctypes.py, written from the report by exporter/output/
encode.py; the `self` document, one per scrape slot, is a dict: its keys include Kafka API names and delivery
outcomes, which are data.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
from datetime import datetime, timezone
from typing import Any

from exporter.lag.model import ClusterSnapshot, LagReport
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


def _hashed_id(text: str) -> str:
    """blake2b(text, digest_size=15) as urlsafe base64 (15 bytes: no padding). Made per topic and group
    document and per group-topic run of partition documents, so from a copy of one empty hasher rather than the
    constructor."""
    hasher = _BLAKE2B_15.copy()
    hasher.update(text.encode())
    return binascii.b2a_base64(hasher.digest(), newline=False).translate(_URLSAFE).decode()


def partition_id_prefix(cluster: str, group: str, topic: str, slot_ms: int) -> str:
    """What the ids of one group's partition documents of a topic in a slot share: `<prefix>-<partition>`.
    One hash per group and topic instead of one per partition (a wide group reads hundreds of partitions)."""
    return _hashed_id(f"{cluster}\x1f{PARTITION}\x1f{group}\x1f{topic}\x1f{slot_ms}")


def topic_id(cluster: str, group: str, topic: str, slot_ms: int) -> str:
    return _hashed_id(f"{cluster}\x1f{TOPIC}\x1f{group}\x1f{topic}\x1f{slot_ms}")


def group_id(cluster: str, group: str, slot_ms: int) -> str:
    return _hashed_id(f"{cluster}\x1f{GROUP}\x1f{group}\x1f{slot_ms}")


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
    sink_refused: str | None = None,
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
            fields.SELF_ACCESS_DENIED: sum(1 for e in snapshot.errors if e.grant),
            fields.SELF_SINK_REFUSED: sink_refused,
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


def count(report: LagReport, granularity: str) -> int:
    """How many documents a scrape of this report makes at this granularity (the self document included)."""
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
