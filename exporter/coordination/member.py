"""The member of lagwatch's coordination group: a KafkaConsumer in its own thread, for membership only.

It subscribes to the coordination topic with the cooperative-sticky assignor (kafka-python 3's KIP-429
implementation: a rebalance moves only the partitions that change owner, nobody stops), never commits
(enable_auto_commit off, no commit call; it reads each gained partition from its beginning), never creates a
topic (allow_auto_create_topics off). Its partitions are shards:

- assigned: the shard is reported at once; its partition is read from the beginning to its end offset (the
  state the previous owner left), adopted by the alert engine, then paused; from then on alerts are evaluated.
- revoked (a rebalance, or this process leaving): alerts stop, the shard's latest state is written (the
  previous owner's final write lands before the next owner is assigned: the cooperative protocol assigns a
  revoked partition only in the rebalance after the revoking member has rejoined), and the shard lingers.
- lost (this member was evicted, e.g. after a long pause): the state is dropped unwritten; the next owner
  has the last state written.

Rebalance callbacks run on kafka-python's IO thread, which also sends heartbeats: what they do is bounded
(a wait of at most one heartbeat interval for a notification in flight, then one acknowledged write).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor

from exporter import logs

from exporter.kafka import connect as kafka_connect
from exporter.config import Cluster, CoordinationConfig
from exporter.coordination import records, topic
from exporter.coordination.ownership import Ownership, owned, shard_of
from exporter.coordination.store import ShardStateStore


@dataclass(frozen=True)
class MemberStatus:
    """What /readyz and /metrics say about the membership; replaced whole."""

    state: str = "starting"  # starting, joining, member, unavailable, misconfigured, stopped
    since: float = field(default_factory=time.time)
    error: str | None = None
    generation: int = -1
    member_id: str = ""
    shards: int = 0  # S
    heartbeat_age_s: float | None = None  # since the last heartbeat sent to the group coordinator
    rebalances: int = 0  # assignments changed (gained or lost shards)


@dataclass
class _ReadBack:
    """A gained partition being read from its beginning to the end offset it had when assigned."""

    end: int | None = None
    found: dict = field(default_factory=dict)  # (cluster, group) -> state or None (tombstone)
    records: int = 0
    unreadable: int = 0
    started: float = field(default_factory=time.monotonic)


class Member(ConsumerRebalanceListener):
    def __init__(
        self,
        settings: CoordinationConfig,
        connection: Cluster,
        ownership: Ownership,
        store: ShardStateStore,
        alertings: Callable[[], Mapping[str, object]],
    ):
        self.settings = settings
        self.connection = connection
        self.ownership = ownership
        self.store = store
        self.alertings = alertings
        self.log = logs.get().bind(coordination=settings.group_id)
        self.status = MemberStatus()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status_lock = threading.Lock()
        self._reading: dict[int, _ReadBack] = {}
        self._producer: KafkaProducer | None = None
        self._count: int | None = None
        self._last_check: float | None = None  # monotonic time of the last heartbeat check
        self._recover_at = 0.0  # after a gap: alerts resume no earlier than this (monotonic)

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Member:
        self._thread = threading.Thread(target=self._run, name="lagwatch-coordination", daemon=True)
        self._thread.start()
        return self

    def leave(self, timeout_s: float) -> bool:
        """Leave the group (final writes of every owned shard, then LeaveGroup: the others take over at
        once instead of after the session timeout). False if the thread did not end in time."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(max(0.0, timeout_s))
            alive = self._thread.is_alive()
        else:
            alive = False
        if self._producer is not None and not alive:
            self._producer.close(timeout=1)
        self._set(state="stopped")
        return not alive

    def _set(self, **changes) -> None:
        with self._status_lock:  # the IO thread (callbacks) and this member's thread both change it
            if "state" in changes and changes["state"] != self.status.state:
                changes.setdefault("since", time.time())
            if changes.pop("rebalanced", False):
                changes["rebalances"] = self.status.rebalances + 1
            self.status = dataclasses.replace(self.status, **changes)

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                self._session()
                backoff = 1.0
            except topic.CoordinationSetupError as exc:
                self._set(state="misconfigured", error=str(exc))
                self.log.error("coordination_misconfigured", error=str(exc))
            except Exception as exc:  # noqa: BLE001 - the daemon outlives a coordination outage
                error = logs.mask(f"{type(exc).__name__}: {exc}")
                self._set(state="unavailable", error=error)
                self.log.error("coordination_unavailable", error=error, retry_in_s=backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)

    # --- one session: connect, join, poll until stopped ------------------------------------------

    def _kafka_kwargs(self) -> dict:
        return {
            "bootstrap_servers": list(self.connection.bootstrap_servers),
            "client_id": self.connection.client_id,
            "request_timeout_ms": int(self.connection.request_timeout_s * 1000) + 5000,
            "bootstrap_timeout_ms": int(self.connection.request_timeout_s * 1000),
            **self.connection.security.client_kwargs(),
        }

    def _session(self) -> None:
        admin = kafka_connect.admin_client(self.connection)
        try:
            facts = topic.prepare(admin, self.settings, self.connection)
        finally:
            admin.close()
        if self._count is None:
            self._count = facts.partitions
            self.ownership.set_count(facts.partitions)
        elif facts.partitions != self._count:
            # Shards are hash mod S: a new S moves groups between shards, and their state with them. Keep
            # the S this process started with (the extra partitions own nothing) until it is restarted.
            self.log.error("coordination_partitions_changed", was=self._count, now=facts.partitions,
                           detail="restart every lagwatch process to use the new count")
        self._set(state="joining", error=None, shards=self._count)
        if self._producer is None:
            self._producer = KafkaProducer(
                acks="all", linger_ms=0, allow_auto_create_topics=False, retries=3,
                delivery_timeout_ms=int(self.connection.request_timeout_s * 1000) + 10_000,
                max_block_ms=int(self.connection.request_timeout_s * 1000), **self._kafka_kwargs(),
            )
            self.store.attach(self._producer)
        session_ms = int(self.settings.session_timeout_s * 1000)
        consumer = KafkaConsumer(
            group_id=self.settings.group_id,
            enable_auto_commit=False,  # membership only: lagwatch never commits, here or anywhere
            auto_offset_reset="earliest",
            allow_auto_create_topics=False,
            partition_assignment_strategy=[CooperativeStickyAssignor],
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=int(self.settings.heartbeat_s * 1000),
            max_poll_interval_ms=max(60_000, 2 * session_ms),
            max_poll_records=1000,
            **self._kafka_kwargs(),
        )
        try:
            consumer.subscribe([self.settings.topic], listener=self)
            self.log.info("coordination_joining", topic=self.settings.topic, shards=self._count,
                          session_timeout_s=self.settings.session_timeout_s)
            while not self._stop.is_set():
                self._step(consumer)
        finally:
            # close() revokes every owned partition (final writes, in on_partitions_revoked) and sends
            # LeaveGroup. autocommit=False: nothing is ever committed.
            try:
                consumer.close(autocommit=False)
            finally:
                left = owned(self.ownership.shares())
                if left:  # close() failed before revoking them: another member may own them by now
                    self.on_partitions_lost([TopicPartition(self.settings.topic, s) for s in left])
                self._set(state="stopped" if self._stop.is_set() else "unavailable", generation=-1, member_id="")

    def _step(self, consumer: KafkaConsumer) -> None:
        batch = consumer.poll(timeout_ms=200)
        self._heartbeat(consumer)
        meta = consumer.group_metadata()
        joined = meta.generation_id >= 0 and meta.state == "<stable>"
        if joined and (self.status.state != "member" or self.status.generation != meta.generation_id):
            self._set(state="member", error=None, generation=meta.generation_id, member_id=meta.member_id)
        with self._lock:
            reading = dict(self._reading)
        for tp, found in batch.items():
            state = reading.get(tp.partition)
            if state is None or state.end is None:
                continue  # fetched before the seek to the beginning: read again from there
            for record in found:
                self._apply(state, record)
        for shard, state in reading.items():
            tp = TopicPartition(self.settings.topic, shard)
            try:
                if state.end is None:
                    consumer.resume(tp)
                    consumer.seek_to_beginning(tp)
                    state.end = consumer.end_offsets([tp])[tp]
                if consumer.position(tp, timeout_ms=2000) >= state.end:
                    self._read_back(consumer, tp, state)
            except Exception as exc:  # noqa: BLE001 - revoked meanwhile, or a slow broker: next round
                self.log.debug("coordination_read_back_pending", shard=shard, error=str(exc))

    def _heartbeat(self, consumer: KafkaConsumer) -> None:
        """Keep alerts to a member that is surely still in the group. kafka-python's coordinator metric
        `last-heartbeat-seconds-ago` (the last heartbeat sent) stops growing only while the coordinator is
        reachable; after a gap longer than half the session timeout (coordinator unreachable, or this
        process frozen or starved), alerts wait two heartbeats more: if the broker evicted this member
        meanwhile, the answer to the first heartbeat says so (on_partitions_lost) before then."""
        fence = self.settings.session_timeout_s / 2
        mono = time.monotonic()
        stalled = self._last_check is not None and mono - self._last_check > fence
        self._last_check = mono
        try:
            ago = consumer.metrics()["consumer-coordinator-metrics"]["last-heartbeat-seconds-ago"]
        except (KeyError, TypeError):
            return  # no such metric in this kafka-python: no fence
        if ago is None or ago != ago or not 0 <= ago < 1e9:  # none sent yet (inf), or not a number
            self._set(heartbeat_age_s=None)
            return
        self._set(heartbeat_age_s=round(ago, 1))
        if stalled or ago > fence:
            self._recover_at = mono + 2 * self.settings.heartbeat_s
        elif mono >= self._recover_at:
            self.ownership.heartbeat(time.time() - ago, fence)

    def _apply(self, state: _ReadBack, record) -> None:
        if state.end is not None and record.offset >= state.end:
            return
        state.records += 1
        key = records.parse_key(record.key)
        if key is None:
            state.unreadable += 1
            return
        try:
            state.found[key] = records.parse_value(record.value)
        except (TypeError, ValueError):
            state.unreadable += 1

    def _read_back(self, consumer: KafkaConsumer, tp: TopicPartition, state: _ReadBack) -> None:
        shard = tp.partition
        with self._lock:
            if self._reading.get(shard) is not state:
                return  # revoked while being read
            del self._reading[shard]
        count = self.ownership.shares().count
        found = {k: v for k, v in state.found.items() if v is not None and shard_of(k[0], k[1], count) == shard}
        self.store.read_back(found)
        by_cluster: dict[str, dict] = {}
        for (cluster, group), part in found.items():
            by_cluster.setdefault(cluster, {})[group] = part
        alertings = self.alertings()
        for cluster, groups in by_cluster.items():
            alerting = alertings.get(cluster)
            if alerting is not None:
                alerting.adopt(records.join(groups))
        self.ownership.read_back(shard)
        consumer.pause(tp)  # nothing more to read: only this process writes there while it owns the shard
        self.log.info(
            "coordination_state_read", shard=shard, groups=len(found), records=state.records,
            unreadable=state.unreadable, misplaced=sum(1 for k, v in state.found.items() if v is not None) - len(found),
            duration_ms=round((time.monotonic() - state.started) * 1000, 1),
        )

    # --- rebalance callbacks (kafka-python's IO thread) -------------------------------------------

    def _shards(self, partitions) -> list[int]:
        count = self.ownership.shares().count
        return sorted(tp.partition for tp in partitions if tp.topic == self.settings.topic and tp.partition < count)

    def on_partitions_assigned(self, assigned) -> None:
        shards = self._shards(assigned)
        shares = self.ownership.assign(shards)
        with self._lock:
            for shard in shards:
                self._reading[shard] = _ReadBack()
        self._set(rebalanced=True)
        self.log.info("coordination_assigned", gained=shards, owned=list(owned(shares)))

    def on_partitions_revoked(self, revoked) -> None:
        self._give_up(revoked, hand_over=True)

    def on_partitions_lost(self, lost) -> None:
        self._give_up(lost, hand_over=False)

    def _give_up(self, partitions, hand_over: bool) -> None:
        shards = set(self._shards(partitions))
        if not shards:
            return
        started = time.monotonic()
        shares = self.ownership.release(shards)  # from here on no rule runs and nothing is sent for them
        with self._lock:
            for shard in shards:
                self._reading.pop(shard, None)
        wait_s = min(2.0, self.settings.heartbeat_s)
        alertings = self.alertings()
        written = 0
        for cluster in sorted(set(alertings) | self.store.clusters()):
            belongs = _in_shards(self.ownership, cluster, shards)
            alerting = alertings.get(cluster)
            section = alerting.release(belongs, wait_s) if alerting is not None else {}
            if hand_over:
                written += self.store.hand_over(cluster, section, belongs)
        self.store.forget(shards)
        self._set(rebalanced=True)
        self.log.info(
            "coordination_revoked" if hand_over else "coordination_lost",
            lost=sorted(shards), owned=list(owned(shares)), records_written=written,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )


def _in_shards(ownership: Ownership, cluster: str, shards: set[int]) -> Callable[[str], bool]:
    return lambda group: ownership.shard(cluster, group) in shards
