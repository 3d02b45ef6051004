"""The garbage collector around a scrape cycle: off during it, what it leaves alive frozen after it, and
garbage cycles still collected."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from exporter.runtime import gcpause


@pytest.fixture(autouse=True)
def collector_restored():
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


class Node:
    pass


def test_collection_is_off_during_a_cycle_and_back_on_after():
    gc.enable()
    with gcpause.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_what_a_cycle_leaves_alive_is_frozen_so_collections_between_cycles_skip_it():
    gc.enable()
    gc.unfreeze()
    with gcpause.paused():
        kept = [Node() for _ in range(1000)]
    assert gc.get_freeze_count() >= len(kept)


def test_a_reference_cycle_dropped_after_a_cycle_is_collected_within_full_collection_every_cycles():
    gc.disable()  # only the pause's own full collections may free it
    with gcpause.paused():
        a, b = Node(), Node()
        a.other, b.other = b, a  # a reference cycle: only the collector frees it
        gone = weakref.ref(a)
    del a, b
    for _ in range(gcpause.FULL_COLLECTION_EVERY):
        with gcpause.paused():
            pass
    assert gone() is None


def test_nested_and_concurrent_cycles_switch_it_back_on_after_the_last():
    gc.enable()
    inside = threading.Event()
    leave = threading.Event()

    def other_cluster():
        with gcpause.paused():
            inside.set()
            leave.wait(5)

    worker = threading.Thread(target=other_cluster)
    worker.start()
    inside.wait(5)
    with gcpause.paused():
        pass
    assert not gc.isenabled()  # the other cluster's cycle still runs
    leave.set()
    worker.join(5)
    assert gc.isenabled()
