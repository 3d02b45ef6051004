"""Doing the schedule's faults to the real processes: each fault on a thread of its own (so they overlap), from
its moment to its end, then a wait for what it broke to work again (`settled`), every wait bounded.

What each fault records: when it began, when it ended (the broker rejoined, the node answered, the process
restarted), when it settled (the driver's own clients read every group's offsets again; the node's health is
yellow or green; the restarted process scraped), and what it hit (the broker a "coordinator" target was).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field

from bench.soak.schedule import Fault

BOUND_S = 180.0  # no fault action or settle wait takes longer than this


@dataclass
class Done:
    fault: Fault
    began: float | None = None
    ended: float | None = None
    settled: float | None = None
    hit: str = ""
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {**self.fault.as_dict(), "began": self.began, "ended": self.ended, "settled": self.settled,
                "hit": self.hit, "error": self.error}


def java_hash(text: str) -> int:
    """Java's String.hashCode: Kafka places a group on __consumer_offsets partition abs(hash) % partitions."""
    h = 0
    for ch in text:  # the soak's group names are ASCII: one UTF-16 unit per character
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


class Faults:
    def __init__(self, stack, replicas, workload, t0: float, seed: int, progress=print):
        self.stack, self.replicas, self.workload = stack, replicas, workload
        self.t0, self.progress = t0, progress
        self.rng = random.Random(seed * 31 + 7)
        self.done: list[Done] = []
        self._threads: list[threading.Thread] = []
        self._ephemeral = 0
        self._lock = threading.Lock()
        self.kibana_watch = None  # set by the run: called (fault, began) while a broker is down or frozen

    def run(self, schedule: list[Fault]) -> None:
        for fault in schedule:
            record = Done(fault)
            self.done.append(record)
            thread = threading.Thread(target=self._one, args=(record,), name=f"soak-fault-{fault.kind}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wait(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _say(self, record: Done, what: str) -> None:
        self.progress(f"{time.time() - self.t0:7.1f}s  {record.fault.kind:<20} {record.hit or record.fault.target:<14} {what}")

    def _one(self, record: Done) -> None:
        fault = record.fault
        delay = self.t0 + fault.at - time.time()
        if delay > 0:
            time.sleep(delay)
        try:
            getattr(self, f"_{fault.kind}")(record)
            if record.ended is None:
                record.ended = time.time()
            self._say(record, f"ended after {record.ended - record.began:.1f}s")
            self._settle(record)
        except Exception as exc:  # noqa: BLE001 - recorded: a fault that could not be done is in the report
            record.error = f"{type(exc).__name__}: {exc}"
            self._say(record, f"failed: {record.error}")

    def _begin(self, record: Done, hit: str = "") -> None:
        record.began, record.hit = time.time(), hit or record.fault.target
        self._say(record, f"begins ({record.fault.duration:.0f}s)")

    # --- brokers -----------------------------------------------------------------------------------

    def _broker(self, record: Done) -> int:
        if record.fault.target != "coordinator":
            return int(record.fault.target)
        return self.coordinator_of_stalled()

    def coordinator_of_stalled(self) -> int:
        """The broker coordinating a stalled group (its alert fires), from __consumer_offsets' leaders."""
        stalled = sorted(p.name for p in self.workload.plans.values() if p.kind == "stall"
                         and p.stalled_until > time.time()) or sorted(
            p.name for p in self.workload.plans.values() if p.kind == "stall")
        group = stalled[0]
        (topic,) = self.stack.admin().describe_topics(["__consumer_offsets"])
        partitions = {p.get("partition_index", p.get("partition")): p.get("leader_id", p.get("leader"))
                      for p in topic["partitions"]}
        return partitions[abs(java_hash(group)) % len(partitions)]

    def _broker_kill(self, record: Done) -> None:
        broker = self._broker(record)
        self._begin(record, f"broker {broker}")
        self.stack.cluster.kill(broker)
        self._down(record, broker)
        self.stack.cluster.restart(broker, timeout=BOUND_S)

    def _broker_freeze(self, record: Done) -> None:
        broker = self._broker(record)
        self._begin(record, f"broker {broker}")
        self.stack.cluster.freeze(broker)
        try:
            self._down(record, broker)
        finally:
            self.stack.cluster.resume(broker)

    def _broker_restart(self, record: Done) -> None:
        broker = self._broker(record)
        self._begin(record, f"broker {broker}")
        self.stack.cluster.brokers[broker].stop(keep_files=True)  # SIGTERM: a controlled shutdown
        self.stack.cluster.restart(broker, timeout=BOUND_S)

    def _broker_add(self, record: Done) -> None:
        self._begin(record)
        record.hit = f"broker {self.stack.cluster.add_broker(timeout=BOUND_S)}"

    def _down(self, record: Done, broker: int) -> None:
        """The fault's duration, with the Kibana rule checked on the real node meanwhile."""
        until = record.began + record.fault.duration
        if self.kibana_watch is not None:
            self.kibana_watch(record, until)
        time.sleep(max(0.0, until - time.time()))

    # --- Elasticsearch ------------------------------------------------------------------------------

    def _es_signal(self, signum: int) -> None:
        # The launcher starts the server as its child, in the launcher's session and process group.
        os.killpg(os.getpgid(self.stack.es.pid), signum)

    def _es_kill(self, record: Done) -> None:
        self._begin(record)
        self._es_signal(signal.SIGKILL)
        self.stack.es._process.wait(timeout=30)
        time.sleep(record.fault.duration)
        self.stack.es.restart(timeout=BOUND_S)

    def _es_freeze(self, record: Done) -> None:
        self._begin(record)
        self._es_signal(signal.SIGSTOP)
        try:
            time.sleep(record.fault.duration)
        finally:
            self._es_signal(signal.SIGCONT)

    def _es_restart(self, record: Done) -> None:
        self._begin(record)
        self.stack.es.stop(keep_files=True)
        self.stack.es.restart(timeout=BOUND_S)

    def _es_reject(self, record: Done) -> None:
        self._begin(record)
        self.stack.proxy.set("reject")
        time.sleep(record.fault.duration)
        self.stack.proxy.set("pass")

    def _es_slow(self, record: Done) -> None:
        delay = round(self.rng.uniform(2, 7), 1)
        self._begin(record, f"proxy {delay}s")
        self.stack.proxy.set("slow", delay)
        time.sleep(record.fault.duration)
        self.stack.proxy.set("pass")

    # --- lagwatch -----------------------------------------------------------------------------------

    def _alive(self, record: Done) -> bool:
        return self.replicas.all[record.fault.target].alive

    def _sighup(self, record: Done, change: bool = False) -> None:
        self._begin(record)
        if not self._alive(record):
            record.notes.append("not running: skipped")
            return
        self.replicas.sighup(record.fault.target, change)

    def _sighup_change(self, record: Done) -> None:
        self._sighup(record, change=True)

    def _lagwatch_kill(self, record: Done) -> None:
        self._begin(record)
        if self.replicas.all[record.fault.target].gone_for_good:
            record.notes.append("killed for good before: skipped")
            return
        self.replicas.kill(record.fault.target)
        time.sleep(record.fault.duration)
        self.replicas.start(record.fault.target)

    def _replica_kill_forever(self, record: Done) -> None:
        self._begin(record)
        self.replicas.kill(record.fault.target, for_good=True)

    # --- the estate ---------------------------------------------------------------------------------

    def _group_create(self, record: Done) -> None:
        with self._lock:
            self._ephemeral += 1
            suffix = f"ephemeral-{self._ephemeral}"
        topic = self.rng.choice(sorted(t for t in self.workload.active if "-t" in t))
        self._begin(record, suffix)
        self.workload.add_commit_only(suffix, "ephemeral", (topic,))

    def _group_delete(self, record: Done) -> None:
        ephemeral = sorted(p.name for p in self.workload.plans.values() if p.kind == "ephemeral")
        if not ephemeral:
            self._begin(record)
            record.notes.append("no group to delete: made one instead")
            return self._group_create(record)
        victim = self.rng.choice(ephemeral)
        self._begin(record, "-".join(victim.split("-")[-2:]))
        self.workload.delete_group(victim)

    def _partitions_add(self, record: Done) -> None:
        topic = self.rng.choice(sorted(t for t in self.workload.topics if t.rsplit("-", 1)[-1].startswith("t")))
        self._begin(record, topic.rsplit("-", 1)[-1])
        self.workload.add_partition(topic)

    def _topic_delete(self, record: Done) -> None:
        self._begin(record, "doomed")
        self.workload.delete_topic(self.workload.name("doomed"))

    # --- settling -----------------------------------------------------------------------------------

    def _settle(self, record: Done) -> None:
        deadline = time.monotonic() + BOUND_S
        kind = record.fault.kind
        while time.monotonic() < deadline:
            try:
                if self._settled(kind, record):
                    record.settled = time.time()
                    return
            except Exception:  # noqa: BLE001 - not yet
                pass
            time.sleep(1.0)
        record.notes.append(f"not settled within {BOUND_S:.0f}s")

    def _settled(self, kind: str, record: Done) -> bool:
        if kind.startswith("broker_") or kind in ("partitions_add", "topic_delete", "group_create", "group_delete"):
            return self.stack.kafka_readable(self.workload)
        if kind in ("es_kill", "es_freeze", "es_restart"):
            return self.stack.es_healthy()
        if kind in ("lagwatch_kill", "sighup", "sighup_change"):
            replica = self.replicas.all[record.fault.target]
            return replica.gone_for_good or not replica.alive or self.replicas.scraped_since(
                record.fault.target, record.ended or 0)
        return True
