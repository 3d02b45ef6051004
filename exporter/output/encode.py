"""A scrape's documents, from the report straight to `_bulk` request bodies (pure, no I/O).

Each row of the report becomes one document record (exporter/output/doctypes.py) next to its action line,
and every `batch_documents` of them are encoded in one call to msgspec (`encode_lines`): one Batch per
`_bulk` request (exporter/output/batch.py). Documents come in the order partition, topic, group, then one
`self` document about the scrape itself; a batch never mixes two of these kinds. The ids are the ones
exporter/output/documents.py defines: deterministic, so a batch sent twice overwrites instead of adding.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import msgspec

from exporter.evaluator.status import Status, Statuses
from exporter.lag.held import held
from exporter.lag.model import GroupLag, GroupTopicLag, LagReport, PartitionLag
from exporter.output import documents, fields
from exporter.output.batch import Batch, slot_day
from exporter.output.doctypes import GroupDocument, PartitionDocument, TopicDocument
from exporter.output.fields import DocType

_encoder = msgspec.json.Encoder()


class _Target(msgspec.Struct, gc=False):
    id: str = msgspec.field(name="_id")


class _Index(msgspec.Struct, gc=False):
    """An action line: `{"index":{"_id":...}}`."""

    index: _Target


class _Head(msgspec.Struct, frozen=True, gc=False):
    """What every document of one scrape begins with (doctypes._Document's first five fields)."""

    timestamp: str
    dataset: str
    cluster: str
    slot: int


def encode(
    report: LagReport, granularity: str, interval_s: float, instance: str = "", statuses: Statuses | None = None,
    slot_ms: int | None = None, delivery: dict[str, int] | None = None,
    self_fields: Callable[[], dict[str, Any]] | None = None, batch_documents: int = 1000,
    carried: Mapping[str, float] | None = None,
    sink_refused: str | None = None,
) -> Iterator[Batch]:
    """The batches of one scrape, one at a time (a large estate's scrape is never held whole): the
    granularity's lag documents, then the self document. `statuses` adds each partition's and group's status;
    `delivery` (documents by outcome so far) and `self_fields()` (replicas: the shards this process owns) go
    into the self document, and so does `sink_refused` (why Elasticsearch refuses lagwatch, while it does);
    `carried` (exporter/lag/held.carry) each group's last known time lag, which its document carries while this
    scrape's is not known."""
    snapshot = report.snapshot
    if slot_ms is None:  # the scheduler's slot when it passes one; a late scrape keeps its own slot's ids
        slot_ms = documents.slot(snapshot.taken_at, interval_s)
    head = _Head(documents.iso(snapshot.taken_at), fields.Dataset.LAG, snapshot.cluster, slot_ms)
    day = slot_day(slot_ms)
    wanted = documents.GRANULARITY_DOC_TYPES[granularity]
    if DocType.PARTITION in wanted:
        part_status = statuses.partitions if statuses is not None else {}
        lines_of = functools.partial(_partition_lines, head=head, statuses=part_status)
        yield from _batches(report.partitions, lines_of, batch_documents, day)
    if DocType.TOPIC in wanted:
        yield from _batches(report.group_topics, functools.partial(_topic_lines, head=head), batch_documents, day)
    if DocType.GROUP in wanted:
        group_status = statuses.groups if statuses is not None else {}
        lines_of = functools.partial(_group_lines, head=head, statuses=group_status, carried=carried or {})
        yield from _batches(report.groups, lines_of, batch_documents, day)
    partial_groups = sum(1 for g in report.groups if g.partial)
    doc = documents.self_doc(
        snapshot, slot_ms, documents.count(report, granularity), instance, partial_groups, delivery=delivery,
        sink_refused=sink_refused,
    )
    if self_fields is not None:
        doc.update(self_fields())
    yield _encoded([_Index(_Target(doc.pop("_id"))), doc], 1, day)


def _batches(rows: Sequence, lines_of: Callable[[Sequence], list], size: int, day: str) -> Iterator[Batch]:
    """`size` rows to a batch: `lines_of(rows)` makes their action lines and documents."""
    for start in range(0, len(rows), size):
        chunk = rows[start:start + size]
        yield _encoded(lines_of(chunk), len(chunk), day)


def _encoded(lines: list, count: int, day: str) -> Batch:
    return Batch(_encoder.encode_lines(lines), count, day)


def _partition_lines(
    rows: Sequence[PartitionLag], head: _Head, statuses: dict[tuple[str, str, int], Status]
) -> list[msgspec.Struct]:
    """An action line and a PartitionDocument per row."""
    timestamp, dataset, cluster, slot_ms = head.timestamp, head.dataset, head.cluster, head.slot
    lines: list[msgspec.Struct] = []
    group = topic = prefix = None
    for row in rows:
        if row.topic != topic or row.group != group:  # a group's rows of one topic are one run: one id prefix
            group, topic = row.group, row.topic
            prefix = documents.partition_id_prefix(cluster, group, topic, slot_ms)
        member, time_lag, produced, consumed = row.member, row.time_lag, row.produced, row.consumed
        partition, committed, lag, beyond = row.partition, row.committed_offset, row.lag, row.beyond_log_end
        # Positional, in PartitionDocument's field order (one per row: a keyword call costs several times more).
        document = PartitionDocument(
            timestamp, dataset, cluster, DocType.PARTITION, slot_ms, group,
            lag, row.lag_items, row.lag_unknown, time_lag.seconds, time_lag.quality._value_,
            produced.count, produced.rate, consumed.count, consumed.rate,
            topic, partition, f"{partition}-{topic}", committed, lag, row.log_end_offset, row.log_start_offset,
            member.client_id if member else None, member.client_host if member else None,
            member.member_id if member else None,
            committed is not None, row.committed_below_log_start, beyond > 0, beyond or None, row.error,
        )
        status = statuses.get((group, topic, partition))
        if status is not None:
            document.status_code, document.status_severity, document.status_reason = _status(status)
        lines.append(_Index(_Target(f"{prefix}-{partition}")))
        lines.append(document)
    return lines


def _topic_lines(rows: Sequence[GroupTopicLag], head: _Head) -> list[msgspec.Struct]:
    """An action line and a TopicDocument per row."""
    timestamp, dataset, cluster, slot_ms = head.timestamp, head.dataset, head.cluster, head.slot
    lines: list[msgspec.Struct] = []
    for row in rows:
        produced, consumed = row.produced, row.consumed
        lines.append(_Index(_Target(documents.topic_id(cluster, row.group, row.topic, slot_ms))))
        lines.append(TopicDocument(  # positional, in TopicDocument's field order
            timestamp, dataset, cluster, DocType.TOPIC, slot_ms, row.group,
            row.lag_sum, row.lag_items_sum, row.lag_sum is None, row.lag_seconds_max, row.time_lag_quality._value_,
            produced.count, produced.rate, consumed.count, consumed.rate,
            row.lag_max, row.lag_known_sum, row.partitions_unknown, row.partitions_beyond_log_end, row.partitions,
            row.partitions_without_commit,
            row.topic, row.partitions_below_log_start, row.retention_ms, row.retention_used,
        ))
    return lines


def _group_lines(
    rows: Sequence[GroupLag], head: _Head, statuses: dict[str, Status], carried: Mapping[str, float]
) -> list[msgspec.Struct]:
    """An action line and a GroupDocument per row."""
    timestamp, dataset, cluster, slot_ms = head.timestamp, head.dataset, head.cluster, head.slot
    lines: list[msgspec.Struct] = []
    for row in rows:
        produced, consumed = row.produced, row.consumed
        document = GroupDocument(  # positional, in GroupDocument's field order
            timestamp, dataset, cluster, DocType.GROUP, slot_ms, row.group,
            row.lag_sum, row.lag_items_sum, row.lag_sum is None, row.lag_seconds_max, row.time_lag_quality._value_,
            produced.count, produced.rate, consumed.count, consumed.rate,
            row.lag_max, row.lag_known_sum, row.partitions_unknown, row.partitions_beyond_log_end, row.partitions,
            row.partitions_without_commit,
            row.state, row.group_type or "classic", row.epoch, row.members, row.topics, row.catch_up._value_,
            row.catch_up_seconds, row.retention_used_max, row.error, held(row, carried) if carried else None,
        )
        status = statuses.get(row.group)
        if status is not None:
            document.status_code, document.status_severity, document.status_reason = _status(status)
        lines.append(_Index(_Target(documents.group_id(cluster, row.group, slot_ms))))
        lines.append(document)
    return lines


def _status(status: Status) -> tuple[str, int, str]:
    """A status as its document fields: code, severity, reason."""
    return status.code._value_, status.severity, status.reason
