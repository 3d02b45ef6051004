"""Which shards a coordinated process reports and evaluates: assigned, lingering after a revoke, read back."""

import pytest

from exporter.kafka.selection import shard_of
from exporter.coordination import ownership as o
from exporter.coordination.ownership import Ownership, Shares


def shares(**kw) -> Shares:
    return Shares(count=4, linger_s=10.0, **kw)


def test_an_assigned_shard_is_reported_at_once_but_evaluated_only_after_its_state_is_read_back():
    s = o.assign(shares(), [1, 2], now=100.0)
    assert o.reports(s, 1, 100.0) and o.reports(s, 2, 100.0) and not o.reports(s, 0, 100.0)
    assert not o.evaluates(s, 1, None)
    s = o.read_back(s, 1, now=101.0)
    assert o.evaluates(s, 1, None) and not o.evaluates(s, 2, None)


@pytest.mark.parametrize(
    "since, evaluated",
    [(100.5, False), (101.0, True), (150.0, True), (None, True)],
    ids=["scrape began before the read-back", "at it", "after it", "now"],
)
def test_evaluating_since_a_time_needs_the_state_read_back_by_then(since, evaluated):
    s = o.read_back(o.assign(shares(), [3], 100.0), 3, 101.0)
    assert o.evaluates(s, 3, since) is evaluated


@pytest.mark.parametrize(
    "at, reported", [(200.0, True), (209.9, True), (210.0, False), (500.0, False)],
    ids=["at the revoke", "within linger_s", "linger_s later", "long after"],
)
def test_a_revoked_shard_is_still_reported_for_linger_s_but_never_evaluated(at, reported):
    s = o.read_back(o.assign(shares(), [0], 100.0), 0, 100.0)
    s = o.release(s, [0], now=200.0)
    assert o.reports(s, 0, at) is reported
    assert not o.evaluates(s, 0, None) and o.owned(s) == ()


def test_a_shard_assigned_again_is_owned_again_and_its_state_must_be_read_again():
    s = o.read_back(o.assign(shares(), [0], 100.0), 0, 100.0)
    s = o.assign(o.release(s, [0], 200.0), [0], 201.0)
    assert o.owned(s) == (0,) and o.lingering(s, 201.0) == () and not o.evaluates(s, 0, None)


def test_partitions_beyond_the_shard_count_own_nothing():
    s = o.assign(shares(), [2, 7], 100.0)  # the topic grew to 8 partitions after start-up: 7 is no shard
    assert o.owned(s) == (2,)


def test_nothing_is_owned_before_the_shard_count_is_known():
    owner = Ownership(linger_s=10.0, clock=lambda: 100.0)
    owner.assign([0])
    assert not owner.reports("prod", "billing") and owner.shard("prod", "billing") is None


def test_a_group_belongs_to_the_shard_static_sharding_computes():
    now = [100.0]
    owner = Ownership(linger_s=10.0, clock=lambda: now[0])
    owner.set_count(6)
    groups = [f"g-{i}" for i in range(60)]
    owner.assign(range(6))
    owner.release([0, 1, 2, 3])
    assert all(owner.reports("prod", g) for g in groups)  # the revoked shards linger
    now[0] = 1000.0
    mine = {g for g in groups if owner.reports("prod", g)}
    assert mine == {g for g in groups if shard_of("prod", g, 6) in (4, 5)}
    assert mine and mine != set(groups)
