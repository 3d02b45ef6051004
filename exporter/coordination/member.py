"""The member of lagwatch's coordination group: membership in one thread, heartbeats in another.

The member thread joins the group (group.py: JoinGroup, the leader's assignment from assignment.py,
SyncGroup), applies the new assignment, and reads gained shards back; the heartbeat thread sends a Heartbeat
every interval and tells the member thread when to join again. Each partition of the coordination topic is
a shard:

- gained: the shard is reported at once; its partition is read from the beginning to the end offset it had
  when assigned (the state the previous owner left), with a plain consumer that never joins a group or
  commits; the state is adopted by the alert engine; from then on alerts are evaluated.
- revoked (the leader moved it, or this process leaves): alerts stop, the shard's latest state is written
  (the cooperative assignment gives a moving shard to its next owner only one rebalance later, after this
  process has rejoined), and the shard lingers.
- lost (the coordinator no longer knows this member, e.g. after a long pause): the state is dropped
  unwritten; the next owner has the last state written.

A member that is out of the group says why (`coordination_rejoining`), is not ready, and joins again;
the coordination topic's partitions are never committed and no topic is created here (topic.py decides).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kafka import KafkaConsumer, KafkaProducer

from exporter import logs
from exporter.config import Cluster, CoordinationConfig
from exporter.coordination import assignment, records, topic
from exporter.coordination.heartbeat import Heartbeats, Rejoin
from exporter.coordination.group import (
    CoordinatorUnavailable,
    GroupClient,
    GroupError,
    GroupRefused,
    NotAMember,
    RebalanceNeeded,
)
from exporter.coordination.ownership import Ownership, owned, shard_of
from exporter.coordination.readback import ReadBack, ShardReader
from exporter.coordination.store import ShardStateStore
from exporter.kafka import connect as kafka_connect
from exporter.kafka.wire import KafkaWire


@dataclass(frozen=True)
class MemberStatus:
    """What /readyz and /metrics say about the membership; replaced whole."""

    state: str = "starting"  # starting, joining, member, unavailable, misconfigured, stopped
    since: float = field(default_factory=time.time)
    error: str | None = None
    generation: int = -1
    member_id: str = ""
    shards: int = 0  # S
    rebalances: int = 0  # assignments changed (gained or lost shards)
    rejoins: int = 0  # times this member found itself out of the group and joined again


class Member:
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
        self._status_lock = threading.Lock()
        self._reader: ShardReader | None = None
        self._producer: KafkaProducer | None = None
        self._count: int | None = None
        self._beats: Heartbeats | None = None
        self._wake = threading.Event()  # the member thread: a rejoin to do, or a stop

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Member:
        self._thread = threading.Thread(target=self._run, name="lagwatch-coordination", daemon=True)
        self._thread.start()
        return self

    def leave(self, timeout_s: float) -> bool:
        """Leave the group (final writes of every owned shard, then LeaveGroup: the others take over at
        once instead of after the session timeout). False if the thread did not end in time."""
        self._stop.set()
        self._wake.set()
        alive = False
        if self._thread is not None:
            self._thread.join(max(0.0, timeout_s))
            alive = self._thread.is_alive()
        if self._producer is not None and not alive:
            self._producer.close(timeout=1)
        self._set(state="stopped")
        return not alive

    def heartbeat_age_s(self) -> float | None:
        """Seconds since the last heartbeat the coordinator answered was sent (None: not in a session)."""
        beats = self._beats
        return beats.age_s() if beats is not None else None

    def _set(self, **changes) -> None:
        with self._status_lock:  # the member thread and the heartbeat thread both change it
            if "state" in changes and changes["state"] != self.status.state:
                changes.setdefault("since", time.time())
            for counter in ("rebalances", "rejoins"):
                if changes.pop(counter, False):
                    changes[counter] = getattr(self.status, counter) + 1
            self.status = dataclasses.replace(self.status, **changes)

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                self._session()
                backoff = 1.0
            except (topic.CoordinationSetupError, GroupRefused) as exc:
                self._set(state="misconfigured", error=str(exc))
                self.log.error("coordination_misconfigured", error=str(exc))
            except Exception as exc:  # noqa: BLE001 - the daemon outlives a coordination outage
                error = logs.mask(f"{type(exc).__name__}: {exc}")
                self._set(state="unavailable", error=error)
                self.log.error("coordination_unavailable", error=error, retry_in_s=backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)

    # --- one session: connect, join, serve until stopped or cut off -------------------------------

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
        reader = None
        try:
            facts = topic.prepare(admin, self.settings, self.connection)
            if self._count is None:
                self._count = facts.partitions
                self.ownership.set_count(facts.partitions)
            elif facts.partitions != self._count:
                # Shards are hash mod S: a new S moves groups between shards, and their state with them. Keep
                # the S this process started with (the extra partitions own nothing) until it is restarted.
                self.log.error("coordination_partitions_changed", was=self._count, now=facts.partitions,
                               detail="restart every lagwatch process to use the new count")
            if self._producer is None:
                self._producer = KafkaProducer(
                    acks="all", linger_ms=0, allow_auto_create_topics=False, retries=3,
                    delivery_timeout_ms=int(self.connection.request_timeout_s * 1000) + 10_000,
                    max_block_ms=int(self.connection.request_timeout_s * 1000), **self._kafka_kwargs(),
                )
                self.store.attach(self._producer)
            # Reads gained shards back; group_id None: it can never join a group or commit.
            reader = KafkaConsumer(group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
                                   allow_auto_create_topics=False, max_poll_records=1000, **self._kafka_kwargs())
            self._reader = ShardReader(reader, self.settings.topic)
            group = GroupClient(
                KafkaWire(admin, self.connection.request_timeout_s), self.settings.group_id, self.settings.topic,
                session_timeout_s=self.settings.session_timeout_s,
                rebalance_timeout_s=self.settings.rebalance_timeout_s,
                request_timeout_s=self.connection.request_timeout_s,
            )
            self._set(state="joining", error=None, shards=self._count)
            self.log.info("coordination_joining", topic=self.settings.topic, shards=self._count,
                          session_timeout_s=self.settings.session_timeout_s)
            self._beats = Heartbeats(group, self.settings.heartbeat_s, self.settings.session_timeout_s,
                                     self._answered, self._wake).start()
            try:
                self._membership(group)
            finally:
                self._leave(group)
                self._beats.stop(timeout_s=0.5)
        finally:
            if reader is not None:
                reader.close()
            admin.close()
            self._set(state="stopped" if self._stop.is_set() else "unavailable", generation=-1, member_id="")

    def _membership(self, group: GroupClient) -> None:
        out_since: float | None = None  # monotonic: since when the coordinator has been out of reach
        while not self._stop.is_set():
            held = list(owned(self.ownership.shares()))
            self._beats.joining()
            try:
                joined = group.join(held)
                plan = assignment.assign(joined.members, self._count) if joined.leader else None
                synced_at = time.time()
                shards = group.sync(joined, plan)
            except RebalanceNeeded:
                continue  # yet another member joined before the assignment was handed out
            except NotAMember as exc:
                self._out_of_group(str(exc), held)
                continue
            except CoordinatorUnavailable as exc:
                out_since = out_since or time.monotonic()
                if time.monotonic() - out_since > self.settings.session_timeout_s:
                    raise  # a new session: new connections, from the bootstrap servers
                self._rejoining(str(exc), lost=False)
                self._stop.wait(self.settings.heartbeat_s)
                continue
            out_since = None
            self._beats.member_of(joined.generation, joined.member_id, synced_at)  # heartbeats during the writes
            lost = sorted(set(held) - set(shards))
            if lost:
                self._give_up(lost, hand_over=True)
            gained = sorted(set(shards) - set(held))
            if gained:
                self._gain(gained)
            self._set(state="member", error=None, generation=joined.generation, member_id=joined.member_id)
            if lost:
                continue  # cooperative: join again at once, so the shards given up reach their new owner
            rejoin = self._serve()
            if rejoin is not None and rejoin.lost:
                self._out_of_group(rejoin.reason, list(owned(self.ownership.shares())))

    def _serve(self) -> Rejoin | None:
        """Read gained shards back until the heartbeat thread says to join again (or the process stops)."""
        while not self._stop.is_set():
            rejoin = self._beats.rejoin()
            if rejoin is not None:
                return rejoin
            if self._reader:
                for state in self._reader.step():
                    self._read_back(state)
            else:
                self._wake.wait(0.2)
                self._wake.clear()
        return None

    def _out_of_group(self, reason: str, held: list[int]) -> None:
        """Not a member any more: the shards are somebody else's (dropped unwritten), join as a new member."""
        self._rejoining(reason, lost=True)
        if held:
            self._give_up(held, hand_over=False)

    def _rejoining(self, reason: str, lost: bool) -> None:
        self._set(state="joining", error=reason, generation=-1, rejoins=lost)
        self.log.warning("coordination_rejoining", reason=reason, shards_lost=lost)

    def _leave(self, group: GroupClient) -> None:
        """Stopping: every owned shard's final write, then LeaveGroup. Cut off: the shards are dropped."""
        left = list(owned(self.ownership.shares()))
        if left:
            self._give_up(left, hand_over=self._stop.is_set())
        self._beats.joining()  # no heartbeat after LeaveGroup
        if self._stop.is_set():
            try:
                group.leave()
            except GroupError as exc:
                self.log.warning("coordination_leave_failed", error=str(exc))

    def _answered(self, sent_wall: float) -> None:
        """The coordinator counted this member in when it answered: alerts may run until half a session
        timeout after the heartbeat was sent (ownership.py), before the broker could give the shards away."""
        self.ownership.heartbeat(sent_wall, self.settings.session_timeout_s / 2)

    # --- shards gained, read back, given up (the member thread) ----------------------------------

    def _gain(self, shards: list[int]) -> None:
        shares = self.ownership.assign(shards)
        self._reader.add(shards)
        self._set(rebalances=True)
        self.log.info("coordination_assigned", gained=shards, owned=list(owned(shares)))

    def _read_back(self, state: ReadBack) -> None:
        shard = state.shard
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
        self.log.info(
            "coordination_state_read", shard=shard, groups=len(found), records=state.records,
            unreadable=state.unreadable, misplaced=sum(1 for v in state.found.values() if v is not None) - len(found),
            duration_ms=round((time.monotonic() - state.started) * 1000, 1),
        )

    def _give_up(self, shards: list[int], hand_over: bool) -> None:
        """Revoked (hand_over: the latest state is written for the next owner) or lost (dropped unwritten)."""
        shards = {s for s in shards if s < self.ownership.shares().count}
        if not shards:
            return
        started = time.monotonic()
        shares = self.ownership.release(shards)  # from here on no rule runs and nothing is sent for them
        if self._reader is not None:
            self._reader.drop(shards)
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
        self._set(rebalances=True)
        self.log.info(
            "coordination_revoked" if hand_over else "coordination_lost",
            lost=sorted(shards), owned=list(owned(shares)), records_written=written,
            duration_ms=round((time.monotonic() - started) * 1000, 1),
        )


def _in_shards(ownership: Ownership, cluster: str, shards: set[int]) -> Callable[[str], bool]:
    return lambda group: ownership.shard(cluster, group) in shards
