"""The live view's state and what each key does to it (pure: no terminal, no clock).

Keys arrive as names from `decode_keys` (bytes read from the terminal); `press` returns the next state.
The selection is kept by group, not by line, so the cursor stays on the group it was on when a new scrape
re-sorts the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from exporter.top.rows import SORT_KEYS, GroupKey

SORT_BY_KEY = {"l": "lag", "t": "time", "s": "status", "n": "name"}

_SEQUENCES = {
    "\x1b[A": "up", "\x1b[B": "down", "\x1b[C": "right", "\x1b[D": "left",
    "\x1bOA": "up", "\x1bOB": "down", "\x1bOC": "right", "\x1bOD": "left",
    "\x1b[5~": "pgup", "\x1b[6~": "pgdn",
    "\x1b[H": "home", "\x1b[1~": "home", "\x1bOH": "home", "\x1b[7~": "home",
    "\x1b[F": "end", "\x1b[4~": "end", "\x1bOF": "end", "\x1b[8~": "end",
}
_SINGLE = {"\r": "enter", "\n": "enter", "\x7f": "backspace", "\x08": "backspace", "\x03": "ctrl-c", "\t": "tab"}


def decode_keys(data: bytes) -> list[str]:
    """Key names for what one read from the terminal returned: escape sequences for arrows and paging,
    control characters by name, anything else as the character itself. Unknown sequences are dropped."""
    text = data.decode("utf-8", errors="ignore")
    keys: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\x1b":
            for sequence, name in _SEQUENCES.items():
                if text.startswith(sequence, i):
                    keys.append(name)
                    i += len(sequence)
                    break
            else:
                if i + 1 < len(text) and text[i + 1] in "[O":  # an unknown CSI/SS3 sequence: skip it whole
                    j = i + 2
                    while j < len(text) and not ("@" <= text[j] <= "~"):
                        j += 1
                    i = j + 1
                else:
                    keys.append("esc")
                    i += 1
            continue
        keys.append(_SINGLE.get(char, char))
        i += 1
    return keys


@dataclass(frozen=True)
class ViewState:
    sort: str = "lag"
    filter: str = ""
    editing: str | None = None  # the filter being typed after `/` (None: not typing)
    selected: GroupKey | None = None
    detail: GroupKey | None = None  # the opened group
    detail_offset: int = 0  # first partition line shown in the opened group
    quit: bool = False

    def __post_init__(self) -> None:
        if self.sort not in SORT_KEYS:
            raise ValueError(f"unknown sort key {self.sort!r}; one of {', '.join(SORT_KEYS)}")


def _move(state: ViewState, visible: Sequence[GroupKey], step: int | None, to: int | None = None) -> ViewState:
    if not visible:
        return replace(state, selected=None)
    # Nothing selected (or the selected group filtered away): the first line is the highlighted one.
    index = visible.index(state.selected) if state.selected in visible else 0
    if to is not None:
        index = to
    elif step is not None:
        index += step
    index = max(0, min(len(visible) - 1, index))
    return replace(state, selected=visible[index])


def press(state: ViewState, key: str, visible: Sequence[GroupKey], page: int = 10) -> ViewState:
    """The state after `key`, given the groups on screen in display order and the lines per page."""
    if key == "ctrl-c":
        return replace(state, quit=True)
    if state.editing is not None:
        if key == "enter":
            return replace(state, filter=state.editing, editing=None, selected=None)
        if key == "esc":
            return replace(state, editing=None)
        if key == "backspace":
            return replace(state, editing=state.editing[:-1])
        if len(key) == 1 and key.isprintable():
            return replace(state, editing=state.editing + key)
        return state
    if state.detail is not None:
        if key == "q":
            return replace(state, quit=True)
        if key in ("esc", "backspace", "left", "enter", "b"):
            return replace(state, detail=None, detail_offset=0, selected=state.detail)
        steps = {"down": 1, "j": 1, "up": -1, "k": -1, "pgdn": page, "pgup": -page, " ": page}
        if key in steps:
            return replace(state, detail_offset=max(0, state.detail_offset + steps[key]))
        if key == "home":
            return replace(state, detail_offset=0)
        return state
    if key == "q":
        return replace(state, quit=True)
    if key in SORT_BY_KEY:
        return replace(state, sort=SORT_BY_KEY[key])
    if key == "/":
        return replace(state, editing=state.filter)
    if key == "esc" and state.filter:
        return replace(state, filter="")
    if key in ("enter", "right"):
        state = _move(state, visible, None)
        return replace(state, detail=state.selected, detail_offset=0) if state.selected else state
    steps = {"down": 1, "j": 1, "up": -1, "k": -1, "pgdn": page, "pgup": -page, " ": page}
    if key in steps:
        return _move(state, visible, steps[key])
    if key == "home":
        return _move(state, visible, None, to=0)
    if key == "end":
        return _move(state, visible, None, to=len(visible) - 1)
    return state
