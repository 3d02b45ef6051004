"""Human and machine renderings of a LagReport for `lagwatch once` (pure)."""

from __future__ import annotations

from typing import Any

from exporter.lag.model import LagReport

COLUMNS = (
    "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "LAG-SECONDS", "LAG-ITEMS",
    "CONSUMER-ID", "HOST", "CLIENT-ID",
)


def kafka_tool_lag(row) -> int | None:
    """Lag as Kafka's own tool prints it: negative when the commit is beyond the log end."""
    return -row.beyond_log_end if row.beyond_log_end else row.lag


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def as_table(report: LagReport) -> str:
    """kafka-consumer-groups --describe columns, plus lag in seconds and items; '-' where unknown."""
    snapshot = report.snapshot
    lines = [f"# cluster {snapshot.cluster}: " + (
        f"{len(snapshot.groups)} groups, {len(report.partitions)} partitions, "
        f"{sum(snapshot.requests.values())} Kafka requests, {snapshot.duration_s * 1000:.0f} ms"
        if snapshot.up else "DOWN"
    )]
    for error in snapshot.errors:
        lines.append(f"# error: {error.scope} {error.name}: {error.message}")
    rows = [COLUMNS]
    for r in report.partitions:
        seconds = r.time_lag.seconds
        rows.append(tuple(_cell(v) for v in (
            r.group, r.topic, r.partition, r.committed_offset, r.log_end_offset, kafka_tool_lag(r),
            (f"{'>=' if r.time_lag.quality.value == 'at_least' else ''}{seconds:.1f}" if seconds is not None
             else "skew" if r.time_lag.quality.value == "clock_skew" else None),
            r.lag_items, r.member.member_id if r.member else None,
            r.member.client_host if r.member else None, r.member.client_id if r.member else None,
        )))
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    for g in report.groups:
        eta = f"{g.catch_up_seconds:.0f}s" if g.catch_up_seconds is not None else "-"
        lines.append(
            f"# group {g.group}: type={g.group_type or 'classic'} state={g.state} members={g.members} "
            f"lag={_group_lag(g)} "
            f"catch_up={g.catch_up.value} eta={eta}"
        )
    return "\n".join(lines)


def _group_lag(g) -> str:
    """A partial sum is shown as the lower bound it is, never as the whole."""
    if not g.partial:
        return str(g.lag_sum)
    return f">={g.lag_known_sum} (partial: {g.partitions_unknown} partitions unknown)"


def as_json(report: LagReport) -> dict[str, Any]:
    snapshot = report.snapshot
    return {
        "cluster": snapshot.cluster,
        "up": snapshot.up,
        "taken_at": snapshot.taken_at,
        "kafka_requests": dict(snapshot.requests),
        "errors": [{"scope": e.scope, "name": e.name, "message": e.message} for e in snapshot.errors],
        "partitions": [
            {
                "group": r.group, "topic": r.topic, "partition": r.partition,
                "committed_offset": r.committed_offset, "log_end_offset": r.log_end_offset,
                "log_start_offset": r.log_start_offset, "lag": kafka_tool_lag(r), "lag_items": r.lag_items,
                "lag_unknown": r.lag_unknown, "committed_beyond_log_end": r.beyond_log_end > 0,
                "lag_seconds": r.time_lag.seconds, "lag_seconds_quality": r.time_lag.quality.value,
                "committed_below_log_start": r.committed_below_log_start,
                "member_id": r.member.member_id if r.member else None,
                "client_id": r.member.client_id if r.member else None,
                "host": r.member.client_host if r.member else None,
            }
            for r in report.partitions
        ],
        "groups": [
            {
                "group": g.group, "type": g.group_type or "classic", "state": g.state, "members": g.members,
                "lag": g.lag_sum,
                "lag_known": g.lag_known_sum, "partitions_unknown": g.partitions_unknown, "partial": g.partial,
                "lag_seconds": g.lag_seconds_max, "catch_up": g.catch_up.value,
                "catch_up_seconds": g.catch_up_seconds, "error": g.error,
            }
            for g in report.groups
        ],
    }
