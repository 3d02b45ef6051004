"""The heartbeat thread of one membership session.

A Heartbeat every `heartbeat_s` for the generation the member thread is in (none while it joins), so the
member stays in the group while its thread writes a revoked shard's state or reads a gained one back. The
answer decides what the member thread does next: nothing (answered), join again keeping its shards (a
rebalance is in progress), or join again as a new member with its shards gone (the coordinator does not
know it, or nothing was answered for a whole session timeout: it has surely been removed).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from exporter import logs
from exporter.coordination.group import CoordinatorUnavailable, GroupClient, NotAMember, RebalanceNeeded


@dataclass(frozen=True)
class Rejoin:
    generation: int
    reason: str
    lost: bool  # the coordinator no longer counts this member in: its shards are gone


class Heartbeats:
    def __init__(self, group: GroupClient, heartbeat_s: float, session_timeout_s: float,
                 answered: Callable[[float], None], member_wake: threading.Event):
        self.group = group
        self.heartbeat_s = heartbeat_s
        self.session_timeout_s = session_timeout_s
        self.answered = answered  # called with the wall-clock time an answered heartbeat was sent
        self.member_wake = member_wake
        self.log = logs.get()
        self._lock = threading.Lock()
        self._current: tuple[int, str] | None = None  # (generation, member id) to heartbeat for
        self._rejoin: Rejoin | None = None
        self._answered_at: float | None = None  # monotonic
        self._done = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lagwatch-heartbeat", daemon=True)

    def start(self) -> Heartbeats:
        self._thread.start()
        return self

    def stop(self, timeout_s: float) -> None:
        self._done.set()
        self._wake.set()
        self._thread.join(timeout_s)

    # --- the member thread's side ------------------------------------------------------------------

    def joining(self) -> None:
        """The member is about to join: no heartbeats until it is in a generation again."""
        with self._lock:
            self._current, self._rejoin = None, None

    def member_of(self, generation: int, member_id: str, synced_at: float) -> None:
        """In `generation` since the SyncGroup sent at `synced_at` (wall clock) was answered."""
        with self._lock:
            self._current = (generation, member_id)
            self._answered_at = time.monotonic() - max(0.0, time.time() - synced_at)
        self.answered(synced_at)
        self._wake.set()

    def rejoin(self) -> Rejoin | None:
        with self._lock:
            return self._rejoin

    def age_s(self) -> float | None:
        """Seconds since the last heartbeat the coordinator answered was sent (None: none yet)."""
        answered = self._answered_at
        return None if answered is None else round(time.monotonic() - answered, 1)

    # --- the thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._done.is_set():
            with self._lock:
                current = self._current
            if current is not None:
                self._beat(current)
            self._wake.wait(self.heartbeat_s)
            self._wake.clear()

    def _beat(self, current: tuple[int, str]) -> None:
        sent_wall, sent = time.time(), time.monotonic()
        rejoin = None
        try:
            self.group.heartbeat(*current)
            self._note_answer(sent_wall, sent)
        except RebalanceNeeded as exc:
            self._note_answer(sent_wall, sent)  # still a member: it joins again with its shards
            rejoin = Rejoin(current[0], str(exc), lost=False)
        except NotAMember as exc:
            rejoin = Rejoin(current[0], str(exc), lost=True)
        except CoordinatorUnavailable as exc:
            silent = time.monotonic() - (self._answered_at or sent)
            if silent > self.session_timeout_s:
                rejoin = Rejoin(current[0], f"no heartbeat answered for {silent:.0f} s ({exc})", lost=True)
        except Exception as exc:  # noqa: BLE001 - the thread outlives any one heartbeat
            self.log.warning("coordination_heartbeat_failed", error=logs.mask(f"{type(exc).__name__}: {exc}"))
        if rejoin is None:
            return
        with self._lock:
            if self._current != current:
                return  # a late answer about a generation the member already left
            self._current, self._rejoin = None, rejoin
        self.member_wake.set()

    def _note_answer(self, sent_wall: float, sent: float) -> None:
        self._answered_at = sent
        self.answered(sent_wall)
