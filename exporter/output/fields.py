"""The field names of lagwatch's Elasticsearch documents, defined once: the lag documents
(output/documents.py), the alert documents (alerts/lifecycle.py), the Kibana panels, controls, saved search
and rule (exporter/kibana/) all name a field through these constants.

The mappings in exporter/resources/ (lag-mappings.json, alert-mappings.json) stay the ground truth for
Elasticsearch; tests/unit/test_fields.py proves every name here is mapped there. Names follow Metricbeat's
kafka module where a field exists there (`kafka.consumergroup.*`, `kafka.partition.*`, `kafka.topic.*`);
everything else lives under `lagwatch.*`.
"""

from __future__ import annotations


class DocType:
    """Values of `lagwatch.doc_type`: the scope a lag document sums over (alert documents have none)."""

    PARTITION = "partition"
    TOPIC = "topic"
    GROUP = "group"
    SELF = "self"  # the scrape itself: the exporter's own health


class Dataset:
    """Values of `event.dataset`."""

    LAG = "lagwatch.lag"
    ALERT = "lagwatch.alert"


# --- in every document ---------------------------------------------------------------------------------
TIMESTAMP = "@timestamp"
DATASET = "event.dataset"
CLUSTER = "lagwatch.cluster"
GROUP_ID = "kafka.consumergroup.id"  # lag documents of a group, topic or partition; alert documents
TOPIC_NAME = "kafka.topic.name"

# --- lag documents: every scope ------------------------------------------------------------------------
DOC_TYPE = "lagwatch.doc_type"
SLOT = "lagwatch.slot"  # the scrape slot (ms): replicas scraping the same slot write the same ids
ERROR = "lagwatch.error"
LAG_MESSAGES = "lagwatch.lag.messages"  # summed over the document's scope; null when partial
LAG_MESSAGES_KNOWN = "lagwatch.lag.messages_known"  # the lower bound from what was read
LAG_MAX_PARTITION = "lagwatch.lag.max_partition"
LAG_ITEMS = "lagwatch.lag.items"
LAG_PARTIAL = "lagwatch.lag.partial"
LAG_SECONDS = "lagwatch.lag.seconds"  # time lag: age of the oldest unread record
LAG_SECONDS_QUALITY = "lagwatch.lag.seconds_quality"
PRODUCE_COUNT = "lagwatch.produce.count"
PRODUCE_RATE = "lagwatch.produce.rate"
CONSUME_COUNT = "lagwatch.consume.count"
CONSUME_RATE = "lagwatch.consume.rate"

# --- partition documents -------------------------------------------------------------------------------
PARTITION_ID = "kafka.partition.id"
PARTITION_TOPIC_ID = "kafka.partition.topic_id"  # "<partition>-<topic>", one series per partition
COMMITTED_OFFSET = "kafka.consumergroup.offset"
CONSUMER_LAG = "kafka.consumergroup.consumer_lag"
LOG_END_OFFSET = "kafka.partition.offset.newest"
LOG_START_OFFSET = "kafka.partition.offset.oldest"
MEMBER_CLIENT_ID = "kafka.consumergroup.client.id"
MEMBER_CLIENT_HOST = "kafka.consumergroup.client.host"
MEMBER_ID = "kafka.consumergroup.client.member_id"
COMMITTED = "lagwatch.committed"
COMMITTED_BELOW_LOG_START = "lagwatch.committed_below_log_start"
COMMITTED_BEYOND_LOG_END = "lagwatch.committed_beyond_log_end"
COMMITTED_BEYOND_BY = "lagwatch.committed_beyond_by"

# --- topic and group documents -------------------------------------------------------------------------
PARTITIONS = "lagwatch.partitions"
PARTITIONS_WITHOUT_COMMIT = "lagwatch.partitions_without_commit"
PARTITIONS_BELOW_LOG_START = "lagwatch.partitions_below_log_start"
PARTITIONS_UNKNOWN = "lagwatch.partitions_unknown"
PARTITIONS_BEYOND_LOG_END = "lagwatch.partitions_beyond_log_end"
RETENTION_MS = "lagwatch.retention.ms"
RETENTION_USED = "lagwatch.retention.used"

# --- group documents -----------------------------------------------------------------------------------
GROUP_STATE = "lagwatch.group.state"
GROUP_TYPE = "lagwatch.group.type"
GROUP_EPOCH = "lagwatch.group.epoch"
GROUP_MEMBERS = "lagwatch.group.members"
GROUP_TOPICS = "lagwatch.group.topics"
CATCH_UP_STATE = "lagwatch.catch_up.state"
CATCH_UP_SECONDS = "lagwatch.catch_up.seconds"

# --- evaluator status (partition and group documents) ----------------------------------------------------
STATUS_CODE = "lagwatch.status.code"
STATUS_SEVERITY = "lagwatch.status.severity"
STATUS_REASON = "lagwatch.status.reason"

# --- self documents ------------------------------------------------------------------------------------
SELF_OUTCOME = "lagwatch.self.outcome"
SELF_REASON = "lagwatch.self.reason"
SELF_UP = "lagwatch.self.up"
SELF_DURATION_MS = "lagwatch.self.duration_ms"
SELF_GROUPS = "lagwatch.self.groups"
SELF_PARTITIONS = "lagwatch.self.partitions"
SELF_DOCUMENTS = "lagwatch.self.documents"
SELF_KAFKA_REQUESTS = "lagwatch.self.kafka_requests"
SELF_ERRORS = "lagwatch.self.errors"
SELF_PARTIAL_GROUPS = "lagwatch.self.partial_groups"
SELF_ERROR_MESSAGES = "lagwatch.self.error_messages"
SELF_INSTANCE = "lagwatch.self.instance"
SELF_SHARDS = "lagwatch.self.shards"
SELF_SHARDS_TOTAL = "lagwatch.self.shards_total"
# Objects whose keys are data: `<prefix><Kafka API name>` and `<prefix><delivery outcome>`.
SELF_REQUESTS_PREFIX = "lagwatch.self.requests."
SELF_DELIVERY_PREFIX = "lagwatch.self.delivery."

# --- alert documents -----------------------------------------------------------------------------------
ALERT_ID = "lagwatch.alert.id"
ALERT_RULE = "lagwatch.alert.rule"
ALERT_STATE = "lagwatch.alert.state"
ALERT_TRANSITION = "lagwatch.alert.transition"
ALERT_SEVERITY = "lagwatch.alert.severity"
ALERT_METRIC = "lagwatch.alert.metric"
ALERT_VALUE = "lagwatch.alert.value"
ALERT_THRESHOLD = "lagwatch.alert.threshold"
ALERT_SINCE = "lagwatch.alert.since"
ALERT_DURATION_S = "lagwatch.alert.duration_s"
ALERT_STATUS_CODE = "lagwatch.alert.status_code"
ALERT_MESSAGE = "lagwatch.alert.message"
