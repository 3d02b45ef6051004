"""The lag documents as types: one record per document kind (pure, no I/O).

Each field is named once, in exporter/output/fields.py, and encoded under that name. A document is made from a
report's row (exporter/output/encode.py) and encoded straight to JSON by msgspec: no dict per document. Field names
follow Metricbeat's kafka module where a field exists there (`kafka.consumergroup.*`, `kafka.partition.*`,
`kafka.topic.*`); everything else lives under `lagwatch.*`. Every lag document carries `lagwatch.doc_type` and
`lagwatch.lag.messages`, the lag summed over the document's scope, so one field answers "how far behind" at every
granularity. A field that could not be read is null, never absent; the status fields are absent when statuses are
off. """

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType, field

from exporter.output import fields as f


class _Document(msgspec.Struct, gc=False):
    """What every lag document begins with: the scrape it belongs to."""

    timestamp: str = field(name=f.TIMESTAMP)
    dataset: str = field(name=f.DATASET)
    cluster: str = field(name=f.CLUSTER)
    doc_type: str = field(name=f.DOC_TYPE)
    slot: int = field(name=f.SLOT)
    group: str = field(name=f.GROUP_ID)


class _Lag(_Document):
    """The lag over the document's scope, in messages and in seconds, and the traffic around it."""

    lag_messages: int | None = field(name=f.LAG_MESSAGES)
    lag_items: int | None = field(name=f.LAG_ITEMS)
    lag_partial: bool = field(name=f.LAG_PARTIAL)
    lag_seconds: float | None = field(name=f.LAG_SECONDS)
    lag_seconds_quality: str = field(name=f.LAG_SECONDS_QUALITY)
    produce_count: int | None = field(name=f.PRODUCE_COUNT)
    produce_rate: float | None = field(name=f.PRODUCE_RATE)
    consume_count: int | None = field(name=f.CONSUME_COUNT)
    consume_rate: float | None = field(name=f.CONSUME_RATE)


class PartitionDocument(_Lag):
    """One group's view of one partition."""

    topic: str = field(name=f.TOPIC_NAME)
    partition: int = field(name=f.PARTITION_ID)
    partition_topic_id: str = field(name=f.PARTITION_TOPIC_ID)  # "<partition>-<topic>": one series each
    committed_offset: int | None = field(name=f.COMMITTED_OFFSET)
    consumer_lag: int | None = field(name=f.CONSUMER_LAG)
    log_end_offset: int | None = field(name=f.LOG_END_OFFSET)
    log_start_offset: int | None = field(name=f.LOG_START_OFFSET)
    client_id: str | None = field(name=f.MEMBER_CLIENT_ID)
    client_host: str | None = field(name=f.MEMBER_CLIENT_HOST)
    member_id: str | None = field(name=f.MEMBER_ID)
    committed: bool = field(name=f.COMMITTED)
    committed_below_log_start: bool = field(name=f.COMMITTED_BELOW_LOG_START)
    committed_beyond_log_end: bool = field(name=f.COMMITTED_BEYOND_LOG_END)
    committed_beyond_by: int | None = field(name=f.COMMITTED_BEYOND_BY)
    error: str | None = field(name=f.ERROR)
    status_code: str | UnsetType = field(name=f.STATUS_CODE, default=UNSET)
    status_severity: int | UnsetType = field(name=f.STATUS_SEVERITY, default=UNSET)
    status_reason: str | UnsetType = field(name=f.STATUS_REASON, default=UNSET)


class _Aggregate(_Lag):
    """What a topic and a group document add: sums over partitions. A sum that could not read every
    partition is null (never a smaller number); `messages_known` is the lower bound from what was read."""

    lag_max_partition: int | None = field(name=f.LAG_MAX_PARTITION)
    lag_messages_known: int = field(name=f.LAG_MESSAGES_KNOWN)
    partitions_unknown: int = field(name=f.PARTITIONS_UNKNOWN)
    partitions_beyond_log_end: int = field(name=f.PARTITIONS_BEYOND_LOG_END)
    partitions: int = field(name=f.PARTITIONS)
    partitions_without_commit: int = field(name=f.PARTITIONS_WITHOUT_COMMIT)


class TopicDocument(_Aggregate):
    """One group's lag on one topic."""

    topic: str = field(name=f.TOPIC_NAME)
    partitions_below_log_start: int = field(name=f.PARTITIONS_BELOW_LOG_START)
    retention_ms: int | None = field(name=f.RETENTION_MS)
    retention_used: float | None = field(name=f.RETENTION_USED)


class GroupDocument(_Aggregate, omit_defaults=True):
    """One group's lag over everything it reads."""

    state: str = field(name=f.GROUP_STATE)
    group_type: str = field(name=f.GROUP_TYPE)
    epoch: int | None = field(name=f.GROUP_EPOCH)
    members: int = field(name=f.GROUP_MEMBERS)
    topics: int = field(name=f.GROUP_TOPICS)
    catch_up: str = field(name=f.CATCH_UP_STATE)
    catch_up_seconds: float | None = field(name=f.CATCH_UP_SECONDS)
    retention_used: float | None = field(name=f.RETENTION_USED)
    error: str | None = field(name=f.ERROR)
    # While the time lag is not known: the last one that was (exporter/lag/held.py), for alerts to hold. Absent
    # otherwise (omit_defaults: the status fields too, when unset), so indices made before it accept documents.
    lag_seconds_last_known: float | None = field(name=f.LAG_SECONDS_LAST_KNOWN, default=None)
    status_code: str | UnsetType = field(name=f.STATUS_CODE, default=UNSET)
    status_severity: int | UnsetType = field(name=f.STATUS_SEVERITY, default=UNSET)
    status_reason: str | UnsetType = field(name=f.STATUS_REASON, default=UNSET)
