"""The soak's applications: its own producers and committers, each move recorded in the ground truth.

Topics `<p>-t0..t3` (3 partitions each) get a few records per partition every second. Groups, one kind each:
- `steady-*`: commit-only (no member, Empty, generation -1): commit a little behind the log end every tick;
- `stall-*`: commit-only, alternately stalled (lag and time lag grow until the soak's alert rules fire) and
  caught up (they resolve);
- `classic-*`: a kafka-python member subscribed to its topic, committing what the driver says;
- `empty-0`: a member joined, committed and left: an Empty group whose lag only grows;
- `kip848-0`, `share-0`: see bench/soak/members.py;
- `doomed-0`: commit-only on the topic a fault deletes; `ephemeral-*`: made and deleted by faults.
Every loop ends by itself at `deadline` or when `stop` is set.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from kafka.admin import NewPartitions, NewTopic
from kafka.structs import OffsetAndMetadata

from bench.soak.truth import NEVER, Truth

TICK_S = 1.0
TOPICS = 4
PARTITIONS = 3
REPLICATION = 3
FIRST_COMMIT_S = 120.0  # a commit-only group is made by its first acknowledged commit, within this


@dataclass
class Plan:
    """One group the driver commits for: its kind, topics, and how it commits (None: somebody else)."""

    name: str
    kind: str
    topics: tuple[str, ...]
    commit: Callable[[dict[TopicPartition, int]], dict[TopicPartition, bool]] | None = None
    stalled_until: float = 0.0
    running_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    deleted: bool = False  # set under `lock` by delete_group: no commit may make the group again


class Workload:
    def __init__(self, bootstrap: str, truth: Truth, prefix: str, seed: int, progress=print):
        self.bootstrap, self.truth, self.prefix, self.progress = bootstrap, truth, prefix, progress
        self.rng = random.Random(seed * 7919 + 1)  # the workload's own stream: the schedule's is untouched
        self._admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=f"{prefix}-driver",
                                       request_timeout_ms=8000)
        self._admin_lock = threading.Lock()
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap, client_id=f"{prefix}-producer", acks="all", enable_idempotence=True,
            linger_ms=5, request_timeout_ms=5000, delivery_timeout_ms=15000, max_block_ms=5000,
            metadata_max_age_ms=5000,
        )
        self.topics: dict[str, int] = {}  # topic -> partitions
        self.active: set[str] = set()  # topics produced to
        self.plans: dict[str, Plan] = {}
        self._inflight: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self.stop = threading.Event()
        self.errors: dict[str, int] = {}  # what went wrong, by kind (in doubt, never counted as done)
        self.produced = 0
        self.commits = 0
        self._threads: list[threading.Thread] = []

    def admin(self, call: str, *args, **kwargs):
        """One admin request at a time (the committer thread and the faults share the client)."""
        with self._admin_lock:
            return getattr(self._admin, call)(*args, **kwargs)

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def _error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    # --- topology ----------------------------------------------------------------------------------

    def create_topic(self, suffix: str, partitions: int = PARTITIONS, produce: bool = True) -> str:
        topic = self.name(suffix)
        self.admin("create_topics", [NewTopic(topic, partitions, REPLICATION)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(self.producer.partitions_for(topic) or ()) < partitions:
            time.sleep(0.2)
        now = time.time()
        for p in range(partitions):
            self.truth.partition(topic, p, now)
        self.topics[topic] = partitions
        if produce:
            self.active.add(topic)
        return topic

    def add_partition(self, topic: str) -> int:
        """One more partition: produced to once the producer's metadata has it; committers pick it up."""
        count = self.topics[topic] + 1
        self.admin("create_partitions", {topic: NewPartitions(total_count=count)})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(self.producer.partitions_for(topic) or ()) < count:
            time.sleep(0.2)
        self.truth.partition(topic, count - 1, time.time())
        self.topics[topic] = count
        return count - 1

    def delete_topic(self, topic: str) -> None:
        """Stop producing to it, wait for what is in flight, then delete it (its groups' truth ends here)."""
        self.active.discard(topic)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(t == topic for t, _ in list(self._inflight)):
            time.sleep(0.1)
        self.truth.topic_deleted(topic, time.time())
        self.admin("delete_topics", [topic])
        self.topics.pop(topic, None)

    # --- producing ---------------------------------------------------------------------------------

    def _produce_tick(self) -> None:
        for topic in sorted(self.active):
            for p in range(self.topics.get(topic, 0)):
                n = self.rng.randint(0, 3)
                if n and (topic, p) not in self._inflight:
                    self._send(topic, p, n)

    def _send(self, topic: str, partition: int, n: int) -> None:
        steps = self.truth.log_end[(topic, partition)]
        with self._lock:
            self._inflight.add((topic, partition))
        steps.begin(time.time(), steps.hi(time.time()) + n)
        try:
            futures = [self.producer.send(topic, value=b"soak", partition=partition) for _ in range(n)]
        except Exception:  # noqa: BLE001 - metadata not there in time: in doubt until a later send lands
            self._error("produce")
            with self._lock:
                self._inflight.discard((topic, partition))
            return

        def done(metadata) -> None:
            steps.confirm(time.time(), metadata.offset + 1)
            with self._lock:
                self.produced += n
                self._inflight.discard((topic, partition))

        def failed(_exc) -> None:
            self._error("produce")
            with self._lock:
                self._inflight.discard((topic, partition))

        futures[-1].add_callback(done).add_errback(failed)

    # --- committing --------------------------------------------------------------------------------

    def commit(self, plan: Plan, targets: dict[TopicPartition, int]) -> None:
        """Commit `targets` for `plan`'s group through its committer, recording each offset's truth."""
        if not targets or plan.commit is None:
            return
        with plan.lock:
            if plan.deleted:  # a commit tick that listed the plan before its deletion would make the group again
                return
            begun = time.time()
            steps = {tp: self.truth.committed(plan.name, tp.topic, tp.partition, begun) for tp in targets}
            for tp, offset in targets.items():
                steps[tp].begin(begun, offset)
            try:
                outcome = plan.commit(targets)
            except Exception:  # noqa: BLE001 - in doubt: the truth stays open until a later commit lands
                self._error(f"commit {plan.kind}")
                return
            acked = time.time()
            for tp, ok in outcome.items():
                if ok:
                    steps[tp].confirm(acked, targets[tp])
                else:
                    self._error(f"commit {plan.kind}")
            with self._lock:
                self.commits += 1

    def admin_commit(self, group: str) -> Callable[[dict[TopicPartition, int]], dict[TopicPartition, bool]]:
        def commit(targets: dict[TopicPartition, int]) -> dict[TopicPartition, bool]:
            offsets = {tp: OffsetAndMetadata(o, "", -1) for tp, o in targets.items()}
            answer = self.admin("alter_group_offsets", group, offsets)
            return {tp: getattr(answer.get(tp), "errno", 1) == 0 for tp in targets}

        return commit

    def targets(self, plan: Plan, behind: int = 5) -> dict[TopicPartition, int]:
        """A little behind the confirmed log end, never behind what was committed (offsets only go forward)."""
        now = time.time()
        found = {}
        for topic in plan.topics:
            for p in range(self.topics.get(topic, 0)):
                log_end = self.truth.log_end.get((topic, p))
                if log_end is None:
                    continue
                committed = self.truth.groups.get(plan.name)
                before = committed.committed.get((topic, p)) if committed is not None else None
                floor = before.hi(now) if before is not None else 0
                found[TopicPartition(topic, p)] = max(floor, log_end.lo(now) - self.rng.randint(0, behind))
        return found

    def add_commit_only(self, suffix: str, kind: str, topics: tuple[str, ...]) -> Plan:
        """A commit-only group, made by its first commit (what `kafka-consumer-groups --reset-offsets` or a
        framework committing for itself leaves: no member, state Empty)."""
        plan = Plan(self.name(suffix), kind, topics)
        plan.commit = self.admin_commit(plan.name)
        begun = time.time()
        self.truth.group(plan.name, kind, begun, float("inf"))
        # The group exists once a commit is acknowledged: a first commit in doubt (a timeout on a loaded machine)
        # may not have made it, and a stalled group commits nothing more for a minute or two.
        acknowledged = lambda: any(s.born[1] < NEVER for s in self.truth.groups[plan.name].committed.values())  # noqa: E731
        deadline = time.monotonic() + FIRST_COMMIT_S
        while not acknowledged():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{plan.name}: no commit acknowledged within {FIRST_COMMIT_S:.0f}s")
            self.commit(plan, self.targets(plan))
            if not acknowledged():
                time.sleep(1.0)
        self.truth.groups[plan.name].created = (begun, time.time())
        self.plans[plan.name] = plan
        return plan

    def delete_group(self, name: str) -> None:
        plan = self.plans.pop(name, None)
        group = self.truth.groups[name]
        group.deleted = (time.time(), float("inf"))
        if plan is not None:
            with plan.lock:  # no commit of it in flight any more, and none after
                plan.deleted = True
        answer = self.admin("delete_groups", [name])  # kafka-python 3: {group: "OK" or the error's name}
        refused = [(g, error) for g, error in dict(answer).items() if error != "OK"]
        if refused:  # the broker said no (coordinator moving, group not empty): the group is still there
            group.deleted = None
            if plan is not None:
                plan.deleted = False
                self.plans[name] = plan
            raise RuntimeError(f"delete_groups refused: {refused}")
        group.deleted = (group.deleted[0], time.time())

    def _commit_tick(self, now: float) -> None:
        for plan in list(self.plans.values()):
            if plan.kind in ("empty", "share") or plan.commit is None:
                continue
            if plan.kind == "stall":
                if now < plan.stalled_until:
                    continue
                if now >= plan.running_until:  # caught up for a while: stall again
                    plan.stalled_until = now + self.rng.uniform(50, 100)
                    plan.running_until = plan.stalled_until + self.rng.uniform(20, 40)
                    continue
                self.commit(plan, self.targets(plan, behind=0))
                continue
            self.commit(plan, self.targets(plan))

    # --- the loops ---------------------------------------------------------------------------------

    def start(self, deadline: float) -> None:
        def loop(name: str, every_s: float, body) -> threading.Thread:
            def run():
                while not self.stop.is_set() and time.time() < deadline:
                    started = time.monotonic()
                    try:
                        body(time.time())
                    except Exception as exc:  # noqa: BLE001 - a broker fault: try again next tick
                        self._error(f"{name}: {type(exc).__name__}")
                    self.stop.wait(max(0.05, every_s - (time.monotonic() - started)))

            thread = threading.Thread(target=run, name=f"soak-{name}", daemon=True)
            thread.start()
            return thread

        self._threads += [loop("produce", TICK_S, lambda now: self._produce_tick()),
                          loop("commit", 2 * TICK_S, self._commit_tick)]

    def close(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self.producer.close(timeout=10)
        self._admin.close()
