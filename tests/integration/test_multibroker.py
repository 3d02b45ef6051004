"""A real 3-broker cluster while brokers die, freeze, rejoin and are added: lagwatch stays exact and honest.

One `lagwatch run` process scrapes every 2 s for the whole module, the faults come one after another. The
estate is frozen while faults happen (nothing produced, nothing committed), so the truth is known and
constant: every document and every /metrics value must either equal it or say it is partial (never a
smaller number), and no group may disappear from any slot.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import defaultdict

import pytest
from kafka import TopicPartition

from exporter.kibana import rule as kibana_rule
from exporter.runtime import wiring as app
from exporter.config import load as load_config
from devstack.common import free_port
from tests.harness import (
    KafkaDriver, RunningDaemon, consumer_group_command, daemon_config, unique, wait_for, write_config,
)

pytestmark = pytest.mark.integration

INTERVAL_S = 2.0
REQUEST_TIMEOUT_S = 1.0
GROUPS = 15
RULE_TIME_LAG_S = 1  # the estate's records are seconds old; the rule's query is the same at any threshold
PARTITIONS = 6


class Estate:
    def __init__(self, cluster, es_url: str, tmp):
        self.cluster = cluster
        self.driver = KafkaDriver(cluster.bootstrap)
        self.prefix = unique("lwmb")
        self.topics = [self.driver.create_topic(unique(f"mb-{n}"), PARTITIONS, replication=3) for n in "ab"]
        self.log_end = {(t, p): 20 + p for t in self.topics for p in range(PARTITIONS)}
        for topic in self.topics:
            self.driver.produce(topic, {p: 20 + p for p in range(PARTITIONS)})
        self.truth: dict[str, int] = {}
        self.groups = [unique(f"mb-g{i}") for i in range(GROUPS)]
        for i, group in enumerate(self.groups):
            topic = self.topics[i % 2]
            offsets = {TopicPartition(topic, p): (i + 3 * p) % (20 + p) for p in range(PARTITIONS)}
            self.driver.commit(group, offsets)
            self.truth[group] = sum(self.log_end[(topic, tp.partition)] - o for tp, o in offsets.items())
        self.http_port = free_port()
        self.config_path = write_config(tmp / "lagwatch.yaml", daemon_config(
            "mb", [b.bootstrap for b in cluster.brokers.values()], es_url, self.prefix,
            request_timeout_s=REQUEST_TIMEOUT_S,
            groups={"allow": ["|".join(self.groups)]},
            scrape={"interval_s": INTERVAL_S, "granularity": "partition"},
            spool={"dir": str(tmp / "spool")},
            http={"enabled": True, "host": "127.0.0.1", "port": self.http_port},
            time_lag={"broker_probes": False},
        ))

    def roles(self) -> tuple[list[int], list[int]]:
        """(leader of each partition, coordinator of each group), as the cluster says now."""
        config = load_config(str(self.config_path), {})
        collector = app.collector(config, config.clusters[0])
        try:
            snapshot = collector.collect()
        finally:
            collector.close()
        return [o.leader for o in snapshot.partitions.values()], [g.coordinator for g in snapshot.groups]

    def assert_spread(self) -> None:
        """Leaders and group coordinators on every broker: a test that silently ran on one broker would
        prove nothing about the others dying."""
        leaders, coordinators = self.roles()
        brokers = set(self.cluster.brokers)
        assert set(leaders) == brokers, f"partition leaders only on {set(leaders)}"
        assert set(coordinators) == brokers, f"group coordinators only on {set(coordinators)}"

    def busiest_broker(self) -> int:
        """The broker that leads the most partitions and coordinates the most groups right now."""
        leaders, coordinators = self.roles()
        return max(self.cluster.brokers, key=lambda b: (leaders + coordinators).count(b))

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=5) as response:
            return response.read().decode()


class MetricsWatch:
    """Reads /metrics twice a second in the background; records every group lag value it saw."""

    def __init__(self, estate: Estate):
        self.estate, self.seen, self.partial_seen = estate, defaultdict(list), 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            try:
                text = self.estate.metrics()
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("lagwatch_group_lag{"):
                    group = line.split('group="', 1)[1].split('"', 1)[0]
                    self.seen[group].append(float(line.rsplit(" ", 1)[1]))
                elif line.startswith("lagwatch_group_lag_partial{") and line.endswith(" 1.0"):
                    self.partial_seen += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def wrong_values(self) -> dict[str, set[float]]:
        return {g: {v for v in vs if v != self.estate.truth[g]} for g, vs in self.seen.items()
                if any(v != self.estate.truth[g] for v in vs)}


@pytest.fixture(scope="module")
def estate(kafka_cluster, es_url, tmp_path_factory):
    estate = Estate(kafka_cluster, es_url, tmp_path_factory.mktemp("multibroker"))
    estate.assert_spread()
    yield estate
    estate.driver.close()


@pytest.fixture(scope="module")
def daemon(estate):
    running = RunningDaemon(str(estate.config_path))
    try:
        running.wait_event("scrape_done", count=2, timeout=60)
        yield running
        running.signal(15)
        assert running.wait_exit(timeout=20) == 0
    finally:
        running.kill()


def slot_docs(es, estate: Estate, doc_type: str, since_ms: int) -> dict[int, list[dict]]:
    index = f"{estate.prefix}-lag"
    es.indices.refresh(index=index)
    hits = es.search(
        index=index, size=10_000,
        query={"bool": {"filter": [{"term": {"lagwatch.doc_type": doc_type}},
                                   {"range": {"lagwatch.slot": {"gte": since_ms}}}]}},
    )["hits"]["hits"]
    by_slot: dict[int, list[dict]] = defaultdict(list)
    for hit in hits:
        by_slot[hit["_source"]["lagwatch.slot"]].append(hit["_source"])
    return dict(sorted(by_slot.items()))


def check_honest(es, estate: Estate, since_ms: int) -> list[tuple[int, int, int]]:
    """Every scraped slot since `since_ms` reports every group, each lag equal to the truth or null and marked
    partial. Returns (slot, partial groups, scrape ms) per slot."""
    groups = slot_docs(es, estate, "group", since_ms)
    selfs = {s: d[0] for s, d in slot_docs(es, estate, "self", since_ms).items()}
    summary = []
    for slot, docs in groups.items():
        reported = {d["kafka.consumergroup.id"]: d for d in docs}
        assert set(reported) == set(estate.groups), f"slot {slot}: groups missing {set(estate.groups) - set(reported)}"
        partial = 0
        for group, doc in reported.items():
            value = doc["lagwatch.lag.messages"]
            if value is None:
                assert doc["lagwatch.lag.partial"] is True, doc
                assert doc["lagwatch.lag.messages_known"] <= estate.truth[group]
                partial += 1
            else:
                assert value == estate.truth[group], f"slot {slot} {group}: {value} != {estate.truth[group]}"
                assert doc["lagwatch.lag.partial"] is False
        summary.append((slot, partial, round(selfs[slot]["lagwatch.self.duration_ms"]) if slot in selfs else -1))
    partitions = slot_docs(es, estate, "partition", since_ms)
    for slot, docs in partitions.items():
        for doc in docs:
            truth = estate.log_end[(doc["kafka.topic.name"], doc["kafka.partition.id"])] - doc["kafka.consumergroup.offset"] \
                if doc["kafka.consumergroup.offset"] is not None else None
            if doc["lagwatch.lag.messages"] is None:
                assert doc["lagwatch.lag.partial"] is True or doc["kafka.consumergroup.offset"] is None, doc
            else:
                assert doc["lagwatch.lag.messages"] == truth, doc
    return summary


def slots_until_whole(summary: list[tuple[int, int, int]], after_ms: float) -> int | None:
    """How many slots after `after_ms` (epoch ms) until the first one with no partial group."""
    later = [s for s in summary if s[0] >= after_ms]
    for index, (_, partial, _) in enumerate(later):
        if partial == 0:
            return index
    return None


def now_ms() -> int:
    return int(time.time() * 1000)


def wait_slots(daemon: RunningDaemon, count: int) -> None:
    done = len(daemon.events("scrape_done"))
    daemon.wait_event("scrape_done", count=done + count, timeout=count * INTERVAL_S * 4 + 20)


def assert_rows_match_kafka_tool(estate: Estate, daemon: RunningDaemon, es) -> None:
    """The latest slot's partition documents equal Kafka's own ConsumerGroupCommand, row by row."""
    wait_slots(daemon, 2)  # the second one's documents are delivered by now
    bootstrap = ",".join(b.bootstrap for b in estate.cluster.brokers.values() if b.running)
    kafka_rows = {k: v for k, v in consumer_group_command(bootstrap).items() if k[0] in estate.truth}
    slots = slot_docs(es, estate, "partition", now_ms() - 20_000)
    latest_slot, docs = [(s, d) for s, d in slots.items() if len(d) == GROUPS * PARTITIONS][-1]
    ours = {(d["kafka.consumergroup.id"], d["kafka.topic.name"], d["kafka.partition.id"]):
            (d["kafka.consumergroup.offset"], d["kafka.partition.offset.newest"], d["lagwatch.lag.messages"])
            for d in docs}
    theirs = {k: (v["committed"], v["log_end"], v["lag"]) for k, v in kafka_rows.items()}
    assert len(theirs) == GROUPS * PARTITIONS
    assert ours == theirs
    check_honest(es, estate, latest_slot)


def test_a_healthy_cluster_is_exact_row_by_row(estate, daemon, es):
    assert_rows_match_kafka_tool(estate, daemon, es)
    assert not daemon.events("scrape_failed")


def test_a_killed_broker_hides_nothing_and_its_rejoin_costs_at_most_one_scrape(estate, daemon, es):
    victim = estate.busiest_broker()
    watch = MetricsWatch(estate)
    since = now_ms()
    estate.cluster.kill(victim)
    wait_for(lambda: victim not in estate.cluster.live_broker_ids(), timeout=60, what=f"broker {victim} fenced")
    fenced = now_ms()
    wait_slots(daemon, 4)
    failed_before = len(daemon.events("scrape_failed"))
    estate.cluster.restart(victim)
    rejoined = now_ms()
    wait_slots(daemon, 4)
    watch.stop()
    assert_every_slot_accounted_for(es, estate, since)
    summary = check_honest(es, estate, since)
    print(f"\nkill broker {victim}: (slot, partial groups, scrape ms) {summary}")
    assert watch.wrong_values() == {}, "a /metrics lag differed from the truth"
    assert any(partial for _, partial, _ in summary if _ < fenced), "the kill was never seen: the test proves nothing"
    settled = slots_until_whole(summary, fenced)
    assert settled is not None and settled <= 2, f"whole again {settled} slots after the broker was fenced"
    assert len(daemon.events("scrape_failed")) == failed_before  # the rejoin failed no scrape
    after_rejoin = [s for s in summary if s[0] >= rejoined]
    assert after_rejoin and all(partial == 0 for _, partial, _ in after_rejoin[1:])


def test_a_frozen_broker_costs_at_most_one_request_timeout_per_scrape(estate, daemon, es):
    wait_slots(daemon, 2)  # time lag known before the freeze (two points of lagwatch's own history)
    victim = estate.busiest_broker()
    watch = MetricsWatch(estate)
    since = now_ms()
    estate.cluster.freeze(victim)
    try:
        frozen_at = time.monotonic()
        wait_for(lambda: victim not in estate.cluster.live_broker_ids(), timeout=30, what=f"broker {victim} fenced")
        fenced = now_ms()
        time.sleep(max(0.0, 30 - (time.monotonic() - frozen_at)))
    finally:
        estate.cluster.resume(victim)
    resumed = now_ms()
    wait_for(lambda: victim in estate.cluster.live_broker_ids(), timeout=60, what=f"broker {victim} back")
    back = now_ms()
    wait_slots(daemon, 4)
    watch.stop()
    assert_every_slot_accounted_for(es, estate, since)
    summary = check_honest(es, estate, since)
    print(f"\nfreeze broker {victim} for 30 s: (slot, partial groups, scrape ms) {summary}")
    assert watch.wrong_values() == {}
    durations = [ms for _, _, ms in summary if ms >= 0]
    # One request timeout (1 s) for the frozen broker in total, plus the healthy brokers' work.
    assert max(durations) < REQUEST_TIMEOUT_S * 1000 + 900, f"a scrape took {max(durations)} ms"
    slots = [s for s, _, _ in summary]
    assert len(slots) >= (resumed - since) / (INTERVAL_S * 1000) - 1, "slots were lost during the freeze"
    assert any(partial for s, partial, _ in summary if s < fenced), "the freeze was never seen: the test proves nothing"
    settled = slots_until_whole(summary, fenced)
    assert settled is not None and settled <= 2, f"whole again {settled} slots after the broker was fenced"
    after_back = [s for s in summary if s[0] >= back]
    assert after_back and all(partial == 0 for _, partial, _ in after_back[1:])
    assert_the_kibana_rule_holds_through_partial_slots(es, estate, since, resumed)


def assert_the_kibana_rule_holds_through_partial_slots(es, estate: Estate, since_ms: int, until_ms: int) -> None:
    """The shipped Kibana rule's own query, run on the node slot by slot: every group it matched before the
    fault (time lag at or above the threshold) it still matches in every slot of the fault, its partial documents
    included (Kibana would resolve the alert of a group the query stops matching). The query as it was before
    `lagwatch.lag.seconds_last_known` must miss some of them, or the fault proved nothing."""
    params = kibana_rule.rule(prefix=estate.prefix, time_lag_seconds=RULE_TIME_LAG_S)["params"]
    query = json.loads(params["esQuery"])["query"]
    time_lag_alone = {"bool": {"filter": [{"term": {"lagwatch.doc_type": "group"}},
                                          {"range": {"lagwatch.lag.seconds": {"gte": RULE_TIME_LAG_S}}}]}}
    selfs = sorted(slot_docs(es, estate, "self", since_ms - 5 * int(INTERVAL_S * 1000)))
    slots = [s for s in selfs if s < since_ms][-1:] + [s for s in selfs if since_ms <= s <= until_ms]

    def matched(q: dict, slot: int) -> dict[str, bool]:
        in_slot = {"bool": {"filter": [q, {"term": {"lagwatch.slot": slot}}]}}
        hits = es.search(index=params["index"], query=in_slot, size=1000)["hits"]["hits"]
        return {h["_source"]["kafka.consumergroup.id"]: h["_source"]["lagwatch.lag.partial"] for h in hits}

    before = set(matched(query, slots[0]))
    assert before, "no group's time lag reached the threshold before the fault: the rule proves nothing"
    held = missed = 0
    for slot in slots[1:]:
        now, alone = matched(query, slot), matched(time_lag_alone, slot)
        assert before <= set(now), f"slot {slot}: the rule stopped matching {sorted(before - set(now))}"
        held += sum(partial for group, partial in now.items() if group in before)
        missed += len(before - set(alone))
    print(f"kibana rule over {len(slots)} slots: {held} partial group documents held, {missed} the old query missed")
    assert held > 0 and missed > 0, "no partial group document in the fault: the rule's hold was never tested"


def test_an_added_broker_costs_no_scrape(estate, daemon, es):
    failed_before = len(daemon.events("scrape_failed"))
    errors_before = len(daemon.events("scrape_error"))
    since = now_ms()
    new_broker = estate.cluster.add_broker()
    joined = now_ms()
    wait_slots(daemon, 4)
    # The new broker is in the Metadata at once; it must be asked (ListGroups) without an unknown-broker error.
    assert len(daemon.events("scrape_failed")) == failed_before
    assert daemon.events("scrape_error")[errors_before:] == []
    summary = check_honest(es, estate, since)
    print(f"\nadd broker {new_broker}: (slot, partial groups, scrape ms) {summary}")
    assert all(partial == 0 for _, partial, _ in summary)
    assert [s for s in summary if s[0] > joined], "no slot scraped after the broker joined"
    assert_every_slot_accounted_for(es, estate, since)
    assert_rows_match_kafka_tool(estate, daemon, es)  # after all the faults, still Kafka's own numbers


def assert_every_slot_accounted_for(es, estate: Estate, since_ms: int) -> None:
    """Every slot from `since_ms` to the last one has a self document (scraped, or skipped with a reason)."""
    selfs = slot_docs(es, estate, "self", since_ms)
    slots = sorted(selfs)
    step = int(INTERVAL_S * 1000)
    missing = [s for s in range(slots[0], slots[-1], step) if s not in selfs]
    skipped = [(s, d[0]["lagwatch.self.reason"]) for s, d in selfs.items() if d[0]["lagwatch.self.outcome"] != "scraped"]
    print(f"slots {len(slots)}, missing {missing}, skipped {skipped}")
    assert missing == [], f"slots without a self document: {missing}"
