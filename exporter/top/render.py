"""A frame of `lagwatch top`: header, one line per group (or an opened group's partitions), footer.

`frame` returns exactly the lines that fit (rich Text, styled); `plain` is the same frame as text for
`--once`. Only the rows on screen are formatted, so a frame costs little beyond sorting, however large the
estate. Columns are dropped or narrowed to fit the width: an 80x24 terminal shows every column the issue
asks for but the group type; wider terminals get the type, the cluster column and longer cells.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from exporter.top import fmt
from exporter.top.detail import detail_frame
from exporter.top.rows import GroupKey, GroupRow, filter_rows, sort_rows
from exporter.top.screen import (  # noqa: F401 - ClusterLine and Picture are the view's data, re-exported
    STATUS_STYLE, ClusterLine, Column, Picture, _memo, fill, fit_columns, footer, header_line, remember,
)
from exporter.top.view import ViewState

KEYS_HELP = "q quit  / filter  Enter open  ↑↓ move  sort: l lag  t time  s status  n name"

COLUMNS = (
    Column("cluster", "CLUSTER", 8, 16, 1),
    Column("group", "GROUP", 12, 48, 100),
    Column("type", "TYPE", 8, 8, 0),
    Column("state", "STATE", 6, 11, 5),
    Column("members", "MEM", 3, 3, 6, right=True),
    Column("lag", "LAG", 9, 22, 99, right=True),
    Column("time", "TIME LAG", 8, 8, 98, right=True),
    Column("trend", "TREND", 6, 12, 3),
    Column("rate", "CONS/PROD", 9, 11, 4, right=True),
    Column("eta", "ETA", 7, 14, 7, right=True),
    Column("status", "STATUS", 6, 6, 97),
)
_GROW_ORDER = ("group:32", "eta", "trend", "lag", "state", "cluster", "rate", "type", "group")
TYPE_FROM_WIDTH = 120  # the group type says little next to the state: only on wide terminals


def layout(width: int, clusters: int) -> list[tuple[Column, int]]:
    """The group columns that fit `width`, each with its width."""
    cols = [c for c in COLUMNS if (c.id != "cluster" or clusters > 1) and (c.id != "type" or width >= TYPE_FROM_WIDTH)]
    return fit_columns(cols, width, _GROW_ORDER, "group")


def _forget_others(picture: Picture) -> None:
    """Drop what was remembered from objects the picture no longer shows."""
    current = {id(picture.rows)} | {id(report) for report, _ in picture.reports.values()}
    for kind in ("arranged", "by_key", "by_group"):
        hit = _memo.get(kind)
        if hit is not None and id(hit[0]) not in current:
            del _memo[kind]
    positions, arranged = _memo.get("positions"), _memo.get("arranged")
    if positions is not None and (arranged is None or positions[0] is not arranged[2]):
        del _memo["positions"]


def arrange(picture: Picture, state: ViewState) -> list[GroupRow]:
    """The rows in display order: filtered, then sorted."""
    return remember("arranged", picture.rows, (state.sort, state.filter),
                    lambda: sort_rows(filter_rows(picture.rows, state.filter), state.sort))


def _positions(picture: Picture, state: ViewState) -> dict[GroupKey, int]:
    rows = arrange(picture, state)
    return remember("positions", rows, (), lambda: {r.key: i for i, r in enumerate(rows)})


def _row_of(picture: Picture, key: GroupKey) -> GroupRow | None:
    return remember("by_key", picture.rows, (), lambda: {r.key: r for r in picture.rows}).get(key)


def _cell(column: Column, width: int, row: GroupRow, prefix: bool) -> tuple[str, str]:
    """(text, style) of one cell; `prefix`: several clusters but no cluster column, so the group names it."""
    cid = column.id
    if cid == "cluster":
        return row.cluster, ""
    if cid == "group":
        return (f"{row.cluster}/{row.group}" if prefix else row.group), ""
    if cid == "type":
        return row.group_type or "-", ""
    if cid == "state":
        return fmt.group_state(row.state, width), "yellow" if row.state != "Stable" else ""
    if cid == "members":
        return str(row.members), ""
    if cid == "lag":
        text = fmt.group_lag(row, wide=width >= 20)
        return text, "yellow" if row.lag is None else ""
    if cid == "time":
        text = fmt.time_lag(row.lag_seconds, row.lag_seconds_quality)
        return text, "yellow" if text in (fmt.UNKNOWN, fmt.CLOCK_SKEW) else ""
    if cid == "trend":
        return fmt.sparkline(row.trend, width), "cyan"
    if cid == "rate":
        return fmt.rates(row), ""
    if cid == "eta":
        text = fmt.eta(row, wide=width >= 14)
        return text, "red" if text in ("behind", "falling behind") else ""
    text = fmt.status(row.status)
    return text, STATUS_STYLE.get(row.status.code, "") if row.status is not None else "yellow"


def _row_line(columns, row: GroupRow, prefix: bool, selected: bool) -> Text:
    line = Text(no_wrap=True, overflow="crop", style="dim" if row.stale else "")
    for index, (column, width) in enumerate(columns):
        if index:
            line.append(" ")
        text, style = _cell(column, width, row, prefix)
        line.append(fmt.fit(text, width, column.right), style=style)
    if selected:
        line.stylize("reverse")
    return line


def _cluster_line(c: ClusterLine, now: float, width: int) -> Text:
    every = f"every {c.interval_s:g}s"
    if c.state == "pending":
        return Text(fmt.fit(f"{c.name}: first scrape running… ({every})", width), style="yellow")
    if c.state == "down":
        rows_from = f"rows from {fmt.clock(c.data_at)} (stale)" if c.data_at is not None else "no data yet"
        text = (  # the error last: on a narrow screen it is what gets cut
            f"{c.name}: DOWN since {fmt.clock(c.down_since)} · retrying {every} · {rows_from} · "
            f"{c.error or 'unreachable'}"
        )
        return Text(fmt.fit(text, width), style="bold red")
    parts = [
        f"{c.name}: scrape {c.duration_s * 1000:.0f} ms" if c.duration_s is not None else f"{c.name}: up",
        f"{c.requests} requests" if c.requests is not None else "",
        f"{c.errors} errors" + (f" ({c.first_error})" if c.first_error else ""),
        f"{c.groups} groups",
        f"{c.partial_groups} partial (≥: some partitions unreadable)" if c.partial_groups else "",
        f"{fmt.clock(c.data_at)} {every}",
    ]
    style = "yellow" if c.errors or c.partial_groups else ""
    return Text(fmt.fit(" · ".join(p for p in parts if p), width), style=style)


def _header(picture: Picture, state: ViewState, width: int, shown: int, total: int, room: int) -> list[Text]:
    title = f"lagwatch top · {fmt.clock(picture.now)} · sort: {state.sort} · {shown} of {total} groups"
    if state.filter:
        title += f" · filter: {state.filter}"
    lines = [Text(fmt.fit(title, width), style="bold")]
    clusters = picture.clusters
    if len(clusters) <= room:
        lines += [_cluster_line(c, picture.now, width) for c in clusters]
    else:  # many clusters: the ones that are down first, then a summary line
        ordered = sorted(clusters, key=lambda c: (c.state == "up", c.name))
        lines += [_cluster_line(c, picture.now, width) for c in ordered[: max(0, room - 1)]]
        rest = ordered[max(0, room - 1):]
        down = [c.name for c in rest if c.state == "down"]
        summary = f"+ {len(rest)} more clusters: {len(rest) - len(down)} up" + (
            f", {len(down)} DOWN ({', '.join(down)})" if down else ""
        )
        lines.append(Text(fmt.fit(summary, width), style="bold red" if down else ""))
    return lines


def frame(picture: Picture, state: ViewState, width: int, height: int | None) -> list[Text]:
    """The frame's lines: exactly `height` of them (all rows when `height` is None, as `--once` prints)."""
    width = max(20, width)
    _forget_others(picture)
    if state.detail is not None:
        return detail_frame(picture, state, _row_of(picture, state.detail), width, height)
    rows = arrange(picture, state)
    lines = _header(picture, state, width, len(rows), len(picture.rows), _cluster_room(picture, height))
    clusters = len(picture.clusters)
    columns = layout(width, clusters)
    prefix = clusters > 1 and not any(c.id == "cluster" for c, _ in columns)
    lines.append(header_line(columns, width))
    body = len(rows) if height is None else max(0, height - len(lines) - 1)
    index = _positions(picture, state).get(state.selected, 0 if height is not None else -1)
    start = (index // body) * body if body and index >= 0 else 0
    for offset, row in enumerate(rows[start:start + body]):
        lines.append(_row_line(columns, row, prefix, height is not None and start + offset == index))
    if not rows:
        lines.append(Text(fmt.fit("no groups" + (" match the filter" if state.filter else " yet"), width), style="dim"))
    if height is None:
        return lines
    return fill(lines, height, footer(state, width, KEYS_HELP))


def _cluster_room(picture: Picture, height: int | None) -> int:
    """Header lines for the clusters: all of them in `--once`, at most a quarter of the screen live."""
    if height is None:
        return len(picture.clusters)
    return max(1, min(len(picture.clusters), height // 4))


def page_size(picture: Picture, height: int) -> int:
    """Group lines per screen (PgUp/PgDn steps): the height less title, clusters, column header, footer."""
    return max(1, height - 3 - min(len(picture.clusters), _cluster_room(picture, height)))


def visible_keys(picture: Picture, state: ViewState) -> list[GroupKey]:
    return [r.key for r in arrange(picture, state)]


def plain(lines: Sequence[Text]) -> str:
    """The frame as text, trailing spaces cut (what `--once` prints without a terminal)."""
    return "\n".join(line.plain.rstrip() for line in lines)
