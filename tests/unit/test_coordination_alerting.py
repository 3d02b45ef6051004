"""One notification per transition across replicas: rules run only for owned shards, state moves with them."""

from __future__ import annotations

import threading

from exporter.lag import report as lag
from exporter.alerts.engine import Alerting
from exporter.alerts.notifiers import NotifyFailed
from exporter.coordination.alerting import ShardAlerting
from exporter.coordination.ownership import Ownership
from exporter.evaluator.rules import ThresholdRule
from exporter.evaluator.status import StatusConfig
from exporter.lag.model import ClusterSnapshot, GroupObservation, PartitionOffsets, TopicInfo


class Notifier:
    """Records what it is asked to send (a real webhook endpoint is in the integration tests)."""

    name = "ops"

    def __init__(self, down: bool = False):
        self.sent = []
        self.down = down
        self.gate = threading.Event()
        self.gate.set()
        self.sending = threading.Event()  # a send has started (is in flight)

    def send(self, transition):
        self.sending.set()
        self.gate.wait(5)
        if self.down:
            raise NotifyFailed("ops: connection refused")
        self.sent.append((transition.kind, transition.evaluation.group))


def report(at: float, committed: dict[str, int], duration_s: float = 0.5):
    snap = ClusterSnapshot(
        cluster="prod", taken_at=at, topics={"orders": TopicInfo("orders", 1)},
        partitions={("orders", 0): PartitionOffsets("orders", 0, 100, log_start_offset=0, leader=1)},
        groups=tuple(GroupObservation(g, "Empty", committed={("orders", 0): c}) for g, c in committed.items()),
        duration_s=duration_s,
    )
    return lag.build_report(snap, None, lag.update_histories({}, snap, None), records_per_message=lambda t: 1)


def scrape(alerting, rep) -> None:
    """What the pipeline does with each report: statuses once, then the rules on both."""
    alerting.alert(rep, alerting.evaluate(rep))


def owner_of(count=2):
    now = [1000.0]
    owner = Ownership(linger_s=30.0, clock=lambda: now[0])
    owner.set_count(count)
    return owner, now


def shard_alerting(owner, notifier, **kw) -> ShardAlerting:
    return ShardAlerting(
        "prod", ownership=owner, status_config=StatusConfig(window=3, stop_after_s=600),
        threshold_rules=[ThresholdRule("lag", warn=10)], notifiers=[notifier], **kw,
    )


def test_rules_run_only_for_groups_of_shards_this_process_evaluates():
    owner, now = owner_of()
    mine, theirs = "g-1", "g-0"  # g-1 in shard 1, g-0 in shard 0 of 2
    assert (owner.shard("prod", mine), owner.shard("prod", theirs)) == (1, 0)
    owner.assign([0, 1])
    owner.read_back(1)  # shard 0 is still being read back
    notifier = Notifier()
    alerting = shard_alerting(owner, notifier)
    now[0] = 1001.0
    scrape(alerting, report(1002.0, {mine: 5, theirs: 5}))  # both lag 95
    assert notifier.sent == [("fired", mine)]
    assert set(a.evaluation.group for a in alerting.alerts.values()) == {mine}


def test_a_held_alert_is_neither_resolved_nor_reminded_when_its_group_is_not_in_scope():
    owner, now = owner_of()
    owner.assign([1])
    owner.read_back(1)
    notifier = Notifier()
    alerting = shard_alerting(owner, notifier, repeat_s=1.0)
    scrape(alerting, report(1001.0, {"g-1": 5}))
    assert notifier.sent == [("fired", "g-1")]
    owner.release([1])  # revoked: another process evaluates g-1 from now on
    scrape(alerting, report(1100.0, {}))  # gone from this process's scrape and a reminder due: neither
    scrape(alerting, report(1200.0, {"g-1": 100}))  # caught up: the other owner resolves it, not this one
    assert notifier.sent == [("fired", "g-1")]


def test_a_group_adopted_while_a_scrape_ran_is_not_resolved_for_being_absent_from_that_scrape():
    owner, now = owner_of()
    fired_elsewhere = Alerting("prod", threshold_rules=[ThresholdRule("lag", warn=10)])  # the previous owner
    scrape(fired_elsewhere, report(900.0, {"g-1": 5}))
    state = {"alerts": {k: a.to_json() for k, a in fired_elsewhere.alerts.items()}, "stuck": [], "outbox": []}

    notifier = Notifier()
    alerting = shard_alerting(owner, notifier)
    owner.assign([1])
    now[0] = 1000.0
    alerting.adopt(state)
    owner.read_back(1)
    # This scrape began at 999.5, before the shard was read back: its selection had not covered g-1 yet.
    scrape(alerting, report(1000.2, {}, duration_s=0.7))
    assert notifier.sent == [] and len(alerting.alerts) == 1
    scrape(alerting, report(1010.0, {"g-1": 5}))  # still above: continues, no second `fired`
    assert notifier.sent == []
    scrape(alerting, report(1020.0, {"g-1": 100}))  # caught up: this process sends the `resolved`
    assert notifier.sent == [("resolved", "g-1")]


def test_adopted_undelivered_transitions_are_sent_once_and_adopting_twice_changes_nothing():
    owner, now = owner_of()
    owner.assign([1])
    owner.read_back(1)
    previous = shard_alerting(owner, Notifier(down=True))
    scrape(previous, report(1001.0, {"g-1": 5}))
    leftover = previous.release(lambda g: True, wait_s=0)
    assert [e["transition"]["kind"] for e in leftover["outbox"]] == ["fired"]  # the webhook was down
    notifier = Notifier()
    alerting = shard_alerting(owner, notifier)
    alerting.adopt(leftover)
    alerting.adopt(leftover)
    alerting.send_outbox()
    alerting.send_outbox()
    assert notifier.sent == [("fired", "g-1")]


def test_release_takes_out_the_groups_state_and_the_stop_clock_moves_with_it():
    owner, now = owner_of()
    owner.assign([0, 1])
    owner.read_back(0)
    owner.read_back(1)
    alerting = shard_alerting(owner, Notifier())
    scrape(alerting, report(1001.0, {"g-1": 5, "g-2": 5}))
    section = alerting.release(lambda g: g == "g-1", wait_s=0)
    assert {a["evaluation"]["group"] for a in section["alerts"].values()} == {"g-1"}
    assert section["stuck"] == [["g-1", "orders", 0, 5, 1001.0]]
    assert {a.evaluation.group for a in alerting.alerts.values()} == {"g-2"}
    other = shard_alerting(owner, Notifier())
    other.adopt(section)
    assert other.windows[("g-1", "orders", 0)].stuck_since == 1001.0


def test_release_waits_for_a_notification_in_flight_before_taking_the_state_out():
    owner, now = owner_of()
    owner.assign([1])
    owner.read_back(1)
    notifier = Notifier()
    notifier.gate.clear()  # the webhook hangs
    alerting = shard_alerting(owner, notifier, background=True)
    scrape(alerting, report(1001.0, {"g-1": 5}))
    # The sender thread must really be in the send when the shard is released (else nothing is in flight).
    assert notifier.sending.wait(5)
    threading.Timer(0.3, notifier.gate.set).start()  # ... and answers 0.3 s later
    owner.release([1])
    section = alerting.release(lambda g: True, wait_s=3.0)
    assert notifier.sent == [("fired", "g-1")]
    assert section["outbox"] == []  # delivered here: the next owner must not send it again


def test_without_a_scope_alerting_is_unchanged():
    notifier = Notifier()
    alerting = Alerting("prod", threshold_rules=[ThresholdRule("lag", warn=10)], notifiers=[notifier])
    scrape(alerting, report(1001.0, {"g-1": 5}))
    scrape(alerting, report(1002.0, {}))
    assert notifier.sent == [("fired", "g-1"), ("resolved", "g-1")]


class SlowIndex:
    """The alerts index answering only once `gate` opens (an index created on first use takes seconds)."""

    def __init__(self):
        self.gate = threading.Event()
        self.started = threading.Event()

    def deliver(self, docs):
        from exporter.sinks.elasticsearch import DeliveryResult

        self.started.set()
        self.gate.wait(5)
        return DeliveryResult(indexed=len(docs))


def test_a_transition_handed_over_while_its_round_was_indexing_is_sent_by_the_next_owner_only():
    owner, now = owner_of()
    owner.assign([1])
    owner.read_back(1)
    notifier, index = Notifier(), SlowIndex()
    alerting = shard_alerting(owner, notifier, sink=index, background=True)
    scrape(alerting, report(1001.0, {"g-1": 5}))
    assert index.started.wait(5)  # the sender's round is writing to the index: the webhook comes next
    owner.release([1])
    section = alerting.release(lambda g: True, wait_s=0.1)
    index.gate.set()
    assert alerting.flush(5)
    assert notifier.sent == []  # not sent here ...
    assert [e["target"] for e in section["outbox"]] == ["index", "ops"]  # ... but handed over, to be sent once


def test_a_stop_clock_read_back_during_a_scrape_that_did_not_select_its_group_survives_that_scrape():
    owner, now = owner_of()
    alerting = shard_alerting(owner, Notifier())
    owner.assign([1])
    now[0] = 1000.0
    alerting.adopt({"alerts": {}, "stuck": [["g-1", "orders", 0, 5, 400.0]], "outbox": []})
    owner.read_back(1)
    alerting.evaluate(report(1000.2, {}, duration_s=0.7))  # began at 999.5: g-1 not selected yet
    alerting.evaluate(report(1010.0, {"g-1": 5}))  # the next one has it: stuck at offset 5 since 400
    assert alerting.windows[("g-1", "orders", 0)].stuck_since == 400.0
