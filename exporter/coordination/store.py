"""The alert engine's state store in coordinated mode: the coordination topic instead of a local file.

Same interface as exporter.alerts.state.StateStore (`load(cluster)`, `save(cluster, section)`, `path`), so
the engine keeps its write-then-send order: a transition is in the topic before a notifier sees it, and it
leaves the outbox record only once delivered. Each group's state is one record (records.py) in the partition
of its shard, written only by the process evaluating that shard and only when it changed, acknowledged by
every in-sync replica (acks=all) before `save` returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from exporter import logs
from exporter.coordination import records
from exporter.coordination.ownership import Ownership


class StateNotWritten(OSError):
    """The topic did not take the records in time: the engine logs alert_state_not_saved and retries."""


class ShardStateStore:
    def __init__(self, topic: str, ownership: Ownership, timeout_s: float = 10.0):
        self.topic = topic
        self.path = f"coordination topic {topic}"  # the engine names its store in alert_state_not_saved
        self.ownership = ownership
        self.timeout_s = timeout_s
        self.log = logs.get()
        self._producer = None  # attached by the member thread before it joins the group
        self._lock = threading.Lock()
        # (cluster, group) -> (fingerprint, state) as the topic holds it, for groups of shards this process
        # owns: read back when it gained the shard, then what it wrote.
        self._held: dict[tuple[str, str], tuple[bytes | None, dict[str, Any]]] = {}
        self.records_written = 0

    def attach(self, producer) -> None:
        self._producer = producer

    def clusters(self) -> set[str]:
        with self._lock:
            return {cluster for cluster, _ in self._held}

    # --- the engine's side -----------------------------------------------------------------------

    def load(self, cluster: str) -> dict[str, Any]:
        with self._lock:
            return records.join({g: part for (c, g), (_, part) in self._held.items() if c == cluster})

    def save(self, cluster: str, section: Mapping[str, Any]) -> None:
        """Write the records of the groups this process evaluates whose state changed (a tombstone for a
        group whose state is gone). Groups of other shards are left to their owner."""
        parts = records.split(section)
        with self._lock:
            groups = set(parts) | {g for c, g in self._held if c == cluster}
            mine = [g for g in groups if self.ownership.evaluates(cluster, g)]
            self._write_changed(cluster, {g: parts.get(g) for g in mine})

    # --- the member's side -----------------------------------------------------------------------

    def read_back(self, found: Mapping[tuple[str, str], dict[str, Any]]) -> None:
        """The state of a gained shard's groups, as read from its partition."""
        with self._lock:
            for group_key, part in found.items():
                self._held[group_key] = (records.fingerprint(part), part)

    def hand_over(self, cluster: str, section: Mapping[str, Any], belongs: Callable[[str], bool]) -> int:
        """The final write for groups of shards being revoked (their latest state, `section`), before the
        next owner reads them back; then forget them. Returns the records written."""
        parts = records.split(section)
        with self._lock:
            groups = {g for g in parts if belongs(g)} | {g for c, g in self._held if c == cluster and belongs(g)}
            try:
                written = self._write_changed(cluster, {g: parts.get(g) for g in groups})
            except StateNotWritten as exc:
                # The next owner reads the state as of the last successful write: a transition recorded
                # since may be sent again or not at all. Said loudly, since it is rare.
                self.log.error("alert_state_not_handed_over", cluster=cluster, groups=len(groups), error=str(exc))
                written = 0
            for group in groups:
                self._held.pop((cluster, group), None)
            return written

    def forget(self, shards: Iterable[int]) -> None:
        shards = set(shards)
        with self._lock:
            self._held = {
                k: v for k, v in self._held.items() if self.ownership.shard(*k) not in shards
            }

    # --- writing ---------------------------------------------------------------------------------

    def _write_changed(self, cluster: str, parts: Mapping[str, dict[str, Any] | None]) -> int:
        """Called with the lock held. Raises StateNotWritten; on success the cache holds what was written."""
        changes = []
        for group, part in parts.items():
            fingerprint = records.fingerprint(part)
            held = self._held.get((cluster, group))
            if (held[0] if held else None) != fingerprint:
                changes.append((group, part, fingerprint))
        if not changes:
            return 0
        producer = self._producer
        if producer is None:
            raise StateNotWritten("not connected to the coordination cluster yet")
        try:
            futures = [
                producer.send(
                    self.topic, key=records.key(cluster, group), value=records.value(part),
                    partition=self.ownership.shard(cluster, group),
                )
                for group, part, _ in changes
            ]
            producer.flush(timeout=self.timeout_s)
            for future in futures:
                future.get(timeout=0.1)
        except Exception as exc:  # noqa: BLE001 - any client error means: not written
            raise StateNotWritten(f"{len(changes)} record(s) not written to {self.topic}: {type(exc).__name__}: {exc}") from None
        for group, part, fingerprint in changes:
            if part is None or fingerprint is None:
                self._held.pop((cluster, group), None)
            else:
                self._held[(cluster, group)] = (fingerprint, part)
        self.records_written += len(changes)
        return len(changes)
