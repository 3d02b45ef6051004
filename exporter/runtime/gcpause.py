"""Pause Python's cyclic garbage collector while a scrape cycle runs.

One scrape of a large estate allocates hundreds of thousands of small objects (protocol rows, dataclasses,
documents) that hold no reference cycles and die together at the end of the cycle. With the collector on,
those allocations trigger hundreds of collections that walk the same live objects again and again: a
quarter to a third of a scrape's CPU time on 65,000 groups (bench/RESULTS.md). Reference counting still
frees everything as usual; only cycle detection waits until the cycle is over.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    """Nested and concurrent uses (one pipeline per cluster, in threads) re-enable it after the last."""
    global _depth, _was_enabled
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
            if _depth == 0 and _was_enabled:
                gc.enable()
