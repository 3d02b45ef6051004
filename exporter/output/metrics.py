"""/metrics in Prometheus' text format: a prometheus_client custom collector over the pipelines' latest status.

It reads each pipeline's status (the last LagReport and cumulative counters), the sink's health and, for
replicas sharing the groups, the coordinator's counts at request time, so nothing is updated twice. A value
lagwatch could not read is absent, never 0: a partial group sum is left out and
lagwatch_group_partitions_unknown / lagwatch_group_lag_partial say why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


@dataclass(frozen=True)
class Series:
    """One /metrics series: what it counts, its labels and when it is there (docs/reference/metrics.md is
    generated from SERIES by scripts/reference.py)."""

    kind: str  # "gauge", or "counter" (exposed as <name>_total)
    help: str
    labels: tuple[str, ...] = ()
    present: str = "per cluster, once it was scraped"


_GROUP, _TOPIC = ("cluster", "group"), ("cluster", "group", "topic")
_SINK = "with Elasticsearch as the sink (`lagwatch run`)"
_COORDINATED = "with `coordination`"

SERIES: dict[str, Series] = {
    "lagwatch_up": Series("gauge", "1 when the last scrape reached the cluster", ("cluster",)),
    "lagwatch_scrape_duration_seconds": Series("gauge", "Duration of the last scrape", ("cluster",)),
    "lagwatch_last_success_timestamp_seconds": Series(
        "gauge", "Time of the last scrape that reached the cluster", ("cluster",),
        "per cluster, once a scrape reached it"),
    "lagwatch_scrapes": Series(
        "counter", "Scrapes by result (failed: the cluster could not be read at all)", ("cluster", "result"),
        "per cluster; result is ok or failed"),
    "lagwatch_scrape_errors": Series(
        "counter", "Per-item scrape errors (group, partition, broker, cluster)", ("cluster",), "per cluster"),
    "lagwatch_kafka_requests": Series("counter", "Kafka requests sent, by API", ("cluster", "api"),
                                      "per cluster and Kafka API used"),
    "lagwatch_group_lag": Series(
        "gauge", "Consumer group lag in messages (sum over partitions)", _GROUP,
        "per group; absent while the group is partial"),
    "lagwatch_group_topic_lag": Series(
        "gauge", "Consumer group lag in messages per topic", _TOPIC, "per group and topic; absent while partial"),
    "lagwatch_group_lag_seconds": Series(
        "gauge", "Age of the oldest unread record (max over partitions; absent if unknown)", _GROUP,
        "per group; absent while partial or unknown"),
    "lagwatch_group_topic_lag_seconds": Series(
        "gauge", "Age of the oldest unread record per topic (absent if unknown)", _TOPIC,
        "per group and topic; absent while partial or unknown"),
    "lagwatch_group_lag_partial": Series(
        "gauge", "1 when part of the group's lag could not be read this scrape: its lag series are then absent",
        _GROUP, "per group"),
    "lagwatch_group_partitions_unknown": Series(
        "gauge", "Partitions whose lag could not be read this scrape", _GROUP, "per group"),
    "lagwatch_access_denied": Series(
        "gauge", "1 per resource the cluster's authorizer denied lagwatch in the last scrape (the log's "
        "access_denied line and the self document name the kafka-acls grant that fixes it)",
        ("cluster", "scope", "name"), "per cluster and denied resource (scope topic, group or cluster)"),
    "lagwatch_group_info": Series(
        "gauge", "1 per group: its type (classic, consumer, share, streams) and Kafka state",
        ("cluster", "group", "type", "state"), "per group"),
    "lagwatch_shards_owned": Series("gauge", "Shards assigned to this process (coordination)", (), _COORDINATED),
    "lagwatch_shards_evaluating": Series(
        "gauge", "Owned shards whose alert state is read back: rules run and notify for them", (), _COORDINATED),
    "lagwatch_shards_total": Series("gauge", "Shards: partitions of the coordination topic", (), _COORDINATED),
    "lagwatch_coordination_member": Series(
        "gauge", "1 while a member of the coordination group", (), _COORDINATED),
    "lagwatch_coordination_rebalances": Series(
        "counter", "Assignment changes of this process (shards gained or lost)", (), _COORDINATED),
    "lagwatch_coordination_rejoins": Series(
        "counter", "Times this process found itself out of the coordination group and joined again "
        "(removed by the coordinator, or no heartbeat answered for a session timeout)", (), _COORDINATED),
    "lagwatch_alert_state_records_written": Series(
        "counter", "Alert state records written to the coordination topic", (), _COORDINATED),
    "lagwatch_spool_bytes": Series("gauge", "Bytes waiting in the spool", (), _SINK),
    "lagwatch_spool_documents": Series("gauge", "Documents waiting in the spool", (), _SINK),
    "lagwatch_spool_max_bytes": Series("gauge", "Spool size cap (spool.max_bytes)", (), _SINK),
    "lagwatch_spool_dropped_documents": Series(
        "counter", "Documents dropped unindexed (spool full, disk full or not writable, unreadable segment)", (),
        _SINK),
    "lagwatch_documents_rejected": Series(
        "counter", "Documents Elasticsearch rejected (4xx items such as mapping conflicts, or refused requests); "
        "never retried", (), _SINK),
    "lagwatch_spool_dead_lettered_documents": Series(
        "counter", "Spooled documents moved to the dead-letter directory after every replay attempt asked to retry",
        (), _SINK),
    "lagwatch_sink_refused": Series(
        "gauge", "1 while Elasticsearch refuses lagwatch's requests (credentials, privileges, template, mapping)",
        (), _SINK),
    "lagwatch_sink_up": Series(
        "gauge", "1 when the last delivery reached Elasticsearch and it refuses nothing of lagwatch's (0 while "
        "lagwatch_sink_refused is 1)", (), _SINK),
}


def family(name: str, value: float | None = None):
    """The metric family of a series of SERIES: labelled (add_metric per sample), or one value."""
    series = SERIES[name]
    kind = GaugeMetricFamily if series.kind == "gauge" else CounterMetricFamily
    if series.labels:
        return kind(name, series.help, labels=list(series.labels))
    return kind(name, series.help, value=value)


class LagCollector:
    """prometheus_client custom collector over the pipelines' latest status."""

    def __init__(
        self, pipelines: Callable[[], Sequence], sink: Callable[[], object],
        coordinator: Callable[[], object] = lambda: None,
    ):
        self._pipelines = pipelines
        self._sink = sink
        self._coordinator = coordinator

    def collect(self):
        up, duration, last_success, scrapes, errors, requests, denied = (family(name) for name in (
            "lagwatch_up", "lagwatch_scrape_duration_seconds", "lagwatch_last_success_timestamp_seconds",
            "lagwatch_scrapes", "lagwatch_scrape_errors", "lagwatch_kafka_requests", "lagwatch_access_denied"))
        group_lag, group_info, group_topic_lag, partial, unknown, lag_seconds, topic_lag_seconds = (
            family(name) for name in (
                "lagwatch_group_lag", "lagwatch_group_info", "lagwatch_group_topic_lag", "lagwatch_group_lag_partial",
                "lagwatch_group_partitions_unknown", "lagwatch_group_lag_seconds", "lagwatch_group_topic_lag_seconds"))
        for pipeline in self._pipelines():
            status = pipeline.status()
            cluster = status.cluster
            scrapes.add_metric([cluster, "ok"], status.scrapes_ok)
            scrapes.add_metric([cluster, "failed"], status.scrapes_failed)
            errors.add_metric([cluster], status.errors_total)
            for api, count in status.requests_total:
                requests.add_metric([cluster, api], count)
            if status.last_success is not None:
                last_success.add_metric([cluster], status.last_success)
            report = status.last_report
            if report is None:
                continue
            up.add_metric([cluster], 1.0 if report.snapshot.up else 0.0)
            for scope, name in dict.fromkeys((e.scope, e.name) for e in report.snapshot.errors if e.grant):
                denied.add_metric([cluster, scope, name], 1.0)
            duration.add_metric([cluster], report.snapshot.duration_s)
            for group in report.groups:
                group_info.add_metric([cluster, group.group, group.group_type or "classic", group.state], 1.0)
                # A partial sum is not exported as if it were whole: the series is absent and
                # lagwatch_group_partitions_unknown says why.
                partial.add_metric([cluster, group.group], 1.0 if group.partial else 0.0)
                unknown.add_metric([cluster, group.group], group.partitions_unknown)
                if group.partial:
                    continue
                group_lag.add_metric([cluster, group.group], group.lag_sum)
                if group.lag_seconds_max is not None:
                    lag_seconds.add_metric([cluster, group.group], group.lag_seconds_max)
            for row in report.group_topics:
                if row.partial:
                    continue
                group_topic_lag.add_metric([cluster, row.group, row.topic], row.lag_sum)
                if row.lag_seconds_max is not None:
                    topic_lag_seconds.add_metric([cluster, row.group, row.topic], row.lag_seconds_max)
        yield from (up, duration, last_success, scrapes, errors, requests, denied)
        yield from (group_lag, group_topic_lag, lag_seconds, topic_lag_seconds, partial, unknown, group_info)
        yield from self._coordination()

        sink = self._sink()
        health = sink.health() if sink is not None else None
        if health is not None:
            yield family("lagwatch_spool_bytes", health.spool_bytes)
            yield family("lagwatch_spool_documents", health.spool_documents)
            yield family("lagwatch_spool_max_bytes", health.spool_max_bytes)
            yield family("lagwatch_spool_dropped_documents", health.dropped_documents)
            yield family("lagwatch_documents_rejected", health.rejected_documents)
            yield family("lagwatch_spool_dead_lettered_documents", health.dead_lettered_documents)
            yield family("lagwatch_sink_refused", 1.0 if health.refused else 0.0)
            yield family("lagwatch_sink_up", 1.0 if health.reachable and not health.refused else 0.0)

    def _coordination(self):
        coordinator = self._coordinator()
        if coordinator is None:
            return
        m = coordinator.metrics()
        yield family("lagwatch_shards_owned", m["owned"])
        yield family("lagwatch_shards_evaluating", m["evaluating"])
        yield family("lagwatch_shards_total", m["total"])
        yield family("lagwatch_coordination_member", 1.0 if m["member"] else 0.0)
        yield family("lagwatch_coordination_rebalances", m["rebalances"])
        yield family("lagwatch_coordination_rejoins", m["rejoins"])
        yield family("lagwatch_alert_state_records_written", m["records_written"])
