"""The soak's groups that have (or had) members: classic kafka-python members, an Empty group, a KIP-848 member
(bench/soak/Kip848Member.java, since kafka-python cannot speak that protocol) and a share group.

Every commit is the driver's: the members never commit on their own, so the truth knows each committed offset.
The share group is the exception that proves the rule: Kafka's console share consumer acknowledges what it
reads at set-up, then leaves; from then on nothing moves its start offset and its lag is log end minus what
was acknowledged.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from bench.soak.workload import Plan, Workload

HERE = Path(__file__).resolve().parent


class ClassicMember:
    """A kafka-python consumer subscribed to the group's topics, on a thread of its own (KafkaConsumer is not
    thread-safe): it polls, and commits what `commit()` hands it."""

    def __init__(self, workload: Workload, plan: Plan, deadline: float):
        self.workload, self.plan, self.deadline = workload, plan, deadline
        self._asks: queue.Queue = queue.Queue()
        plan.commit = self.commit
        self._thread = threading.Thread(target=self._run, name=f"soak-{plan.name}", daemon=True)
        self.joined = threading.Event()
        self._thread.start()

    def commit(self, targets: dict[TopicPartition, int]) -> dict[TopicPartition, bool]:
        answer: queue.Queue = queue.Queue()
        self._asks.put((targets, answer))
        try:
            return answer.get(timeout=15)
        except queue.Empty:
            return {tp: False for tp in targets}  # in doubt

    def _run(self) -> None:
        consumer = KafkaConsumer(
            *self.plan.topics, bootstrap_servers=self.workload.bootstrap, group_id=self.plan.name,
            client_id=f"{self.plan.name}-member", enable_auto_commit=False, auto_offset_reset="latest",
            metadata_max_age_ms=5000, session_timeout_ms=10000, heartbeat_interval_ms=1000,
            request_timeout_ms=12000,
        )
        try:
            while not self.workload.stop.is_set() and time.time() < self.deadline:
                try:
                    consumer.poll(timeout_ms=200, max_records=100)
                    if consumer.assignment():
                        self.joined.set()
                except Exception:  # noqa: BLE001 - a broker fault: the next poll tries again
                    self.workload._error(f"poll {self.plan.kind}")
                while True:
                    try:
                        targets, answer = self._asks.get_nowait()
                    except queue.Empty:
                        break
                    answer.put(self._commit(consumer, targets))
        finally:
            consumer.close(autocommit=False)

    def _commit(self, consumer: KafkaConsumer, targets: dict[TopicPartition, int]) -> dict[TopicPartition, bool]:
        try:
            consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in targets.items()}, timeout_ms=8000)
            return {tp: True for tp in targets}
        except Exception:  # noqa: BLE001 - rebalancing, coordinator moving: in doubt, tried again next tick
            return {tp: False for tp in targets}


def empty_group(workload: Workload, plan: Plan) -> None:
    """A member joins, the driver commits through it, the member leaves: the group stays Empty with offsets."""
    member = ClassicMember(workload, plan, time.time() + 120)
    if not member.joined.wait(90):
        raise RuntimeError(f"{plan.name}: the member never got its partitions")
    begun = time.time()
    workload.truth.group(plan.name, plan.kind, begun, float("inf"))
    for _ in range(10):
        workload.commit(plan, workload.targets(plan))
        group = workload.truth.groups[plan.name]
        if group.committed and all(s.settled for s in group.committed.values()):
            break
    else:
        raise RuntimeError(f"{plan.name}: no commit went through")
    workload.truth.groups[plan.name].created = (begun, time.time())
    plan.commit = None  # nobody commits for it again
    member.deadline = 0  # the thread leaves the group
    member._thread.join(timeout=30)


class Kip848Member:
    """bench/soak/Kip848Member.java as the one member of a `consumer`-protocol group; commits on command."""

    def __init__(self, workload: Workload, plan: Plan, java: Path, libs: Path, log: Path):
        self.workload, self.plan = workload, plan
        argv = [str(java), "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", f"{libs}/*",
                str(HERE / "Kip848Member.java"), workload.bootstrap, plan.name, ",".join(plan.topics),
                f"{plan.name}-member"]
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=open(log, "ab"), text=True, bufsize=1)
        self._answers: dict[str, queue.Queue] = {}
        self._next = 0
        self._lock = threading.Lock()
        self.started = threading.Event()
        threading.Thread(target=self._read, name=f"soak-{plan.name}-out", daemon=True).start()
        plan.commit = self.commit

    def _read(self) -> None:
        for line in self.process.stdout:
            words = line.split(" ", 2)
            if words[0] == "started\n" or line.strip() == "started":
                self.started.set()
            elif words[0] in ("ok", "err") and len(words) > 1:
                found = self._answers.get(words[1].strip())
                if found is not None:
                    found.put(words[0] == "ok")

    def commit(self, targets: dict[TopicPartition, int]) -> dict[TopicPartition, bool]:
        with self._lock:
            self._next += 1
            ask = str(self._next)
            self._answers[ask] = answer = queue.Queue()
        line = " ".join(f"{tp.topic}:{tp.partition}:{o}" for tp, o in targets.items())
        try:
            self.process.stdin.write(f"commit {ask} {line}\n")
            self.process.stdin.flush()
            ok = answer.get(timeout=20)
        except (queue.Empty, OSError, ValueError):
            ok = False
        finally:
            self._answers.pop(ask, None)
        return {tp: ok for tp in targets}

    def make(self) -> None:
        """Wait for the member to start and a first commit to land: the group exists from then on."""
        if not self.started.wait(180):
            raise RuntimeError(f"{self.plan.name}: the Java member did not start")
        begun = time.time()
        self.workload.truth.group(self.plan.name, self.plan.kind, begun, float("inf"))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            self.workload.commit(self.plan, self.workload.targets(self.plan))
            group = self.workload.truth.groups[self.plan.name]
            if group.committed and all(s.settled for s in group.committed.values()):
                break
            time.sleep(2)
        else:
            raise RuntimeError(f"{self.plan.name}: the member's commits never went through")
        self.workload.truth.groups[self.plan.name].created = (begun, time.time())

    def close(self) -> None:
        try:
            self.process.stdin.close()
            self.process.wait(timeout=20)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            self.process.kill()


def share_group(workload: Workload, plan: Plan, version: str, records: int = 4) -> None:
    """Records are produced, Kafka's console share consumer reads and acknowledges them all (its tool says lag 0
    on every partition), then leaves. From then on the group's acknowledged position is `records`."""
    from devstack.kafka import run_kafka_tool
    from tests.harness import JavaConsumer

    (topic,) = plan.topics
    begun = time.time()
    workload.truth.group(plan.name, plan.kind, begun, float("inf"))
    partitions = workload.topics[topic]
    for p in range(partitions):
        steps = workload.truth.log_end[(topic, p)]
        steps.begin(time.time(), records)
        for _ in range(records):
            workload.producer.send(topic, value=b"soak", partition=p)
    workload.producer.flush(timeout=30)
    for p in range(partitions):
        workload.truth.log_end[(topic, p)].confirm(time.time(), records)
    tool = ["--bootstrap-server", workload.bootstrap]
    configured = run_kafka_tool("org.apache.kafka.tools.ConfigCommand", [
        *tool, "--alter", "--entity-type", "groups", "--entity-name", plan.name,
        "--add-config", "share.auto.offset.reset=earliest"], version=version)
    if configured.returncode != 0:
        raise RuntimeError(f"{plan.name}: {configured.stderr[-500:]}")
    member = JavaConsumer(workload.bootstrap, plan.name, topic, share=True, version=version)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            described = run_kafka_tool("org.apache.kafka.tools.consumer.group.ShareGroupCommand",
                                       [*tool, "--describe", "--group", plan.name], version=version)
            rows = [line.split() for line in described.stdout.splitlines() if line.startswith(plan.name)]
            if len(rows) == partitions and all(r[4] == "0" for r in rows):
                break
            time.sleep(3)
        else:
            raise RuntimeError(f"{plan.name}: the share consumer never acknowledged everything")
    finally:
        member.stop()
    acked = time.time()
    for p in range(partitions):
        workload.truth.committed(plan.name, topic, p, begun).confirm(acked, records)
    workload.truth.groups[plan.name].created = (begun, acked)
    workload.active.add(topic)
    workload.progress(f"share group set up after {acked - begun:.0f}s")
