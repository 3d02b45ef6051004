"""lagwatch's Lens panels (pure, no I/O), built from the primitives in exporter/kibana/lens.py. Panel
arithmetic, and why it never double counts:

- Every Lens layer on the lag data view filters one `lagwatch.doc_type` in its KQL query: `lagwatch.lag.messages`
  is the lag summed over the document's scope, so mixing group, topic and partition documents would count
  each message up to three times.
- A time bucket holds several scrapes. The total lag per cluster is therefore the formula
  `sum(lag) / unique_count(lagwatch.slot)`: the sum over the bucket's group documents divided by the number
  of scrapes in it, i.e. the mean total per scrape (a plain sum would grow with the bucket width).
  Per-group, per-topic and per-partition series use average (or max): one series is one subject.
- A topic read by two groups has two topic documents carrying the same produce rate, so produce rate per
  topic is the *average* over its topic documents, never the sum.
- Time lag is a "worst case" figure: max.
"""

from __future__ import annotations

from typing import Any

from exporter.kibana.lens import (
    ALERTS_VIEW,
    LAG_VIEW,
    datatable,
    date_histogram,
    doc_type_query,
    last_value,
    lens,
    metric,
    metric_vis,
    per_scrape_sum,
    pie,
    terms,
    xy,
)
from exporter.output import fields
from exporter.output.fields import DocType

GROUP_Q, TOPIC_Q, PARTITION_Q, SELF_Q = (
    doc_type_query(t) for t in (DocType.GROUP, DocType.TOPIC, DocType.PARTITION, DocType.SELF)
)


# --- panel shapes: one function per kind of panel the catalogue repeats ---------------------------------


def _series(
    object_id: str, title: str, description: str, query: str,
    split: tuple[str, str, str, int], value: tuple[str, str, str, str], y_title: str,
) -> dict[str, Any]:
    """One line per top value of split (column, field, label, size) over time: value (column, operation,
    field, label), the split ranked by it."""
    split_id, split_field, split_label, size = split
    value_id, operation, value_field, value_label = value
    return lens(
        object_id, title, description, "lnsXY", LAG_VIEW, query,
        {"ts": date_histogram(), split_id: terms(split_field, split_label, size, value_id),
         value_id: metric(operation, value_field, value_label)},
        xy("line", "ts", [value_id], split_id, y_title),
    )


def _rates(object_id: str, title: str, description: str, query: str, split: tuple[str, str, str]) -> dict:
    """Produce vs consume rate over time, one pair of lines per top 5 values of split (column, field, label)."""
    split_id, split_field, split_label = split
    return lens(
        object_id, title, description, "lnsXY", LAG_VIEW, query,
        {"ts": date_histogram(), split_id: terms(split_field, split_label, 5, "produce"),
         "produce": metric("average", fields.PRODUCE_RATE, "Produce rate"),
         "consume": metric("average", fields.CONSUME_RATE, "Consume rate")},
        xy("line", "ts", ["produce", "consume"], split_id, "messages/s"),
    )


def _top_groups(object_id: str, title: str, description: str, value: tuple[str, str, str]) -> dict[str, Any]:
    """The 10 groups with the highest value (column, field, label) in the time range, as bars."""
    value_id, value_field, value_label = value
    return lens(
        object_id, title, description, "lnsXY", LAG_VIEW, GROUP_Q,
        {"group": terms(fields.GROUP_ID, "Group", 10, value_id), value_id: metric("max", value_field, value_label)},
        xy("bar_horizontal", "group", [value_id]),
    )


def _distinct_per_value(
    object_id: str, title: str, description: str, vis_type: str, view: str, query: str,
    by: tuple[str, str, str, int], counted: tuple[str, str, str],
) -> dict[str, Any]:
    """How many distinct counted (column, field, label) per value of by (column, field, label, size), as a
    donut (lnsPie) or metric tiles (lnsMetric)."""
    by_id, by_field, by_label, size = by
    counted_id, counted_field, counted_label = counted
    vis = pie(by_id, counted_id) if vis_type == "lnsPie" else metric_vis(counted_id, by_id)
    return lens(
        object_id, title, description, vis_type, view, query,
        {by_id: terms(by_field, by_label, size, counted_id),
         counted_id: metric("unique_count", counted_field, counted_label)},
        vis,
    )


def _groups_per_value(object_id: str, title: str, description: str, vis_type: str, by: tuple) -> dict:
    return _distinct_per_value(
        object_id, title, description, vis_type, LAG_VIEW, GROUP_Q, by, ("groups", fields.GROUP_ID, "Groups")
    )


def _table(object_id: str, title: str, description: str, view: str, query: str, columns: dict) -> dict:
    """A data table showing every column, in order."""
    return lens(object_id, title, description, "lnsDatatable", view, query, columns, datatable(list(columns)))


# --- the catalogue --------------------------------------------------------------------------------------


def lens_objects() -> list[dict[str, Any]]:
    return [
        # --- Overview ---
        lens(
            "lagwatch-total-lag-per-cluster", "Total lag per cluster (messages)",
            "Sum of every group's lag, averaged over the scrapes in each time bucket (group documents). Groups "
            "whose lag was partial (see 'Groups read whole vs partial') are not in the sum.",
            "lnsXY", LAG_VIEW, GROUP_Q,
            # Clusters ranked alphabetically: Lens cannot rank terms by a formula column.
            {"ts": date_histogram(), "cluster": terms(fields.CLUSTER, "Cluster", 20),
             **per_scrape_sum("lag", fields.LAG_MESSAGES, "Total lag (messages)")},
            xy("line", "ts", ["lag"], "cluster", "messages"),
        ),
        _top_groups(
            "lagwatch-top-groups-by-lag", "Top groups by lag (messages, max in time range)",
            "The 10 groups with the highest lag seen in the time range (group documents).",
            ("lag", fields.LAG_MESSAGES, "Lag (messages)"),
        ),
        _top_groups(
            "lagwatch-top-groups-by-lag-seconds", "Top groups by time lag (seconds, max in time range)",
            "Age of the oldest unread record, worst 10 groups in the time range (group documents).",
            ("seconds", fields.LAG_SECONDS, "Time lag (s)"),
        ),
        lens(
            "lagwatch-groups-partial", "Groups read whole vs partial (per scrape)",
            "Groups whose lag lagwatch read whole (false) or only partly (true: a broker or leader did not "
            "answer). A partial group's lag is null in that scrape, so it is missing from 'Total lag per "
            "cluster': any 'true' here means that total is too small for that time.",
            "lnsXY", LAG_VIEW, GROUP_Q,
            {"ts": date_histogram(), "partial": terms(fields.LAG_PARTIAL, "Partial", 2, "groups"),
             "groups": metric("unique_count", fields.GROUP_ID, "Groups")},
            xy("bar_stacked", "ts", ["groups"], "partial", "groups"),
        ),
        _groups_per_value(
            "lagwatch-group-status", "Groups by status",
            "Distinct groups per lagwatch status (OK, WARN, STALL, STOP, REWIND, ERR) in the time range.",
            "lnsMetric", ("status", fields.STATUS_CODE, "Status", 6),
        ),
        _groups_per_value(
            "lagwatch-group-type", "Groups by type",
            "Distinct groups per group type: classic, consumer (KIP-848), share (KIP-932), streams (KIP-1071).",
            "lnsPie", ("type", fields.GROUP_TYPE, "Group type", 4),
        ),
        _groups_per_value(
            "lagwatch-group-state", "Groups by Kafka group state",
            "Distinct groups per coordinator state (Stable, Empty, PreparingRebalance, ...).",
            "lnsPie", ("state", fields.GROUP_STATE, "Group state", 10),
        ),
        _rates(
            "lagwatch-produce-vs-consume-per-group", "Produce vs consume rate per group (messages/s)",
            "Per group: records/s written to its topics and records/s it commits (group documents). "
            "A consume line under its produce line means the group is falling behind.",
            GROUP_Q, ("group", fields.GROUP_ID, "Group"),
        ),
        _series(
            "lagwatch-produce-rate-per-topic", "Produce rate per topic (messages/s)",
            "Average, not sum, over topic documents: a topic read by N groups has N documents with the same "
            "produce rate.",
            TOPIC_Q, ("topic", fields.TOPIC_NAME, "Topic", 10),
            ("produce", "average", fields.PRODUCE_RATE, "Produce rate"), "messages/s",
        ),
        _series(
            "lagwatch-scrape-duration", "Scrape duration per cluster (ms)",
            "How long lagwatch's own scrapes take (self documents).",
            SELF_Q, ("cluster", fields.CLUSTER, "Cluster", 10),
            ("duration", "max", fields.SELF_DURATION_MS, "Scrape duration (ms)"), "ms",
        ),
        # --- Group detail ---
        _series(
            "lagwatch-lag-per-topic", "Lag per topic (messages)",
            "Lag of the selected group on each topic (topic documents); with several groups selected, the "
            "average over them.",
            TOPIC_Q, ("topic", fields.TOPIC_NAME, "Topic", 10),
            ("lag", "average", fields.LAG_MESSAGES, "Lag (messages)"), "messages",
        ),
        _series(
            "lagwatch-lag-per-partition", "Lag per partition (messages)",
            "Lag of the selected group on each partition, shown as partition-topic (partition documents); "
            "with several groups selected, the average over them.",
            PARTITION_Q, ("partition", fields.PARTITION_TOPIC_ID, "Partition-topic", 20),
            ("lag", "average", fields.LAG_MESSAGES, "Lag (messages)"), "messages",
        ),
        _series(
            "lagwatch-time-lag-per-topic", "Time lag per topic (seconds)",
            "Age of the oldest unread record per topic, worst of the selected groups (topic documents).",
            TOPIC_Q, ("topic", fields.TOPIC_NAME, "Topic", 10), ("seconds", "max", fields.LAG_SECONDS, "Time lag (s)"),
            "seconds",
        ),
        _rates(
            "lagwatch-rates-per-topic", "Produce vs consume rate per topic (messages/s)",
            "Average rates over the selected groups' topic documents; select one group for its own rates.",
            TOPIC_Q, ("topic", fields.TOPIC_NAME, "Topic"),
        ),
        _table(
            "lagwatch-partitions-table", "Partitions",
            "Latest committed offset, log-end offset, lag, time lag and member per group and partition "
            "(partition documents).",
            LAG_VIEW, PARTITION_Q,
            {"group": terms(fields.GROUP_ID, "Group", 20),
             "topic": terms(fields.TOPIC_NAME, "Topic", 50),
             "partition": terms(fields.PARTITION_ID, "Partition", 500, numeric=True),
             "committed": last_value(fields.COMMITTED_OFFSET, "Committed offset"),
             "log_end": last_value(fields.LOG_END_OFFSET, "Log-end offset"),
             "lag": last_value(fields.LAG_MESSAGES, "Lag"),
             "seconds": last_value(fields.LAG_SECONDS, "Time lag (s)"),
             "member": last_value(fields.MEMBER_CLIENT_ID, "Member (client id)", numeric=False)},
        ),
        # --- Alerts ---
        lens(
            "lagwatch-alert-transitions", "Alert transitions over time",
            "Alert documents (fired, resolved, ...) per time bucket and transition.",
            "lnsXY", ALERTS_VIEW, "",
            {"ts": date_histogram(), "transition": terms(fields.ALERT_TRANSITION, "Transition", 10, "count"),
             "count": metric("count", "", "Alert events")},
            xy("bar_stacked", "ts", ["count"], "transition", "events"),
        ),
        _distinct_per_value(
            "lagwatch-alerts-by-severity", "Alerts by severity",
            "Distinct alerts per severity in the time range.",
            "lnsPie", ALERTS_VIEW, "",
            ("severity", fields.ALERT_SEVERITY, "Severity", 10), ("alerts", fields.ALERT_ID, "Alerts"),
        ),
        _table(
            "lagwatch-alerts-by-rule", "Alerts by rule and group",
            "Latest state of every alert: rule, group, metric, value and threshold.",
            ALERTS_VIEW, "",
            {"rule": terms(fields.ALERT_RULE, "Rule", 20),
             "group": terms(fields.GROUP_ID, "Group", 50),
             "state": last_value(fields.ALERT_STATE, "State", numeric=False),
             "severity": last_value(fields.ALERT_SEVERITY, "Severity", numeric=False),
             "metric": last_value(fields.ALERT_METRIC, "Metric", numeric=False),
             "value": last_value(fields.ALERT_VALUE, "Value"),
             "threshold": last_value(fields.ALERT_THRESHOLD, "Threshold")},
        ),
    ]
