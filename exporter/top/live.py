"""The full-screen loop: keys from the terminal, a frame whenever something changed.

Rich draws the frame on the alternate screen; keys are read here with the terminal in cbreak mode (no echo,
no line buffering; Ctrl-C still interrupts). The size is read before every frame, so a resize simply gives
the next frame the new size, and a clock tick redraws at least once a second ("at HH:MM:SS" stays honest).
"""

from __future__ import annotations

import os
import select
import termios
import threading
import time
import tty

from rich.console import Console, Group
from rich.live import Live

from exporter.top import render
from exporter.top.source import Feeds
from exporter.top.view import ViewState, decode_keys, press

TICK_S = 0.25


class NotATerminal(Exception):
    """The live view needs a terminal on stdin and stdout (`--once` prints one frame without)."""


def run(
    feeds: Feeds, state: ViewState, console: Console | None = None, stop: threading.Event | None = None
) -> ViewState:
    """Draw until `q`, Ctrl-C or `stop` (set by a signal handler that replaced Ctrl-C's KeyboardInterrupt);
    return the last state. The feeds must already be started."""
    console = console or Console(highlight=False)
    fd = 0
    if not os.isatty(fd) or not console.is_terminal:
        raise NotATerminal("lagwatch top needs a terminal; use --once to print one frame")
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        with Live(console=console, screen=True, auto_refresh=False, redirect_stdout=False,
                  redirect_stderr=False) as live:
            drawn: tuple | None = None
            while not state.quit and not (stop is not None and stop.is_set()):
                width, height = console.size
                picture = feeds.picture()
                key = (feeds.version, int(time.time()), width, height, state)
                if key != drawn:
                    lines = render.frame(picture, state, width, height)
                    live.update(Group(*lines), refresh=True)
                    drawn = key
                ready, _, _ = select.select([fd], [], [], TICK_S)
                if not ready:
                    continue
                try:
                    data = os.read(fd, 4096)
                except OSError:  # the terminal went away (EIO after a hang-up)
                    break
                if not data:
                    break
                visible = render.visible_keys(picture, state) if state.detail is None else []
                page = render.page_size(picture, height)
                for name in decode_keys(data):
                    state = press(state, name, visible, page)
    except KeyboardInterrupt:
        pass
    finally:
        try:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        except termios.error:  # no terminal left to restore
            pass
    return state
