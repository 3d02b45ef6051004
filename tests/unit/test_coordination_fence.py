"""A member cut off from the group coordinator (or frozen) stops notifying before another can take over."""

import pytest

from exporter import config
from exporter.coordination.member import Member
from exporter.coordination.ownership import Ownership
from exporter.coordination.store import ShardStateStore


class Consumer:
    """kafka-python's KafkaConsumer.metrics(), as far as the fence reads it."""

    def __init__(self):
        self.ago = 0.2

    def metrics(self):
        return {"consumer-coordinator-metrics": {"last-heartbeat-seconds-ago": self.ago}}


@pytest.fixture
def member(monkeypatch):
    settings = config.CoordinationConfig(cluster="prod", session_timeout_s=10)  # fence 5 s, heartbeat 1 s
    clock = {"wall": 1000.0, "mono": 50.0}
    monkeypatch.setattr("exporter.coordination.member.time.time", lambda: clock["wall"])
    monkeypatch.setattr("exporter.coordination.member.time.monotonic", lambda: clock["mono"])
    ownership = Ownership(linger_s=10, clock=lambda: clock["wall"])
    ownership.set_count(1)
    ownership.assign([0])
    ownership.read_back(0)
    made = Member(settings, None, ownership, ShardStateStore("t", ownership), dict)

    def advance(seconds, ago=None):
        clock["wall"] += seconds
        clock["mono"] += seconds
        consumer.ago = ago if ago is not None else consumer.ago
        made._heartbeat(consumer)

    consumer = Consumer()
    return made, ownership, advance


def test_recent_heartbeats_keep_alerts_on(member):
    made, ownership, advance = member
    for _ in range(20):
        advance(0.2, ago=0.3)
    assert ownership.evaluates("prod", "billing") and made.status.heartbeat_age_s == 0.3


def test_no_heartbeat_for_half_the_session_timeout_holds_alerts_but_not_reports(member):
    made, ownership, advance = member
    advance(0.2, ago=0.3)
    for step in range(1, 30):  # the coordinator went away: the last heartbeat gets older
        advance(0.2, ago=0.3 + 0.2 * step)
    assert not ownership.evaluates("prod", "billing") and ownership.reports("prod", "billing")
    assert not ownership.alive()


def test_after_a_freeze_alerts_wait_two_heartbeats_for_an_eviction_to_show(member):
    made, ownership, advance = member
    advance(0.2, ago=0.3)
    advance(12.0, ago=0.1)  # frozen 12 s; on waking, the IO thread has just sent a heartbeat
    assert not ownership.evaluates("prod", "billing")  # the broker may have evicted us: wait for its answer
    advance(1.0, ago=0.2)
    assert not ownership.evaluates("prod", "billing")
    advance(1.1, ago=0.3)
    assert ownership.evaluates("prod", "billing")  # not evicted (no on_partitions_lost): alerts resume


def test_without_the_metric_there_is_no_fence(member):
    made, ownership, advance = member

    class Bare:
        def metrics(self):
            return {}

    made._heartbeat(Bare())
    assert ownership.evaluates("prod", "billing")
