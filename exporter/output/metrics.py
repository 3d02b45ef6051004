"""/metrics in Prometheus' text format: a prometheus_client custom collector over the pipelines' latest status.

It reads each pipeline's status (the last LagReport and cumulative counters), the sink's health and, for
replicas sharing the groups, the coordinator's counts at request time, so nothing is updated twice. A value
lagwatch could not read is absent, never 0: a partial group sum is left out and
lagwatch_group_partitions_unknown / lagwatch_group_lag_partial say why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


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
        up = GaugeMetricFamily("lagwatch_up", "1 when the last scrape reached the cluster", labels=["cluster"])
        duration = GaugeMetricFamily(
            "lagwatch_scrape_duration_seconds", "Duration of the last scrape", labels=["cluster"]
        )
        last_success = GaugeMetricFamily(
            "lagwatch_last_success_timestamp_seconds", "Time of the last scrape that reached the cluster",
            labels=["cluster"],
        )
        scrapes = CounterMetricFamily(
            "lagwatch_scrapes", "Scrapes by result (failed: the cluster could not be read at all)",
            labels=["cluster", "result"],
        )
        errors = CounterMetricFamily(
            "lagwatch_scrape_errors", "Per-item scrape errors (group, partition, broker, cluster)",
            labels=["cluster"],
        )
        requests = CounterMetricFamily(
            "lagwatch_kafka_requests", "Kafka requests sent, by API", labels=["cluster", "api"]
        )
        group_lag = GaugeMetricFamily(
            "lagwatch_group_lag", "Consumer group lag in messages (sum over partitions)", labels=["cluster", "group"]
        )
        group_info = GaugeMetricFamily(
            "lagwatch_group_info", "1 per group: its type (classic, consumer, share, streams) and Kafka state",
            labels=["cluster", "group", "type", "state"],
        )
        group_topic_lag = GaugeMetricFamily(
            "lagwatch_group_topic_lag", "Consumer group lag in messages per topic",
            labels=["cluster", "group", "topic"],
        )
        partial = GaugeMetricFamily(
            "lagwatch_group_lag_partial",
            "1 when part of the group's lag could not be read this scrape: its lag series are then absent",
            labels=["cluster", "group"],
        )
        unknown = GaugeMetricFamily(
            "lagwatch_group_partitions_unknown", "Partitions whose lag could not be read this scrape",
            labels=["cluster", "group"],
        )
        lag_seconds = GaugeMetricFamily(
            "lagwatch_group_lag_seconds", "Age of the oldest unread record (max over partitions; absent if unknown)",
            labels=["cluster", "group"],
        )
        topic_lag_seconds = GaugeMetricFamily(
            "lagwatch_group_topic_lag_seconds", "Age of the oldest unread record per topic (absent if unknown)",
            labels=["cluster", "group", "topic"],
        )
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
        yield from (up, duration, last_success, scrapes, errors, requests)
        yield from (group_lag, group_topic_lag, lag_seconds, topic_lag_seconds, partial, unknown, group_info)
        yield from self._coordination()

        sink = self._sink()
        health = sink.health() if sink is not None and hasattr(sink, "health") else None
        if health is not None:
            yield GaugeMetricFamily("lagwatch_spool_bytes", "Bytes waiting in the spool", value=health.spool_bytes)
            yield GaugeMetricFamily(
                "lagwatch_spool_documents", "Documents waiting in the spool", value=health.spool_documents
            )
            yield GaugeMetricFamily(
                "lagwatch_spool_max_bytes", "Spool size cap (spool.max_bytes)", value=health.spool_max_bytes
            )
            yield CounterMetricFamily(
                "lagwatch_spool_dropped_documents",
                "Documents dropped unindexed (spool full, disk full or not writable, unreadable segment)",
                value=health.dropped_documents,
            )
            yield CounterMetricFamily(
                "lagwatch_documents_rejected",
                "Documents Elasticsearch rejected (4xx items such as mapping conflicts, or refused requests); "
                "never retried",
                value=health.rejected_documents,
            )
            yield CounterMetricFamily(
                "lagwatch_spool_dead_lettered_documents",
                "Spooled documents moved to the dead-letter directory after every replay attempt asked to retry",
                value=health.dead_lettered_documents,
            )
            yield GaugeMetricFamily(
                "lagwatch_sink_refused",
                "1 while Elasticsearch refuses lagwatch's requests (credentials, privileges, template, mapping)",
                value=1.0 if health.refused else 0.0,
            )
            yield GaugeMetricFamily(
                "lagwatch_sink_up", "1 when the last delivery reached Elasticsearch",
                value=1.0 if health.reachable else 0.0,
            )

    def _coordination(self):
        coordinator = self._coordinator()
        if coordinator is None:
            return
        m = coordinator.metrics()
        yield GaugeMetricFamily("lagwatch_shards_owned", "Shards assigned to this process (coordination)",
                                value=m["owned"])
        yield GaugeMetricFamily("lagwatch_shards_evaluating",
                                "Owned shards whose alert state is read back: rules run and notify for them",
                                value=m["evaluating"])
        yield GaugeMetricFamily("lagwatch_shards_total", "Shards: partitions of the coordination topic",
                                value=m["total"])
        yield GaugeMetricFamily("lagwatch_coordination_member", "1 while a member of the coordination group",
                                value=1.0 if m["member"] else 0.0)
        yield CounterMetricFamily("lagwatch_coordination_rebalances",
                                  "Assignment changes of this process (shards gained or lost)", value=m["rebalances"])
        yield CounterMetricFamily("lagwatch_alert_state_records_written",
                                  "Alert state records written to the coordination topic", value=m["records_written"])
