"""Build a synthetic Kafka estate for the benchmark: T topics x P partitions with records, G groups with
committed offsets on a few partitions each.

    python -m bench.estate --bootstrap 127.0.0.1:9092 --estate W
    python -m bench.estate --bootstrap 127.0.0.1:9092 --topics 20 --partitions 5 --groups 100 \
        --partitions-per-group 1,2 --records 10

Named estates (issue #7): W (wide: 200 x 50 = 10,000 partitions, 1,000 groups of 50 partitions = 50,000
group-partition pairs) and G (many groups: 65,000 groups of one or two partitions on 200 x 2 partitions).

Offsets are committed the way a commit-only client does it (OffsetCommit with generation -1 and no member
id): the group exists with committed offsets and no members, like a stopped consumer. The commits are sent
as many OffsetCommit requests in flight at once through exporter.kafka_wire, which is what makes 65,000
groups take seconds, not minutes.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import random
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.protocol.consumer import OffsetCommitRequest, OffsetCommitResponse

from exporter.kafka.wire import KafkaWire, error_name


@dataclass(frozen=True)
class EstateSpec:
    name: str
    topics: int
    partitions: int
    groups: int
    partitions_per_group: tuple[int, ...]  # cycled over the groups: (1, 2) = alternately one and two
    records: int  # per partition
    prefix: str = "bench"

    @property
    def partition_count(self) -> int:
        return self.topics * self.partitions

    @property
    def pairs(self) -> int:
        cycle = self.partitions_per_group
        full, rest = divmod(self.groups, len(cycle))
        return full * sum(cycle) + sum(cycle[:rest])

    def topic(self, index: int) -> str:
        return f"{self.prefix}-t{index:05d}"

    def group(self, index: int) -> str:
        return f"{self.prefix}-g{index:06d}"

    def scaled(self, factor: float) -> EstateSpec:
        """The same shape with `factor` times the topics and groups (for smoke runs and growth curves)."""
        return dataclasses.replace(
            self,
            name=f"{self.name}x{factor:g}",
            topics=max(1, round(self.topics * factor)),
            groups=max(1, round(self.groups * factor)),
        )

    def describe(self) -> str:
        return (
            f"{self.name}: {self.topics} topics x {self.partitions} partitions = {self.partition_count:,} partitions, "
            f"{self.groups:,} groups, {self.pairs:,} group-partition pairs, {self.records} records/partition"
        )

    def assignments(self) -> Iterator[tuple[str, list[tuple[str, int]]]]:
        """(group, [(topic, partition), ...]): each group takes the next consecutive partitions, wrapping
        around, so every partition is committed by about the same number of groups."""
        total = self.partition_count
        cursor = 0
        for index in range(self.groups):
            size = min(self.partitions_per_group[index % len(self.partitions_per_group)], total)
            picked = []
            for k in range(size):
                flat = (cursor + k) % total
                picked.append((self.topic(flat // self.partitions), flat % self.partitions))
            cursor = (cursor + size) % total
            yield self.group(index), picked

    def committed_offset(self, group: str, tp: tuple[str, int]) -> int:
        """Somewhere between 0 and the log end, fixed per pair, so lag is non-zero and reproducible."""
        return random.Random(f"{group}/{tp[0]}/{tp[1]}").randint(0, self.records)


def expected_lag(spec: EstateSpec) -> int:
    """The estate's total lag as built: every partition holds `records` records (log-end offset), minus each
    pair's committed offset. What every tool should report, summed over the estate's groups."""
    return sum(spec.records - spec.committed_offset(group, tp) for group, tps in spec.assignments() for tp in tps)


ESTATES = {
    "W": EstateSpec("W", topics=200, partitions=50, groups=1000, partitions_per_group=(50,), records=20),
    "G": EstateSpec("G", topics=200, partitions=2, groups=65_000, partitions_per_group=(1, 2), records=20),
}


def stderr(message: str) -> None:
    sys.stderr.write(f"[estate] {message}\n")
    sys.stderr.flush()


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

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    try:
        for thread in pool:
            thread.start()
        while any(t.is_alive() for t in pool):
            meter.update(sent)
            time.sleep(0.2)
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

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        meter.update(done)
        time.sleep(0.2)
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


def build(
    bootstrap: str, spec: EstateSpec, progress: Callable[[str], None] = stderr, groups_from: int = 0
) -> dict[str, float]:
    """Create topics, produce records, commit offsets; returns seconds per step. With `groups_from`, the
    topics and the first groups_from groups exist already (a grown estate): only the new groups commit."""
    progress(f"building {spec.describe()} on {bootstrap}")
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, client_id="bench-estate", request_timeout_ms=180_000,
        max_in_flight_requests_per_connection=8,
    )
    timings = {}
    try:
        if not groups_from:
            started = time.monotonic()
            create_topics(admin, spec, progress)
            wait_for_leaders(admin, spec, progress)
            timings["topics_s"] = time.monotonic() - started
            started = time.monotonic()
            produce(bootstrap, spec, progress)
            timings["records_s"] = time.monotonic() - started
        started = time.monotonic()
        commit_offsets(admin, spec, progress, groups_from=groups_from)
        timings["commits_s"] = time.monotonic() - started
    finally:
        admin.close()
    progress(f"estate {spec.name} built: " + ", ".join(f"{k}={v:.1f}" for k, v in timings.items()))
    return timings


def spec_from_args(args: argparse.Namespace) -> EstateSpec:
    base = ESTATES[args.estate] if args.estate else EstateSpec("custom", 10, 5, 50, (1, 2), 10)
    changes = {}
    for name in ("topics", "partitions", "groups", "records", "prefix"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    if args.partitions_per_group:
        changes["partitions_per_group"] = tuple(int(x) for x in args.partitions_per_group.split(","))
    spec = dataclasses.replace(base, **changes)
    if args.scale != 1:
        spec = spec.scaled(args.scale)
    return spec


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--estate", choices=sorted(ESTATES), help="a named estate (other options override it)")
    parser.add_argument("--topics", type=int)
    parser.add_argument("--partitions", type=int, help="partitions per topic")
    parser.add_argument("--groups", type=int)
    parser.add_argument("--partitions-per-group", help="comma-separated sizes, cycled over groups, e.g. 1,2")
    parser.add_argument("--records", type=int, help="records per partition")
    parser.add_argument("--prefix", help="name prefix of topics and groups (default bench)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply topics and groups (e.g. 0.01)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.estate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", required=True, help="host:port of the broker to fill (127.0.0.1 only)")
    add_spec_arguments(parser)
    args = parser.parse_args(argv)
    build(args.bootstrap, spec_from_args(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
