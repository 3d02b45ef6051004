"""Pause Python's cyclic garbage collector while a scrape cycle runs.

One scrape of a large estate allocates hundreds of thousands of small objects (protocol rows, dataclasses,
documents) that hold no reference cycles and die together at the end of the cycle. With the collector on,
those allocations trigger hundreds of collections that walk the same live objects again and again (a large
share of a big scrape's CPU time: see bench/RESULTS.md and the history of this file). Reference counting still
frees everything as usual; only cycle detection waits until the cycle is over.

What a cycle leaves alive (the report, the snapshot: hundreds of thousands of objects) is then frozen
(gc.freeze): the collections between cycles do not walk it again, which cost a scan of every one of those
objects after each cycle. Every FULL_COLLECTION_EVERY cycles, the frozen objects are unfrozen and fully
collected first, so garbage among them (reference cycles, rare here) is freed within that many cycles: one
full collection instead of a scan per cycle.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False
_cycles = 0
FULL_COLLECTION_EVERY = 10


@contextmanager
def paused() -> Iterator[None]:
    """Nested and concurrent uses (one pipeline per cluster, in threads) re-enable it after the last."""
    global _depth, _was_enabled, _cycles
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _cycles += 1
                if _cycles % FULL_COLLECTION_EVERY == 0:
                    gc.unfreeze()
                    gc.collect()
                gc.freeze()
                if _was_enabled:
                    gc.enable()
