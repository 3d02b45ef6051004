"""Alert state that survives a restart: a small JSON file, rewritten atomically after every scrape.

Per cluster it holds the alert states (pending and firing alerts, with what was last sent), the status
"stuck" clocks (so STOP does not restart its countdown after a restart) and an outbox of transitions not yet
delivered to a target (the alerts index, each notifier), retried on the next scrape. Several clusters'
pipelines share one file: every read-modify-write goes through one lock.
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

VERSION = 1


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
        if not isinstance(data, dict) or data.get("version") != VERSION:
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
