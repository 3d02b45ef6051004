"""A frame of `lagwatch top`: header, one line per group (or an opened group's partitions), footer.

`frame` returns exactly the lines that fit (rich Text, styled); `plain` is the same frame as text for
`--once`. Only the rows on screen are formatted, so a frame costs little beyond sorting, however large the
estate. Columns are dropped or narrowed to fit the width: an 80x24 terminal shows every column the issue
asks for but the group type; wider terminals get the type, the cluster column and longer cells.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rich.text import Text

from exporter.evaluator.status import Code, Statuses
from exporter.model import LagReport
from exporter.top import fmt
from exporter.top.rows import GroupKey, GroupRow, filter_rows, partition_rows, sort_rows, topic_rows
from exporter.top.view import ViewState

STATUS_STYLE = {
    Code.OK: "green", Code.WARN: "yellow", Code.STALL: "magenta", Code.STOP: "bold red",
    Code.REWIND: "cyan", Code.ERR: "bold white on red",
}
HEADER_STYLE = "reverse"
KEYS_HELP = "q quit  / filter  Enter open  ↑↓ move  sort: l lag  t time  s status  n name"
DETAIL_HELP = "Esc back  ↑↓ PgUp PgDn scroll  q quit"


@dataclass(frozen=True)
class ClusterLine:
    """One cluster's scrape, as the header shows it."""

    name: str
    state: str  # "pending" (first scrape running), "up", "down"
    interval_s: float
    duration_s: float | None = None
    requests: int | None = None
    errors: int = 0
    first_error: str | None = None
    groups: int = 0
    partial_groups: int = 0
    data_at: float | None = None  # when the rows shown for this cluster were scraped
    down_since: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class Picture:
    """Everything a frame shows, as of `now`."""

    now: float
    clusters: tuple[ClusterLine, ...]
    rows: tuple[GroupRow, ...]
    reports: Mapping[str, tuple[LagReport, Statuses | None]] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    id: str
    title: str
    min: int
    pref: int
    keep: int  # columns with the lowest `keep` are dropped first when the width is short
    right: bool = False


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


def fit_columns(cols: list[Column], width: int, grow_order, flex: str) -> list[tuple[Column, int]]:
    """Columns that fit `width` (one space between): the lowest `keep` dropped first, then spare room given
    out in `grow_order` ("id" grows to its preferred width, "id:N" to N); `flex` is never dropped."""
    cols = list(cols)
    while len(cols) > 1 and sum(c.min for c in cols) + len(cols) - 1 > width:
        cols.remove(min((c for c in cols if c.id != flex), key=lambda c: c.keep))
    widths = {c.id: c.min for c in cols}
    spare = width - sum(widths.values()) - (len(cols) - 1)
    for step in grow_order:
        name, _, cap = step.partition(":")
        column = next((c for c in cols if c.id == name), None)
        if column is None or spare <= 0:
            continue
        target = min(int(cap) if cap else column.pref, column.pref)
        grow = max(0, min(spare, target - widths[name]))
        widths[name] += grow
        spare -= grow
    if spare < 0:  # narrower than the flexible column alone
        widths[flex] = max(1, widths[flex] + spare)
    return [(c, widths[c.id]) for c in cols]


# One remembered value per kind: (the object it was made from, its parameters, the value).
_memo: dict[str, tuple[object, tuple, object]] = {}


def _remember(kind: str, source, key: tuple, make):
    """`make()` once for this `source` object and `key`: a key press or a clock tick re-draws a large
    estate without sorting or indexing it again. One value per kind, so an old scrape's rows or report are
    not kept alive (on a large estate that would be hundreds of MB)."""
    hit = _memo.get(kind)
    if hit is not None and hit[0] is source and hit[1] == key:
        return hit[2]
    value = make()
    _memo[kind] = (source, key, value)
    return value


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
    return _remember("arranged", picture.rows, (state.sort, state.filter),
                     lambda: sort_rows(filter_rows(picture.rows, state.filter), state.sort))


def _positions(picture: Picture, state: ViewState) -> dict[GroupKey, int]:
    rows = arrange(picture, state)
    return _remember("positions", rows, (), lambda: {r.key: i for i, r in enumerate(rows)})


def _row_of(picture: Picture, key: GroupKey) -> GroupRow | None:
    return _remember("by_key", picture.rows, (), lambda: {r.key: r for r in picture.rows}).get(key)


def _detail_rows(report: LagReport, statuses: Statuses | None, group: str):
    """(topic rows, partition rows) of one group, indexed once per report (a report holds every group's
    partitions: filtering them on every frame would cost a large estate tens of milliseconds)."""
    def index():
        by_group: dict[str, tuple[list, list]] = {}
        for p in report.partitions:
            by_group.setdefault(p.group, ([], []))[0].append(p)
        for t in report.group_topics:
            by_group.setdefault(t.group, ([], []))[1].append(t)
        return by_group

    partitions, topics = _remember("by_group", report, (), index).get(group, ([], []))
    narrowed = dataclasses.replace(report, partitions=tuple(partitions), group_topics=tuple(topics))
    return topic_rows(narrowed, group), partition_rows(narrowed, statuses, group)


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
        return text, "yellow" if text == fmt.UNKNOWN else ""
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


def _footer(state: ViewState, width: int, help_text: str) -> Text:
    if state.editing is not None:
        return Text(fmt.fit(f"/{state.editing}▏ Enter apply · Esc cancel (regex, case-insensitive)", width))
    return Text(fmt.fit(help_text, width), style="dim")


def frame(picture: Picture, state: ViewState, width: int, height: int | None) -> list[Text]:
    """The frame's lines: exactly `height` of them (all rows when `height` is None, as `--once` prints)."""
    width = max(20, width)
    _forget_others(picture)
    if state.detail is not None:
        return detail_frame(picture, state, width, height)
    rows = arrange(picture, state)
    lines = _header(picture, state, width, len(rows), len(picture.rows), _cluster_room(picture, height))
    clusters = len(picture.clusters)
    columns = layout(width, clusters)
    prefix = clusters > 1 and not any(c.id == "cluster" for c, _ in columns)
    header = Text(no_wrap=True, style=HEADER_STYLE)
    for index, (column, w) in enumerate(columns):
        header.append((" " if index else "") + fmt.fit(column.title, w, column.right))
    header.append(" " * max(0, width - len(header.plain)))
    lines.append(header)
    body = len(rows) if height is None else max(0, height - len(lines) - 1)
    index = _positions(picture, state).get(state.selected, 0 if height is not None else -1)
    start = (index // body) * body if body and index >= 0 else 0
    for offset, row in enumerate(rows[start:start + body]):
        lines.append(_row_line(columns, row, prefix, height is not None and start + offset == index))
    if not rows:
        lines.append(Text(fmt.fit("no groups" + (" match the filter" if state.filter else " yet"), width), style="dim"))
    if height is None:
        return lines
    lines = lines[: max(0, height - 1)]
    lines += [Text("")] * (height - 1 - len(lines))
    return lines + [_footer(state, width, KEYS_HELP)][: max(0, height - len(lines))]


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


def detail_frame(picture: Picture, state: ViewState, width: int, height: int | None) -> list[Text]:
    cluster, group = state.detail
    found = picture.reports.get(cluster)
    row = _row_of(picture, state.detail)
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
        topics, partitions = _detail_rows(report, statuses, group)
        for t in topics:
            extra = f", {t.partitions_without_commit} never committed" if t.partitions_without_commit else ""
            lag_text = fmt.count(t.lag) if t.lag is not None else (
                f"≥{fmt.count(t.lag_known)} ({t.partitions_unknown} unknown)"
            )
            lines.append(Text(fmt.fit(
                f"  topic {t.topic}: {t.partitions} partitions{extra} · lag {lag_text} · time lag "
                f"{fmt.time_lag(t.lag_seconds, t.lag_seconds_quality)}", width)))
        columns = fit_columns(list(PARTITION_COLUMNS), width, _PARTITION_GROW, "topic")
        header = Text(no_wrap=True, style=HEADER_STYLE)
        for index, (column, w) in enumerate(columns):
            header.append((" " if index else "") + fmt.fit(column.title, w, column.right))
        header.append(" " * max(0, width - len(header.plain)))
        lines.append(header)
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
    lines += body[offset:offset + room]
    lines = lines[: max(0, height - 1)]
    lines += [Text("")] * (height - 1 - len(lines))
    return lines + [_footer(state, width, DETAIL_HELP)][: max(0, height - len(lines))]


def plain(lines: Sequence[Text]) -> str:
    """The frame as text, trailing spaces cut (what `--once` prints without a terminal)."""
    return "\n".join(line.plain.rstrip() for line in lines)
