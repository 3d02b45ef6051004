"""Signal handling, installed once per process: SIGTERM/SIGINT stop, SIGHUP asks for a reload.

Handlers only set events (nothing else is safe in a handler); the main thread waits on them.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def on_signals(signums: Iterable[int], *events: threading.Event) -> None:
    """Each of `signums` sets every one of `events`."""
    for signum in signums:
        signal.signal(signum, lambda *_: [event.set() for event in events])


def stop_event(signums: Iterable[int] = STOP_SIGNALS) -> threading.Event:
    """An event set by the first of `signums` (default SIGINT, SIGTERM)."""
    stop = threading.Event()
    on_signals(signums, stop)
    return stop


class DaemonSignals:
    """SIGINT/SIGTERM stop the daemon, SIGHUP reloads its config; `next()` says which came."""

    def __init__(self) -> None:
        self.stop, self.reload, self._wake = threading.Event(), threading.Event(), threading.Event()
        on_signals(STOP_SIGNALS, self.stop, self._wake)
        # Its own event: a SIGTERM arriving while a reload is handled is never lost.
        on_signals((signal.SIGHUP,), self.reload, self._wake)

    def next_reload(self) -> bool:
        """Wait for a signal: True when a reload is due, False once a stop was asked for (it wins)."""
        while True:
            self._wake.wait()
            self._wake.clear()
            if self.stop.is_set():
                return False
            if self.reload.is_set():
                self.reload.clear()
                return True
