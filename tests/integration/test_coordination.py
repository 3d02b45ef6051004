"""Real lagwatch processes sharing the groups through a coordination group on the real broker.

Every group is scraped by exactly one process per slot in steady state; a SIGKILLed process's groups come
back within the session timeout and a slot; a fourth process takes a share without a gap or a duplicate;
an alert is notified once across the fleet, through a failover. Slot-by-slot tables are printed (-s).
"""

from __future__ import annotations

import time

import pytest
from kafka import TopicPartition

from exporter.kafka.selection import shard_of
from tests.coordination_fleet import (
    INTERVAL_S, SESSION_S, Fleet, by_slot, config, read_documents, skipped, slots_between, table,
)
from tests.harness import start_daemon, unique, wait_for, write_config
from tests.webhook_recorder import Recorder

pytestmark = pytest.mark.integration

SHARDS = 6
HEARTBEAT_S = SESSION_S / 10  # the default: a tenth of the session timeout


@pytest.fixture
def estate(kafka):
    topic = kafka.create_topic(unique("fleet"), partitions=2)
    kafka.produce(topic, {0: 20, 1: 20})
    tag = unique("fl")
    coordination = kafka.create_topic(unique("fl-coord"), partitions=SHARDS, configs={"cleanup.policy": "compact"})
    yield kafka, tag, topic, coordination
    try:
        kafka.admin.delete_groups([f"{tag}-coordination"])
    except Exception:  # noqa: BLE001 - already gone (an Empty group without offsets is removed)
        pass


def commit_all(kafka, topic, groups, offset):
    for group in groups:
        kafka.commit(group, {TopicPartition(topic, 0): offset, TopicPartition(topic, 1): offset})


def wait_scrapes(fleet: Fleet, count: int) -> None:
    """Every live process did `count` more scrapes."""
    live = fleet.alive()
    base = {n: len(fleet.daemons[n].events("scrape_done")) for n in live}
    wait_for(lambda: all(len(fleet.daemons[n].events("scrape_done")) >= base[n] + count for n in live),
             timeout=count * INTERVAL_S + 30, what=f"{count} more scrapes")


def groups_of(shards, groups) -> set[str]:
    return {g for g in groups if shard_of("fleet", g, SHARDS) in shards}


def cleanup(es, prefix):
    for index in es.indices.get(index=f"{prefix}-*"):
        es.indices.delete(index=index)


def test_replicas_report_every_group_exactly_once_through_a_kill_and_a_fourth_process(
    tmp_path, bootstrap, es_url, es, estate
):
    kafka, tag, topic, coordination = estate
    groups = {f"{tag}-{i}" for i in range(24)}
    commit_all(kafka, topic, groups, 5)
    prefix = unique("fleet")
    fleet = Fleet(tmp_path, config(bootstrap, es_url, prefix, tag, coordination))
    try:
        fleet.start("a", "b", "c")
        shares = fleet.wait_settled(SHARDS)
        settled = time.time()
        wait_scrapes(fleet, 5)
        victim = max(shares, key=lambda n: len(groups_of(shares[n], groups)))
        victim_groups = groups_of(shares[victim], groups)
        # Mid-slot, once the victim's last scrape has been delivered: what it lost is the handover's, not
        # documents still queued in the process at the instant it died.
        mid_slot = slots_between(time.time() + 0.5, time.time() + 0.5 + INTERVAL_S)[0] / 1000 + INTERVAL_S / 2
        wait_for(lambda: time.time() >= mid_slot, timeout=2 * INTERVAL_S, interval=0.05, what="mid-slot")
        killed = fleet.kill(victim)
        after_kill = fleet.wait_settled(SHARDS, timeout=SESSION_S + 30)
        reassigned = time.time()
        wait_scrapes(fleet, 4)
        added = time.time()
        fleet.start("d")
        after_add = fleet.wait_settled(SHARDS, also=lambda shares: bool(shares.get("d")))
        rebalanced = time.time()
        wait_scrapes(fleet, 5)
        left = time.time()
        leaver = max(after_add, key=lambda n: len(groups_of(after_add[n], groups)))
        fleet.daemons[leaver].signal(15)  # SIGTERM: leaves the group first, scraping on until the others have it
        left_code = fleet.daemons[leaver].wait_exit(timeout=30)
        fleet.wait_settled(SHARDS)
        wait_scrapes(fleet, 2)
        stopping = time.time()
        codes = {leaver: left_code, **fleet.stop()}
        admin_offsets = kafka.admin.list_group_offsets([f"{tag}-coordination"])
        members = {g: d["members"] for g, d in kafka.admin.describe_groups(sorted(groups)).items()}
    finally:
        fleet.close()
    docs = read_documents(es, prefix)
    cleanup(es, prefix)
    present, scraped = by_slot(docs)
    group_docs = [d for d in docs if d["lagwatch.doc_type"] == "group"]
    overrun = skipped(docs)

    def checked(slots):  # the slots no process said it skipped
        return [s for s in slots if s not in overrun]

    marks = {}
    for label, at in (("<- SIGKILL " + victim, killed), ("<- shards reassigned", reassigned),
                      ("<- d starts", added), ("<- d owns shards", rebalanced), ("<- SIGTERM " + leaver, left)):
        marks.setdefault(slots_between(at, at + INTERVAL_S)[0], label)
    print(f"\nshards before the kill {shares}, after {after_kill}, with d {after_add}")
    print(table(present, scraped, slots_between(settled, stopping), marks))
    print(f"slots a process skipped (previous scrape overran), left out of the checks: {len(overrun)}")

    assert codes == {n: 0 for n in codes}, codes
    # No duplicates: one group document per group and slot, whichever process wrote it.
    assert len(group_docs) == len({(d["kafka.consumergroup.id"], d["lagwatch.slot"]) for d in group_docs})
    # Steady state: every group in every slot, each scraped by exactly one of the three processes.
    steady = checked(slots_between(settled + INTERVAL_S, killed - INTERVAL_S))
    assert len(steady) >= 3
    for slot in steady:
        assert present[slot] == groups, slot
        assert len(scraped[slot]) == 3 and sum(scraped[slot].values()) == len(groups), (slot, scraped[slot])
    # The kill: the survivors' groups miss no slot; the victim's come back within the session timeout
    # plus one slot (and the heartbeat that tells the survivors to rebalance, plus 1 s for a busy machine).
    after = slots_between(killed, stopping)
    for slot in checked(after):
        assert groups - victim_groups <= present[slot], slot
    back = next(s for s in after if victim_groups <= present[s])
    missing = [s for s in after if s < back]
    assert all(not (victim_groups & present[s]) or victim_groups - present[s] for s in missing)
    takeover_s = back / 1000 - killed
    print(f"victim {victim}: {len(victim_groups)} groups, {len(missing)} slot(s) missing, "
          f"reported again {takeover_s:.1f} s after the kill (session {SESSION_S:g} s, interval {INTERVAL_S:g} s)")
    assert takeover_s <= SESSION_S + INTERVAL_S + HEARTBEAT_S + 1.0
    # A fourth process: shares move, no slot of any group is missing, and once the moved shards stopped
    # lingering (wait_settled saw none) each group is scraped exactly once again.
    for slot in checked(slots_between(back / 1000, stopping)):
        assert present[slot] == groups, slot
    exact = checked(slots_between(rebalanced + INTERVAL_S, left))
    assert exact, "the fourth left before the moved shards stopped lingering"
    for slot in exact:
        assert sum(scraped[slot].values()) == len(groups) and len(scraped[slot]) == 3, (slot, scraped[slot])
    # A process stopped with SIGTERM left the group first: its groups miss no slot (checked above, up to
    # `stopping`), and it exited 0 (codes).
    # The only group lagwatch joined is its own, and it never committed there; it joined no monitored group.
    assert admin_offsets == {f"{tag}-coordination": {}}
    assert not [d for d in group_docs if d["kafka.consumergroup.id"] == f"{tag}-coordination"]  # not reported
    assert all(m == [] for m in members.values())
    # The self documents say which shards each process owned.
    own = [d for d in docs if d["lagwatch.doc_type"] == "self" and d["lagwatch.slot"] in steady]
    assert {(d["lagwatch.self.instance"], tuple(d["lagwatch.self.shards"])) for d in own} == {
        (n, tuple(s)) for n, s in shares.items()
    }
    assert all(d["lagwatch.self.shards_total"] == SHARDS for d in own)


def test_an_alert_is_notified_once_across_the_fleet_and_a_failover_neither_repeats_nor_loses_it(
    tmp_path, bootstrap, es_url, es, estate
):
    kafka, tag, topic, coordination = estate
    hot = sorted(f"{tag}-hot-{i}" for i in range(6))
    commit_all(kafka, topic, hot, 0)  # lag 40 each, above the threshold
    commit_all(kafka, topic, {f"{tag}-calm-{i}" for i in range(6)}, 20)
    recorder = Recorder()
    prefix = unique("fleet-alerts")
    settings = config(bootstrap, es_url, prefix, tag, coordination, alerts={
        "rules": [{"name": "lag", "group_regex": f"{tag}-hot-.*", "warn": 10}],
        "notifiers": [{"name": "ops", "url": recorder.url, "timeout_s": 2, "retries": 1}],
    })
    fleet = Fleet(tmp_path, settings)

    def sent(kind: str, group: str) -> int:
        return sum(1 for b in recorder.bodies() if b["transition"] == kind and b["group"] == group)

    try:
        # One process fires every alert, then hands most shards over to two more (cooperative moves).
        fleet.start("a")
        wait_for(lambda: all(sent("fired", g) for g in hot), timeout=60, what="every hot group fired")
        fleet.start("b", "c")
        shares = fleet.wait_settled(SHARDS, also=lambda shares: all(shares.values()))
        wait_scrapes(fleet, 2)  # the new owners evaluate the firing alerts they took over
        assert {g: sent("fired", g) for g in hot} == {g: 1 for g in hot}
        target = hot[0]
        victim = next(n for n, s in shares.items() if shard_of("fleet", target, SHARDS) in s)
        fleet.kill(victim)
        fleet.wait_settled(SHARDS, timeout=SESSION_S + 30)
        wait_scrapes(fleet, 4)  # the new owner evaluates the still-firing alert several times
        assert {g: sent("fired", g) for g in hot} == {g: 1 for g in hot}
        commit_all(kafka, topic, [target], 20)  # caught up: the alert resolves
        wait_for(lambda: sent("resolved", target), timeout=30, what=f"{target} resolved")
        wait_scrapes(fleet, 3)
        codes = fleet.stop()
        logs = {n: fleet.daemons[n].events("notification_sent") for n in fleet.daemons}
    finally:
        fleet.close()
        recorder.close()
    cleanup(es, prefix)
    assert codes == {n: 0 for n in codes}
    assert {g: sent("fired", g) for g in hot} == {g: 1 for g in hot}  # once fleet-wide, through the failover
    assert sent("resolved", target) == 1 and sum(sent("resolved", g) for g in hot[1:]) == 0
    resolved_by = [n for n, events in logs.items() for e in events
                   if e.get("transition") == "resolved" and e["alert"].endswith(f"/{target}")]
    assert len(resolved_by) == 1 and resolved_by[0] != victim  # sent by the new owner
    handed = [e for n in ("b", "c") for e in fleet.daemons[n].events("coordination_state_read") if e["groups"]]
    assert handed  # the firing alerts' state was read back by the processes that took the shards over


def test_a_replica_frozen_past_the_session_timeout_says_it_was_out_of_the_group_and_joins_again(
    tmp_path, bootstrap, es_url, es, estate
):
    kafka, tag, topic, coordination = estate
    prefix = unique("fleet-frozen")
    fleet = Fleet(tmp_path, config(bootstrap, es_url, prefix, tag, coordination))
    try:
        fleet.start("a", "b")
        fleet.wait_settled(SHARDS, also=lambda shares: all(shares.values()))
        frozen = fleet.daemons["a"]
        frozen.signal(19)  # SIGSTOP: no heartbeat; the broker removes it and b takes every shard
        wait_for(lambda: fleet.coordination("b").get("owned") == list(range(SHARDS)), timeout=SESSION_S + 30,
                 what="b owns every shard")
        frozen.signal(18)  # SIGCONT: its first heartbeat is answered "unknown member"
        rejoined = frozen.wait_event("coordination_rejoining", timeout=30)[0]
        shares = fleet.wait_settled(SHARDS, also=lambda shares: all(shares.values()))
        codes = fleet.stop()
        lost = frozen.events("coordination_lost")
        assigned = frozen.events("coordination_assigned")
    finally:
        fleet.close()
    cleanup(es, prefix)
    assert codes == {"a": 0, "b": 0}
    assert rejoined["shards_lost"] is True
    assert "UnknownMemberIdError" in rejoined["reason"] or "IllegalGenerationError" in rejoined["reason"] \
        or "no heartbeat answered" in rejoined["reason"], rejoined
    assert lost and lost[0]["records_written"] == 0  # dropped unwritten: b had them by then
    assert len(assigned) >= 2 and shares["a"] and shares["b"]  # shards again after the rejoin


def run_until_exit(tmp_path, settings: dict, timeout=60):
    daemon = start_daemon(tmp_path / "lagwatch.yaml", settings, env={"LAGWATCH_STATE_DIR": str(tmp_path / "state")})
    try:
        code = daemon.wait_exit(timeout=timeout)
    finally:
        daemon.kill()
    return code, "\n".join(daemon.lines)


def test_a_missing_topic_is_a_start_up_error_naming_the_command_and_nothing_is_created(
    tmp_path, bootstrap, es_url, kafka
):
    missing, tag = unique("fl-missing"), unique("fl")
    code, output = run_until_exit(tmp_path, config(bootstrap, es_url, unique("x"), tag, missing))
    assert code == 2
    assert f"kafka-topics.sh --bootstrap-server {bootstrap} --create --topic {missing} --partitions 12" in output
    assert "cleanup.policy=compact" in output and "create_topic: true" in output and "Traceback" not in output
    assert missing not in kafka.admin.list_topics()


def test_a_topic_that_is_not_compacted_is_refused_with_the_fix(tmp_path, bootstrap, es_url, kafka):
    plain, tag = kafka.create_topic(unique("fl-plain"), partitions=3), unique("fl")
    code, output = run_until_exit(tmp_path, config(bootstrap, es_url, unique("x"), tag, plain))
    assert code == 2 and "cleanup.policy=delete" in output
    assert f"kafka-configs.sh --bootstrap-server {bootstrap} --alter --entity-type topics --entity-name {plain}" in output


def test_with_create_topic_lagwatch_creates_a_compacted_topic_on_the_coordination_cluster(
    tmp_path, bootstrap, es_url, es, kafka
):
    from kafka.admin import ConfigResource, ConfigResourceType

    name, tag, prefix = unique("fl-created"), unique("fl"), unique("x")
    settings = config(bootstrap, es_url, prefix, tag, name)
    settings["coordination"].update(create_topic=True, partitions=3)
    fleet = Fleet(tmp_path, settings)
    try:
        fleet.start("solo")
        assert fleet.wait_settled(3) == {"solo": [0, 1, 2]}
        # SIGHUP: new alert settings apply; a changed coordination section waits for a restart.
        settings["alerts"] = {"repeat_s": 60}
        settings["coordination"]["session_timeout_s"] = 12
        write_config(fleet.path, settings)
        solo = fleet.daemons["solo"]
        solo.signal(1)
        solo.wait_event("config_reloaded")
        assert [e["section"] for e in solo.events("config_reload_partial")] == ["coordination"]
        scrapes = len(solo.events("scrape_done"))
        wait_for(lambda: len(solo.events("scrape_done")) >= scrapes + 2, timeout=20, what="scrapes after the reload")
        assert fleet.wait_settled(3) == {"solo": [0, 1, 2]}
        codes = fleet.stop()
    finally:
        fleet.close()
    cleanup(es, prefix)
    assert codes == {"solo": 0}
    [described] = kafka.admin.describe_topics([name])
    configs = kafka.admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, {"cleanup.policy": None})], config_filter="all"
    )
    assert len(described["partitions"]) == 3
    assert configs["topic"][name]["cleanup.policy"]["value"] == "compact"
