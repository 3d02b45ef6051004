"""Alert state that survives a restart: a small JSON file, rewritten atomically after every scrape.

Per cluster it holds the alert states (pending and firing alerts, with what was last sent), the status
"stuck" clocks (so STOP does not restart its countdown after a restart) and an outbox of transitions not yet
delivered to a target (the alerts index, each notifier), retried on the next scrape. Several clusters'
pipelines share one file: every read-modify-write goes through one lock.

Nothing in the file is keyed by a string built from a group id: a group id can hold any character a client
sends. Stuck clocks are a list of `[group, topic, partition, offset, since]` records (version 2). Version 1
keyed them by `group\x1ftopic\x1fpartition`; it is still read, split from the right (topic names and
partition numbers hold no \x1f), so a group id with \x1f in an old file is recovered too.
"""

from __future__ import annotations

import json
import time
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from exporter import logs

VERSION = 2
_READABLE = (1, 2)
_V1_SEP = "\x1f"


class StateStore:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        empty = {"version": VERSION, "clusters": {}}
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return empty
        except (OSError, ValueError) as exc:
            data = exc
        if isinstance(data, dict) and data.get("version") in _READABLE:
            try:
                return _upgrade(data)
            except (TypeError, ValueError, KeyError, AttributeError) as exc:
                data = exc
        if not isinstance(data, dict) or data.get("version") not in _READABLE:
            # Unreadable (truncated by a full disk, edited by hand): keep it for a post-mortem, start afresh.
            # Alerts then fire again as if new, which beats an exporter that cannot start.
            aside = self.path.with_name(f"{self.path.name}.unreadable-{int(time.time())}")
            try:
                self.path.rename(aside)
            except OSError:
                aside = None
            logs.get().error(
                "alert_state_unreadable", path=str(self.path), moved_to=str(aside) if aside else None,
                error=str(data) if isinstance(data, Exception) else f"not a version {VERSION} state file",
            )
            return empty
        return data

    def _write(self, data: dict[str, Any]) -> None:
        # Write a sibling temporary file, fsync, then rename over: a crash leaves the old or the new file.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(data, handle, separators=(",", ":"), sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def load(self, cluster: str) -> dict[str, Any]:
        with self._lock:
            return self._read()["clusters"].get(cluster, {})

    def save(self, cluster: str, section: dict[str, Any]) -> None:
        with self._lock:
            data = self._read()
            data["clusters"][cluster] = section
            self._write(data)


def _upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """The current format of a readable file (version 1 stuck keys become records)."""
    clusters = data["clusters"]
    if not isinstance(clusters, dict):
        raise ValueError("clusters is not a mapping")
    for section in clusters.values():
        stuck = section.get("stuck", [])
        if isinstance(stuck, dict):  # version 1
            records = []
            for key, (offset, since) in stuck.items():
                group, topic, partition = key.rsplit(_V1_SEP, 2)
                records.append([group, topic, int(partition), offset, since])
            section["stuck"] = records
    data["version"] = VERSION
    return data
