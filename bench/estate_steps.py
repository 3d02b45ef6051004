"""The steps that fill a broker with an estate (bench/estate.py runs them): topics, records, and the groups'
committed offsets, sent as many OffsetCommit requests in flight at once over bare connections."""

from __future__ import annotations

import itertools
import socket
import struct
import threading
import time
from collections.abc import Callable

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.protocol.consumer import OffsetCommitRequest, OffsetCommitResponse

from bench.estate_spec import EstateSpec
from exporter.kafka.wire import KafkaWire, error_name


class _Meter:
    """Progress lines at most once a second: done/total, rate, time left."""

    def __init__(self, what: str, total: int, progress: Callable[[str], None]):
        self.what, self.total, self.progress = what, total, progress
        self.started = self.last = time.monotonic()

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 1.0:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        left = (self.total - done) / rate if rate > 0 else float("inf")
        self.progress(
            f"{self.what} {done:,}/{self.total:,} ({100 * done / max(self.total, 1):.0f}%) "
            f"{rate:,.0f}/s, {left:.0f}s left"
        )

    def run(self, worker: Callable[[], None], threads: int, done: Callable[[], int]) -> None:
        """`threads` threads running `worker`; progress from `done()` until every one has returned."""
        pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
        for thread in pool:
            thread.start()
        while any(t.is_alive() for t in pool):
            self.update(done())
            time.sleep(0.2)

    def done(self) -> float:
        elapsed = time.monotonic() - self.started
        self.progress(f"{self.what} {self.total:,} done in {elapsed:.1f}s")
        return elapsed


def create_topics(admin: KafkaAdminClient, spec: EstateSpec, progress) -> None:
    existing = set(admin.list_topics())
    wanted = [spec.topic(i) for i in range(spec.topics) if spec.topic(i) not in existing]
    meter = _Meter("topics", len(wanted), progress)
    batch = max(1, 2000 // spec.partitions)  # about 2,000 partitions per CreateTopics request
    for start in range(0, len(wanted), batch):
        chunk = wanted[start : start + batch]
        admin.create_topics(
            [NewTopic(t, num_partitions=spec.partitions, replication_factor=1) for t in chunk],
            timeout_ms=120_000,
        )
        meter.update(start + len(chunk))
    meter.done()


def wait_for_leaders(admin: KafkaAdminClient, spec: EstateSpec, progress, timeout: float = 300) -> None:
    names = [spec.topic(i) for i in range(spec.topics)]
    deadline = time.monotonic() + timeout
    while True:
        ready = 0
        for start in range(0, len(names), 500):
            for topic in admin.describe_topics(names[start : start + 500]):
                ready += sum(1 for p in topic["partitions"] if p.get("leader_id") is not None and p["leader_id"] >= 0)
        if ready >= spec.partition_count:
            progress(f"all {ready:,} partitions have a leader")
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {ready}/{spec.partition_count} partitions have a leader after {timeout}s")
        progress(f"partitions with a leader: {ready:,}/{spec.partition_count:,}")
        time.sleep(1)


def produce(bootstrap: str, spec: EstateSpec, progress, threads: int = 16) -> None:
    """`records` records into every partition. Several threads share one producer: its first send to a
    topic waits for that topic's metadata, and those waits then overlap instead of adding up."""
    if spec.records <= 0:
        return
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, client_id="bench-estate", linger_ms=50, batch_size=64 * 1024, acks=1,
        max_in_flight_requests_per_connection=16,
    )
    total = spec.partition_count * spec.records
    meter = _Meter("records", total, progress)
    value = b"x" * 100
    topics = iter(range(spec.topics))
    lock = threading.Lock()
    sent = 0
    failures: list[BaseException] = []

    def worker() -> None:
        nonlocal sent
        try:
            while True:
                with lock:
                    index = next(topics, None)
                if index is None:
                    return
                topic = spec.topic(index)
                for partition in range(spec.partitions):
                    for _ in range(spec.records):
                        producer.send(topic, value=value, partition=partition)
                with lock:
                    sent += spec.partitions * spec.records
        except BaseException as exc:  # noqa: BLE001 - reported on the main thread
            failures.append(exc)

    try:
        meter.run(worker, threads, lambda: sent)
        if failures:
            raise failures[0]
        producer.flush(timeout=300)
    finally:
        producer.close(timeout=30)
    meter.done()


class _Connection:
    """A bare Kafka connection: one framed request out, its response back. The broker handles one request
    per connection at a time, so concurrency comes from many connections."""

    _VERSION = 8  # flexible OffsetCommit with topic names (v10 names topics by id)

    def __init__(self, address: str, client_id: str = "bench-estate"):
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client_id = client_id
        self.correlation = 0

    def call(self, request, response_class):
        self.correlation += 1
        request.with_header(correlation_id=self.correlation, client_id=self.client_id)
        self.sock.sendall(request.encode(version=self._VERSION, header=True, framed=True))
        size = struct.unpack(">i", self._read(4))[0]
        return response_class.decode(self._read(size), version=self._VERSION, header=True)

    def _read(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = self.sock.recv(min(left, 1 << 20))
            if not chunk:
                raise ConnectionError("broker closed the connection")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self.sock.close()


def commit_offsets(
    admin: KafkaAdminClient, spec: EstateSpec, progress, connections: int = 48, groups_from: int = 0
) -> None:
    """One OffsetCommit per group, from many connections at once: the group coordinator batches the
    appends of concurrent commits, so throughput grows with the number of commits in flight."""
    wire = KafkaWire(admin, timeout_s=60)
    coordinator_of = _coordinators(wire, spec, groups_from)
    addresses = {b.node_id: f"{b.host}:{b.port}" for b in wire.cluster.brokers()}
    meter = _Meter("group commits", spec.groups - groups_from, progress)
    work = itertools.islice(spec.assignments(), groups_from, None)
    lock = threading.Lock()
    done = 0
    failures: list[str] = []

    def worker() -> None:
        nonlocal done
        pool: dict[int, _Connection] = {}
        try:
            while not failures:
                with lock:
                    item = next(work, None)
                if item is None:
                    return
                group, tps = item
                node = coordinator_of(group)
                if node not in pool:
                    pool[node] = _Connection(addresses[node])
                request = _commit_request(spec, group, tps)
                for attempt in range(200):
                    response = pool[node].call(request, OffsetCommitResponse)
                    problems = {
                        error_name(p.error_code) for t in response.topics for p in t.partitions if p.error_code
                    }
                    # Right after __consumer_offsets is created its partitions are still loading.
                    if not problems & _RETRIABLE:
                        break
                    time.sleep(0.1)
                if problems:
                    failures.append(f"OffsetCommit {group}: {sorted(problems)}")
                with lock:
                    done += 1
        except Exception as exc:  # noqa: BLE001 - reported on the main thread
            failures.append(f"{type(exc).__name__}: {exc}")
        finally:
            for connection in pool.values():
                connection.close()

    meter.run(worker, connections, lambda: done)
    if failures:
        raise RuntimeError(f"{len(failures)} commits failed, first: {failures[0]}")
    meter.done()


_RETRIABLE = {"NotCoordinatorError", "CoordinatorLoadInProgressError", "CoordinatorNotAvailableError"}


def _commit_request(spec: EstateSpec, group: str, tps: list[tuple[str, int]]):
    Topic = OffsetCommitRequest.OffsetCommitRequestTopic
    Partition = Topic.OffsetCommitRequestPartition
    by_topic: dict[str, list[int]] = {}
    for topic, partition in tps:
        by_topic.setdefault(topic, []).append(partition)
    return OffsetCommitRequest(
        group_id=group,
        generation_id_or_member_epoch=-1,  # no generation, no member: a commit-only client
        member_id="",
        group_instance_id=None,
        topics=[
            Topic(
                name=topic,
                partitions=[
                    Partition(
                        partition_index=p,
                        committed_offset=spec.committed_offset(group, (topic, p)),
                        committed_leader_epoch=-1,
                        committed_metadata="",
                    )
                    for p in parts
                ],
            )
            for topic, parts in by_topic.items()
        ],
    )


def _coordinators(
    wire: KafkaWire, spec: EstateSpec, groups_from: int = 0, timeout: float = 120
) -> Callable[[str], int]:
    """The coordinator of every group, asked in batches (FindCoordinator v4 takes many keys). The first
    ask also makes the broker create __consumer_offsets: retried until every group has a coordinator."""
    from kafka.protocol.metadata import FindCoordinatorRequest

    names = [spec.group(i) for i in range(groups_from, spec.groups)]
    found: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(names):
        missing = [n for n in names if n not in found]
        for start in range(0, len(missing), 5000):
            response = wire.send(
                FindCoordinatorRequest(key_type=0, coordinator_keys=missing[start : start + 5000], min_version=4)
            )
            for row in response.coordinators:
                if not row.error_code:
                    found[row.key] = row.node_id
        if len(found) < len(names):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no coordinator for {len(names) - len(found)} groups after {timeout}s")
            time.sleep(0.5)
    return found.__getitem__


