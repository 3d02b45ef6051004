"""The heartbeat thread's answers: alerts run only while the coordinator answers, and the member thread is
told to join again (keeping its shards on a rebalance, without them once it is out of the group)."""

import threading

import pytest

from exporter.coordination.group import CoordinatorUnavailable, NotAMember, RebalanceNeeded
from exporter.coordination.heartbeat import Heartbeats
from exporter.coordination.ownership import Ownership

SESSION_S = 10.0  # fence: alerts until 5 s after the last answered heartbeat was sent


class Group:
    """What the coordinator answers the next heartbeat with (None: answered)."""

    def __init__(self):
        self.answer = None
        self.sent = []

    def heartbeat(self, generation, member_id):
        self.sent.append((generation, member_id))
        if self.answer is not None:
            raise self.answer


@pytest.fixture
def beats(monkeypatch):
    clock = {"wall": 1000.0, "mono": 50.0}
    monkeypatch.setattr("exporter.coordination.heartbeat.time.time", lambda: clock["wall"])
    monkeypatch.setattr("exporter.coordination.heartbeat.time.monotonic", lambda: clock["mono"])
    ownership = Ownership(linger_s=10, clock=lambda: clock["wall"])
    ownership.set_count(1)
    ownership.assign([0])
    ownership.read_back(0)
    group, wake = Group(), threading.Event()
    made = Heartbeats(group, 1.0, SESSION_S, lambda sent: ownership.heartbeat(sent, SESSION_S / 2), wake)
    made.member_of(7, "m-1", clock["wall"])

    def beat(after_s=1.0, answer=None):
        clock["wall"] += after_s
        clock["mono"] += after_s
        group.answer = answer
        made._beat((7, "m-1"))

    return made, ownership, beat, wake, group


def test_answered_heartbeats_keep_alerts_on_and_nobody_is_told_to_rejoin(beats):
    made, ownership, beat, wake, group = beats
    for _ in range(20):
        beat()
    assert ownership.evaluates("prod", "billing") and made.rejoin() is None and not wake.is_set()
    assert group.sent == [(7, "m-1")] * 20 and made.age_s() == 0.0


def test_unanswered_heartbeats_hold_alerts_after_half_a_session_but_keep_reporting(beats):
    made, ownership, beat, wake, _ = beats
    beat()
    for _ in range(6):
        beat(answer=CoordinatorUnavailable("Heartbeat: KafkaTimeoutError"))
    assert not ownership.evaluates("prod", "billing") and ownership.reports("prod", "billing")
    assert made.rejoin() is None  # not yet a whole session without an answer


def test_a_whole_session_without_an_answer_means_out_of_the_group(beats):
    made, _, beat, wake, _ = beats
    beat()
    for _ in range(11):
        beat(answer=CoordinatorUnavailable("Heartbeat: NotCoordinatorError"))
    rejoin = made.rejoin()
    assert rejoin.lost and "no heartbeat answered for 11 s" in rejoin.reason and wake.is_set()


def test_a_rebalance_keeps_the_shards_and_the_alerts(beats):
    made, ownership, beat, wake, _ = beats
    beat(answer=RebalanceNeeded("Heartbeat: RebalanceInProgressError"))
    rejoin = made.rejoin()
    assert not rejoin.lost and rejoin.generation == 7 and wake.is_set()
    assert ownership.evaluates("prod", "billing")  # the answer said: still a member


def test_a_member_the_coordinator_does_not_know_loses_its_shards(beats):
    made, ownership, beat, wake, _ = beats
    beat(after_s=12.0, answer=NotAMember("Heartbeat: UnknownMemberIdError"))
    rejoin = made.rejoin()
    assert rejoin.lost and "UnknownMemberIdError" in rejoin.reason
    assert not ownership.evaluates("prod", "billing")  # frozen 12 s: the fence expired meanwhile


def test_after_a_freeze_alerts_resume_only_with_an_answer(beats):
    made, ownership, beat, _, _ = beats
    beat()
    beat(after_s=8.0, answer=CoordinatorUnavailable("Heartbeat: KafkaTimeoutError"))  # frozen 8 s
    assert not ownership.evaluates("prod", "billing")
    beat()
    assert ownership.evaluates("prod", "billing") and made.rejoin() is None


def test_a_late_answer_about_a_generation_already_left_is_ignored(beats):
    made, _, _, wake, group = beats
    made.joining()
    made.member_of(8, "m-1", 1000.0)
    group.answer = NotAMember("Heartbeat: IllegalGenerationError")
    made._beat((7, "m-1"))
    assert made.rejoin() is None and not wake.is_set()
