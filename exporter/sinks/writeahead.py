"""The delivery queue's write-ahead: what the queue holds in memory is also on disk, so a kill -9 loses nothing.

Every batch the delivery queue (exporter/sinks/queue.py) takes is first written as a file in
`<spool.dir>/queued/`, in the spool's segment format (exporter/sinks/segment_files.py), and removed once the
batch's outcome is settled: indexed, spooled, rejected or counted as dropped. A process killed with batches
queued or in flight (kill -9, the OOM killer) leaves their files behind; the next start moves them into the
spool (`delivery_recovered`), whose replay delivers them. Ids are deterministic, so a batch that was indexed
just before the kill and is sent again overwrites itself: each document is in Elasticsearch once.

Bound: what the queue holds, `delivery.queue_max_bytes` (64 MiB by default). Cost: one file written and one
removed per batch, on the scrape thread (docs/performance.md has the figure on W). No fsync: the files survive
the process, not a power loss (the spool proper fsyncs). A file that cannot be written (disk full) leaves its
batch queued without one, and says so (`delivery_write_ahead_failed`).
"""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path

from exporter import logs
from exporter.output.batch import Batch
from exporter.sinks import segment_files
from exporter.sinks.segments import Spool

DIRECTORY = "queued"


class WriteAhead:
    """The files of one delivery queue's batches (two queues share the directory across a reload)."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self._token = uuid.uuid4().hex[:8]
        self._numbers = itertools.count(1)
        self.log = logs.get()

    def write(self, batch: Batch) -> Path | None:
        """The batch's file, or None when it could not be written (the batch is queued all the same)."""
        path = self.dir / f"{self._token}-{next(self._numbers):09d}-{batch.documents}.ndjson"
        try:
            path.write_bytes(segment_files.content(batch))
        except OSError as exc:
            path.unlink(missing_ok=True)
            self.log.warning("delivery_write_ahead_failed", documents=batch.documents, error=str(exc),
                             detail="queued in memory only: lost if the process is killed before it is sent")
            return None
        return path

    @staticmethod
    def settled(path: Path | None) -> None:
        if path is not None:
            path.unlink(missing_ok=True)


def recover(spool: Spool) -> int:
    """At start, before any queue writes: the batches a killed process had queued, moved into the spool
    (oldest first) for its replay. Returns their documents."""
    directory = spool.dir / DIRECTORY
    try:
        files = sorted(directory.glob("*.ndjson"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    except OSError:
        return 0
    documents = 0
    for path in files:
        count = int(path.stem.rsplit("-", 1)[1])
        spool.adopt(path, count)
        documents += count
    if files:
        logs.get().warning("delivery_recovered", batches=len(files), documents=documents, spool_dir=str(spool.dir),
                           detail="queued by a process that did not stop cleanly; replayed from the spool")
    return documents
