"""What a spooling sink reports about itself: the ledger of documents by outcome (SinkCounts) and its health
for /readyz (SinkHealth). Plain frozen values; exporter/sinks/spool.py keeps them up to date."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SinkCounts:
    """Documents by outcome since this sink was made (a snapshot; see the module docstring)."""

    offered: int = 0  # handed to deliver() or spool_now()
    recovered: int = 0  # found in the spool at start (left by a previous run)
    indexed: int = 0  # indexed, or already present (409); fresh or replayed
    spooled: int = 0  # written to the spool (some of them later indexed: `replayed`)
    replayed: int = 0  # indexed from the spool (included in `indexed`)
    rejected: int = 0  # refused by Elasticsearch, with a reason: never retried
    dropped: int = 0  # lost: the spool's cap, a full disk, an unreadable line
    dead_lettered: int = 0  # moved to the dead-letter directory after max_attempts replays
    pending: int = 0  # in the spool now

    @property
    def balanced(self) -> bool:
        ends = self.indexed + self.rejected + self.dropped + self.dead_lettered + self.pending
        return self.offered + self.recovered == ends


@dataclass(frozen=True)
class SinkHealth:
    reachable: bool | None  # None: nothing delivered yet
    spool_bytes: int
    spool_documents: int
    spool_max_bytes: int
    dropped_documents: int  # since start: the cap, a full disk, unreadable lines
    dropping: bool  # documents were dropped since the sink was last reachable
    last_error: str | None
    refused: str | None = None  # Elasticsearch refuses lagwatch's requests: a configuration problem
    rejected_documents: int = 0
    dead_lettered_documents: int = 0  # since start
    deferred_segments: int = 0  # spooled segments Elasticsearch asked to retry, waiting for another attempt
    dead_letter_dir: str | None = None

    @property
    def ready(self) -> bool:
        return (bool(self.reachable) or not self.dropping) and self.refused is None

    @property
    def reason(self) -> str | None:
        if self.refused is not None:
            return f"configuration problem: {self.refused}"
        if self.dropping and not self.reachable:
            return f"spool full or not writable, documents dropped: {self.last_error}"
        return None
