"""What every frame of `lagwatch top` is made of: the picture it shows, styles, columns that fit a width,
and values remembered between frames (pure, apart from that small memo)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rich.text import Text

from exporter.evaluator.status import Code, Statuses
from exporter.lag.model import LagReport
from exporter.top import fmt
from exporter.top.rows import GroupRow
from exporter.top.view import ViewState

STATUS_STYLE = {
    Code.OK: "green", Code.WARN: "yellow", Code.STALL: "magenta", Code.STOP: "bold red",
    Code.REWIND: "cyan", Code.ERR: "bold white on red",
}
HEADER_STYLE = "reverse"


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


def remember(kind: str, source, key: tuple, make):
    """`make()` once for this `source` object and `key`: a key press or a clock tick re-draws a large
    estate without sorting or indexing it again. One value per kind, so an old scrape's rows or report are
    not kept alive (on a large estate that would be hundreds of MB)."""
    hit = _memo.get(kind)
    if hit is not None and hit[0] is source and hit[1] == key:
        return hit[2]
    value = make()
    _memo[kind] = (source, key, value)
    return value


def header_line(columns: list[tuple[Column, int]], width: int) -> Text:
    """The column titles, in reverse video across the whole width."""
    header = Text(no_wrap=True, style=HEADER_STYLE)
    for index, (column, w) in enumerate(columns):
        header.append((" " if index else "") + fmt.fit(column.title, w, column.right))
    header.append(" " * max(0, width - len(header.plain)))
    return header


def footer(state: ViewState, width: int, help_text: str) -> Text:
    if state.editing is not None:
        return Text(fmt.fit(f"/{state.editing}▏ Enter apply · Esc cancel (regex, case-insensitive)", width))
    return Text(fmt.fit(help_text, width), style="dim")


def fill(lines: list[Text], height: int, last: Text) -> list[Text]:
    """Exactly `height` lines: cut or padded with blank ones, `last` (the footer) at the bottom."""
    lines = lines[: max(0, height - 1)]
    lines += [Text("")] * (height - 1 - len(lines))
    return lines + [last][: max(0, height - len(lines))]
