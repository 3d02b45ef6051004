"""An opened group in `lagwatch top`: its topics, then one line per partition (committed offset, log-end
offset, lag, time lag, status, owner)."""

from __future__ import annotations

import msgspec
from rich.text import Text

from exporter.evaluator.status import Statuses
from exporter.lag.model import LagReport
from exporter.top import fmt
from exporter.top.rows import GroupRow, partition_rows, topic_rows
from exporter.top.screen import STATUS_STYLE, Column, Picture, fill, fit_columns, footer, header_line, remember
from exporter.top.view import ViewState

DETAIL_HELP = "Esc back  ↑↓ PgUp PgDn scroll  q quit"

def detail_rows(report: LagReport, statuses: Statuses | None, group: str):
    """(topic rows, partition rows) of one group, indexed once per report (a report holds every group's
    partitions: filtering them on every frame would cost a large estate tens of milliseconds)."""
    def index():
        by_group: dict[str, tuple[list, list]] = {}
        for p in report.partitions:
            by_group.setdefault(p.group, ([], []))[0].append(p)
        for t in report.group_topics:
            by_group.setdefault(t.group, ([], []))[1].append(t)
        return by_group

    partitions, topics = remember("by_group", report, (), index).get(group, ([], []))
    narrowed = msgspec.structs.replace(report, partitions=tuple(partitions), group_topics=tuple(topics))
    return topic_rows(narrowed, group), partition_rows(narrowed, statuses, group)


PARTITION_COLUMNS = (
    Column("topic", "TOPIC", 10, 40, 100),
    Column("partition", "PART", 4, 4, 99, right=True),
    Column("committed", "COMMITTED", 9, 13, 90, right=True),
    Column("log_end", "LOG-END", 9, 13, 91, right=True),
    Column("lag", "LAG", 7, 11, 98, right=True),
    Column("time", "TIME LAG", 8, 8, 80, right=True),
    Column("status", "STATUS", 6, 6, 85),
    Column("owner", "OWNER", 8, 40, 50),
)
_PARTITION_GROW = ("topic:20", "owner:32", "lag", "committed:11", "log_end:11", "owner", "topic", "committed", "log_end")


def detail_frame(
    picture: Picture, state: ViewState, row: GroupRow | None, width: int, height: int | None
) -> list[Text]:
    cluster, group = state.detail
    found = picture.reports.get(cluster)
    lines: list[Text] = []
    if found is None or row is None:
        lines.append(Text(fmt.fit(f"group {group} is not in the latest scrape of cluster {cluster}", width), style="yellow"))
        body: list[Text] = []
    else:
        report, statuses = found
        title = (
            f"{cluster} / {group} · {row.state} · {row.group_type or '-'} · {row.members} members · "
            f"{fmt.status(row.status)}" + (f" ({row.status.reason})" if row.status else "")
        )
        summary = (
            f"lag {fmt.group_lag(row, wide=True)} · time lag {fmt.time_lag(row.lag_seconds, row.lag_seconds_quality)}"
            f" · consumed/produced {fmt.rates(row)} per s · ETA {fmt.eta(row, wide=True)}"
        )
        style = "dim" if row.stale else ""
        lines.append(Text(fmt.fit(title, width), style="bold " + style))
        lines.append(Text(fmt.fit(summary, width), style=style))
        if row.error:
            lines.append(Text(fmt.fit(f"group error: {row.error}", width), style="bold red"))
        topics, partitions = detail_rows(report, statuses, group)
        for t in topics:
            extra = f", {t.partitions_without_commit} never committed" if t.partitions_without_commit else ""
            lag_text = fmt.count(t.lag) if t.lag is not None else (
                f"≥{fmt.count(t.lag_known)} ({t.partitions_unknown} unknown)"
            )
            lines.append(Text(fmt.fit(
                f"  topic {t.topic}: {t.partitions} partitions{extra} · lag {lag_text} · time lag "
                f"{fmt.time_lag(t.lag_seconds, t.lag_seconds_quality)}", width)))
        columns = fit_columns(list(PARTITION_COLUMNS), width, _PARTITION_GROW, "topic")
        lines.append(header_line(columns, width))
        body = []
        for p in partitions:
            cells = {
                "topic": (p.topic, ""), "partition": (str(p.partition), ""),
                "committed": (fmt.count(p.committed) if p.committed is not None else "-", ""),
                "log_end": (fmt.count(p.log_end), "yellow" if p.log_end is None else ""),
                "lag": (fmt.partition_lag(p.lag, p.lag_unknown, p.committed), "yellow" if p.lag_unknown else ""),
                "time": (fmt.time_lag(p.lag_seconds, p.lag_seconds_quality), ""),
                "status": (fmt.status(p.status), STATUS_STYLE.get(p.status.code, "") if p.status else "yellow"),
                "owner": (p.owner or p.error or "-", "red" if p.error and not p.owner else ""),
            }
            line = Text(no_wrap=True, style="dim" if row.stale else "")
            for index, (column, w) in enumerate(columns):
                text, style = cells[column.id]
                line.append((" " if index else "") + fmt.fit(text, w, column.right), style=style)
            body.append(line)
    if height is None:
        return lines + body
    room = max(0, height - len(lines) - 1)
    offset = min(state.detail_offset, max(0, len(body) - room))
    return fill(lines + body[offset:offset + room], height, footer(state, width, DETAIL_HELP))
