"""Several real `lagwatch run` processes sharing the groups through a coordination group, for the tests.

Each process has its own state directory (spool, alert state) and HTTP port; /readyz says which shards it
owns. The documents they wrote are read back from the real Elasticsearch node and checked slot by slot.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

from tests.harness import RunningDaemon, daemon_config, wait_for, write_config

INTERVAL_S = 2.0
SESSION_S = 6.0  # the broker's group.min.session.timeout.ms: the shortest failover a broker allows


def config(bootstrap: str, es_url: str, prefix: str, tag: str, coordination_topic: str, **extra) -> dict:
    return daemon_config(
        "fleet", bootstrap, es_url, prefix,
        groups={"allow": [f"{tag}-.*"]},  # the coordination group is {tag}-coordination: excluded anyway
        scrape={"interval_s": INTERVAL_S, "granularity": "group"},
        http={"host": "127.0.0.1", "port": 0},
        coordination={
            "cluster": "fleet", "topic": coordination_topic, "group_id": f"{tag}-coordination",
            "session_timeout_s": SESSION_S,
        },
        **extra,
    )


class Fleet:
    def __init__(self, tmp_path: Path, settings: dict):
        self.tmp_path = tmp_path
        self.path = tmp_path / "lagwatch.yaml"
        write_config(self.path, settings)
        self.daemons: dict[str, RunningDaemon] = {}
        self.ports: dict[str, int] = {}

    def start(self, *names: str) -> None:
        for name in names:
            state = self.tmp_path / f"state-{name}"
            self.daemons[name] = RunningDaemon(
                str(self.path), env={"LAGWATCH_SCRAPE__INSTANCE": name, "LAGWATCH_STATE_DIR": str(state)}
            )
        # Start-up is import work (seconds of CPU): on a starved machine three at once take minutes. A hang or
        # a crash still fails (an exit at once).
        for name in names:
            self.ports[name] = self.daemons[name].wait_event("http_started", timeout=180)[0]["port"]

    def alive(self) -> list[str]:
        return [n for n, d in self.daemons.items() if d.process.poll() is None]

    def coordination(self, name: str) -> dict:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name]}/readyz", timeout=5) as answer:
                body = json.load(answer)
        except urllib.error.HTTPError as answer:  # 503 while not ready: the body still says why
            body = json.load(answer)
        except OSError:
            return {}
        return body.get("coordination", {})

    def owned(self) -> dict[str, list[int]]:
        return {n: self.coordination(n).get("owned", []) for n in self.alive()}

    def settled(self, shards: int) -> dict[str, list[int]] | None:
        """Every live process a member of the same generation, every shard owned by exactly one of them
        with its state read back, nothing lingering."""
        states = {n: self.coordination(n) for n in self.alive()}
        if any(c.get("state") != "member" for c in states.values()):
            return None
        if len({c.get("generation") for c in states.values()}) != 1:
            return None
        owned = sorted(s for c in states.values() for s in c.get("owned", []))
        if owned != list(range(shards)):
            return None
        if any(c.get("evaluating") != c.get("owned") or c.get("lingering") for c in states.values()):
            return None
        return {n: c["owned"] for n, c in states.items()}

    def wait_settled(self, shards: int, timeout: float = 60, also=lambda shares: True) -> dict[str, list[int]]:
        """settled() twice in a row, one heartbeat-ish apart (a rebalance in flight shows as a change)."""
        seen = []

        def check():
            now = self.settled(shards)
            ok = now is not None and also(now) and seen and seen[-1] == now
            seen.append(now)
            return now if ok else None

        try:
            return wait_for(check, timeout=timeout, interval=1.0, what="shards settled")
        except AssertionError as exc:  # say where each process stood (its log is in tmp_path/<name>.log)
            states = {n: self.coordination(n) for n in self.alive()}
            raise AssertionError(f"{exc}; coordination per process: {states}") from None

    def kill(self, name: str) -> float:
        self.daemons[name].process.kill()  # SIGKILL: no LeaveGroup, no final write
        at = time.time()
        self.daemons[name].process.wait(timeout=10)
        return at

    def stop(self) -> dict[str, int]:
        live = self.alive()
        for name in live:
            self.daemons[name].signal(15)
        return {name: self.daemons[name].wait_exit(timeout=30) for name in live}

    def close(self) -> None:
        """Kill what still runs; each process's log stays in tmp_path/<name>.log for a post-mortem."""
        for name, daemon in self.daemons.items():
            daemon.kill()
            (self.tmp_path / f"{name}.log").write_text("\n".join(daemon.lines) + "\n")


def read_documents(es, prefix: str) -> list[dict]:
    es.indices.refresh(index=f"{prefix}-lag")
    found = es.search(index=f"{prefix}-lag", size=10_000, track_total_hits=True, query={"match_all": {}})["hits"]
    assert found["total"]["value"] < 10_000, "more documents than one search returns: shorten the test"
    return [{"_id": h["_id"], **h["_source"]} for h in found["hits"]]


def by_slot(docs: list[dict]):
    """{slot_ms: set of groups with a group document}, {slot_ms: {instance: groups it scraped}}."""
    groups, scraped = defaultdict(set), defaultdict(dict)
    for doc in docs:
        slot = doc["lagwatch.slot"]
        if doc["lagwatch.doc_type"] == "group":
            groups[slot].add(doc["kafka.consumergroup.id"])
        elif doc["lagwatch.doc_type"] == "self" and doc.get("lagwatch.self.outcome") == "scraped":
            scraped[slot][doc["lagwatch.self.instance"]] = doc["lagwatch.self.groups"]
    return groups, scraped


def skipped(docs: list[dict]) -> set[int]:
    """Slots some process did not scrape and said so (a `self` document with outcome `skipped`: its previous
    scrape overran, e.g. on a CPU-starved machine). Not a coordination gap: those slots are left out of the
    every-group-every-slot checks, and counted."""
    return {d["lagwatch.slot"] for d in docs
            if d["lagwatch.doc_type"] == "self" and d.get("lagwatch.self.outcome") == "skipped"}


def slots_between(start: float, end: float) -> list[int]:
    """Every slot (ms) that begins in [start, end)."""
    step = int(INTERVAL_S * 1000)
    first = -(-int(start * 1000) // step) * step
    return list(range(first, int(end * 1000), step))


def table(groups, scraped, slots, marks: dict[int, str]) -> str:
    lines = ["slot (UTC)    group docs  scraped by instance (groups)"]
    for slot in slots:
        when = time.strftime("%H:%M:%S", time.gmtime(slot / 1000))
        per = ", ".join(f"{i}={n}" for i, n in sorted(scraped.get(slot, {}).items()))
        lines.append(f"{when}.{slot % 1000:03d}  {len(groups.get(slot, ())):>10}  {per}  {marks.get(slot, '')}")
    return "\n".join(lines)
