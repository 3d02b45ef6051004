"""What a sink is: the one interface the pipeline, the delivery queue and the spool deliver through.

A sink takes encoded batches (exporter/output/batch.py: one `_bulk` body each) and says what became of every
document in them (DeliveryResult). Elasticsearch (exporter/sinks/elasticsearch.py) is one; the wrappers around
it, the spool (spool.py) and the delivery queue (queue.py), are sinks too, so each can stand where another did.
A sink that keeps no ledger answers None to `health()` and `counts()`; the wrappers answer for what they wrap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from exporter.output.batch import Batch
from exporter.sinks.ledger import SinkCounts, SinkHealth


class SinkUnavailable(Exception):
    """The store could not be reached, is overloaded (429) or failing (5xx): try again later."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status when the store answered (429, 5xx); None when unreachable


class SinkRefused(Exception):
    """The store answered and refuses the request itself (4xx other than 429: credentials, privileges, a
    malformed request, a conflicting index template, a server of the other product). Sending it again will not
    help: a configuration problem for the operator, reported as such instead of being retried like an outage."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class DeliveryResult:
    """What became of a batch's documents."""

    indexed: int = 0
    duplicates: int = 0  # already present (data streams answer 409 for a repeated _id)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (_id, reason): permanent, not retried
    retry: Batch | None = None  # the documents to send again later (429 or 5xx items)
    spooled: int = 0  # kept on disk for a later replay (exporter/sinks/spool.py)
    dropped: int = 0  # lost: the spool could not keep them (its cap, a full disk); counted and logged
    retry_reason: str | None = None  # why the store asked to retry (the first such item's error)
    queued: int = 0  # handed to the delivery worker (exporter/sinks/queue.py), outcome logged there
    error: str | None = None  # why nothing was indexed, when a wrapper absorbed the failure

    @property
    def retried(self) -> int:
        return self.retry.documents if self.retry is not None else 0


class Sink(Protocol):
    """Where batches go. `deliver` may raise SinkUnavailable or SinkRefused; the wrappers absorb them."""

    @property
    def name(self) -> str:
        """What dashboards and searches read (an alias or a data stream)."""

    def setup(self) -> str:
        """Install what the store needs (index templates); returns the storage mode in use."""

    def deliver(self, batch: Batch) -> DeliveryResult: ...

    def prune(self) -> list[str]:
        """Delete what is past retention; returns what was deleted."""

    def health(self) -> SinkHealth | None: ...

    def counts(self) -> SinkCounts | None: ...

    @property
    def retention_refused(self) -> str | None:
        """Why retention cannot delete old indices (the store refuses it), while that lasts; None otherwise."""
