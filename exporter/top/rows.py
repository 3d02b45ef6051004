"""What `lagwatch top` shows, as plain data: one row per group, one per partition of an opened group (pure).

Everything here is built from LagReport objects (and the statuses evaluated for them), with no terminal and
no Kafka: rendering is exporter/top/render.py's job. A value lagwatch could not read stays None here, so the
renderer can say "unknown" instead of printing 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from exporter.evaluator.status import SEVERITY, Code, Status, Statuses
from exporter.lag.model import CatchUp, LagReport, TimeLagQuality

GroupKey = tuple[str, str]  # (cluster, group)
TREND_POINTS = 12  # scrapes kept per group for the sparkline

SORT_KEYS = ("lag", "time", "status", "name")


@dataclass(frozen=True, slots=True)  # slots: an estate of 65,000 groups holds 65,000 of these
class GroupRow:
    cluster: str
    group: str
    group_type: str | None
    state: str
    members: int
    topics: tuple[str, ...]
    partitions: int
    partitions_without_commit: int
    lag: int | None  # exact total; None when partial (some partition unreadable) or never read
    lag_known: int  # sum over the partitions that were read: a lower bound when `lag` is None
    partitions_unknown: int
    lag_seconds: float | None
    lag_seconds_quality: TimeLagQuality
    trend: tuple[int | None, ...]  # lag at each of the last scrapes, oldest first (None: unknown then)
    consume_rate: float | None  # records/s committed by the group
    produce_rate: float | None  # records/s written into the topics it reads
    catch_up: CatchUp
    catch_up_seconds: float | None
    status: Status | None  # None: statuses not evaluated (cluster down, or evaluation failed)
    error: str | None = None
    stale: bool = False  # from an earlier scrape: the cluster could not be read since

    @property
    def key(self) -> GroupKey:
        return (self.cluster, self.group)


@dataclass(frozen=True, slots=True)
class PartitionRow:
    topic: str
    partition: int
    committed: int | None  # None: never committed (or unreadable: see lag_unknown)
    log_end: int | None
    lag: int | None
    lag_unknown: bool  # the lag could not be read (not merely "never committed")
    lag_seconds: float | None
    lag_seconds_quality: TimeLagQuality
    owner: str | None  # client-id@host of the member assigned the partition
    status: Status | None
    error: str | None


@dataclass(frozen=True)
class TopicRow:
    topic: str
    partitions: int
    lag: int | None
    lag_known: int
    partitions_unknown: int
    partitions_without_commit: int
    lag_seconds: float | None
    lag_seconds_quality: TimeLagQuality


# --- trends -----------------------------------------------------------------------------------


def advance_trends(
    trends: Mapping[GroupKey, tuple[int | None, ...]], report: LagReport, points: int = TREND_POINTS
) -> dict[GroupKey, tuple[int | None, ...]]:
    """Add this scrape's lag of every group of the report's cluster; groups that are gone are forgotten.
    A cluster that could not be read adds nothing (the sparkline does not pretend it saw something)."""
    cluster = report.snapshot.cluster
    if not report.snapshot.up:
        return dict(trends)
    kept = {k: v for k, v in trends.items() if k[0] != cluster}
    for g in report.groups:
        key = (cluster, g.group)
        kept[key] = (trends.get(key, ()) + (g.lag_sum,))[-points:]
    return kept


# --- rows -------------------------------------------------------------------------------------


def _lag_totals(totals) -> dict:
    """The lag columns a group row and a topic row share, from a GroupLag or a GroupTopicLag."""
    return {
        "partitions_without_commit": totals.partitions_without_commit,
        "lag": totals.lag_sum,
        "lag_known": totals.lag_known_sum,
        "partitions_unknown": totals.partitions_unknown,
        "lag_seconds": totals.lag_seconds_max,
        "lag_seconds_quality": totals.time_lag_quality,
    }


def group_rows(
    report: LagReport,
    statuses: Statuses | None,
    trends: Mapping[GroupKey, tuple[int | None, ...]],
    *,
    stale: bool = False,
) -> list[GroupRow]:
    cluster = report.snapshot.cluster
    topics: dict[str, list[str]] = {}
    for t in report.group_topics:
        topics.setdefault(t.group, []).append(t.topic)
    rows = []
    for g in report.groups:
        rows.append(
            GroupRow(
                cluster=cluster,
                group=g.group,
                group_type=g.group_type,
                state=g.state,
                members=g.members,
                topics=tuple(sorted(topics.get(g.group, ()))),
                partitions=g.partitions,
                **_lag_totals(g),
                trend=tuple(trends.get((cluster, g.group), ())),
                consume_rate=g.consumed.rate,
                produce_rate=g.produced.rate,
                catch_up=g.catch_up,
                catch_up_seconds=g.catch_up_seconds,
                status=statuses.groups.get(g.group) if statuses is not None else None,
                error=g.error,
                stale=stale,
            )
        )
    return rows


def _owner(member) -> str | None:
    if member is None:
        return None
    return f"{member.client_id}@{member.client_host.lstrip('/')}" if member.client_host else member.client_id


def partition_rows(report: LagReport, statuses: Statuses | None, group: str) -> list[PartitionRow]:
    found = statuses.partitions if statuses is not None else {}
    return [
        PartitionRow(
            topic=p.topic,
            partition=p.partition,
            committed=p.committed_offset,
            log_end=p.log_end_offset,
            lag=p.lag,
            lag_unknown=p.lag_unknown,
            lag_seconds=p.time_lag.seconds,
            lag_seconds_quality=p.time_lag.quality,
            owner=_owner(p.member),
            status=found.get((p.group, p.topic, p.partition)),
            error=p.error,
        )
        for p in report.partitions
        if p.group == group
    ]


def topic_rows(report: LagReport, group: str) -> list[TopicRow]:
    return [
        TopicRow(topic=t.topic, partitions=t.partitions, **_lag_totals(t))
        for t in sorted(report.group_topics, key=lambda t: t.topic)
        if t.group == group
    ]


# --- sort and filter --------------------------------------------------------------------------


def _lag_key(row: GroupRow) -> tuple:
    # Largest first; a partial total sorts by what is known of it, and before an exact total of the same
    # size (it can only be larger). A group with nothing known at all sorts as worst: in an incident an
    # unreadable group is what to look at.
    nothing_known = row.lag is None and row.lag_known == 0
    return (not nothing_known, -(row.lag if row.lag is not None else row.lag_known), row.lag is not None)


def _time_key(row: GroupRow) -> tuple:
    return (row.lag_seconds is None, -(row.lag_seconds or 0.0))


def _status_key(row: GroupRow) -> tuple:
    severity = SEVERITY[row.status.code] if row.status is not None else SEVERITY[Code.ERR]
    return (-severity,)


def sort_rows(rows: Iterable[GroupRow], key: str) -> list[GroupRow]:
    """Sorted for display; ties always fall back to cluster then group name, so the order is stable."""
    if key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {key!r}; one of {', '.join(SORT_KEYS)}")
    by_name = sorted(rows, key=lambda r: (r.cluster, r.group))
    if key == "name":
        return by_name
    if key == "lag":
        return sorted(by_name, key=_lag_key)
    if key == "time":
        return sorted(by_name, key=lambda r: (_time_key(r), _lag_key(r)))
    return sorted(by_name, key=lambda r: (_status_key(r), _lag_key(r)))


def matcher(pattern: str):
    """A case-insensitive search; a pattern that is not a valid regular expression is searched literally
    (an operator typing `orders(` mid-incident should get results, not an error)."""
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error:
        compiled = re.compile(re.escape(pattern), re.IGNORECASE)
    return compiled.search


def filter_rows(rows: Sequence[GroupRow], pattern: str) -> list[GroupRow]:
    """Rows whose group, cluster or one of whose topics matches `pattern`."""
    if not pattern:
        return list(rows)
    search = matcher(pattern)
    return [r for r in rows if search(r.group) or search(r.cluster) or any(search(t) for t in r.topics)]
