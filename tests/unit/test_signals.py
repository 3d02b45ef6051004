"""The daemon's signals: SIGHUP asks for a reload, SIGTERM/SIGINT stop, and a stop is never lost behind a
reload. Real signals sent to this process; the handlers in place before each test are put back after it."""

from __future__ import annotations

import os
import signal

import pytest

from exporter.runtime.signals import DaemonSignals, stop_event


@pytest.fixture(autouse=True)
def restore_handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def send(signum: int) -> None:
    os.kill(os.getpid(), signum)  # the handler runs in this (the main) thread before kill's caller goes on


def test_sighup_asks_for_one_reload_and_sigterm_then_stops():
    signals = DaemonSignals()
    send(signal.SIGHUP)
    assert signals.next_reload() is True
    assert not signals.reload.is_set()  # taken: the next SIGHUP is a new request
    send(signal.SIGTERM)
    assert signals.next_reload() is False


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_arriving_with_a_reload_pending_wins(stop):
    signals = DaemonSignals()
    send(signal.SIGHUP)
    send(stop)
    assert signals.next_reload() is False
    assert signals.stop.is_set()


def test_stop_event_is_set_only_by_the_signals_it_names():
    stop = stop_event((signal.SIGTERM, signal.SIGHUP))
    assert not stop.is_set()
    send(signal.SIGHUP)
    assert stop.is_set()
    assert signal.getsignal(signal.SIGINT) is not signal.getsignal(signal.SIGTERM)  # SIGINT left alone
