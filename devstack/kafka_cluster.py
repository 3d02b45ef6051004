"""A multi-broker Apache Kafka cluster (KRaft) on 127.0.0.1 for fault tests: kill, freeze, restart, add.

Three combined broker+controller nodes with a three-voter quorum (a quorum survives one node down),
replication factor 3 for the internal topics, small heaps. Brokers are fenced quickly
(`broker.session.timeout.ms`), so a frozen broker's partitions and groups move within seconds.
"""

from __future__ import annotations

import base64
import os
import signal
import uuid
from dataclasses import dataclass, field

from devstack.common import Progress, free_port, in_parallel, stderr_progress, wait_until
from devstack.kafka import KafkaBroker
from devstack.versions import KAFKA_VERSION

# Fast failure detection: a broker that misses heartbeats for this long is fenced and loses leadership.
_FAST_FENCING = {
    "broker.session.timeout.ms": "6000",
    "broker.heartbeat.interval.ms": "1000",
    "offsets.topic.num.partitions": "12",
    "default.replication.factor": "3",
    "min.insync.replicas": "1",
    "unclean.leader.election.enable": "false",
}
_JVM = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k"]


@dataclass
class KafkaCluster:
    size: int = 3
    version: str = KAFKA_VERSION
    progress: Progress = stderr_progress
    heap: str = "512m"
    extra_properties: dict[str, str] = field(default_factory=dict)
    brokers: dict[int, KafkaBroker] = field(default_factory=dict)
    cluster_id: str = field(default_factory=lambda: base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
    _voters: str = ""

    @property
    def bootstrap(self) -> str:
        return ",".join(b.bootstrap for b in self.brokers.values())

    def _member(self, node_id: int, roles: str, controller_port: int = 0) -> KafkaBroker:
        return KafkaBroker(
            version=self.version,
            progress=self.progress,
            extra_properties={**_FAST_FENCING, **self.extra_properties},
            jvm_options=list(_JVM),
            port=free_port(),
            controller_port=controller_port,
            node_id=node_id,
            roles=roles,
            voters=self._voters,
            cluster_id=self.cluster_id,
            replication=min(3, self.size),
            heap=self.heap,
        )

    def start(self, timeout: float = 180) -> KafkaCluster:
        ports = {n: free_port() for n in range(1, self.size + 1)}
        self._voters = ",".join(f"{n}@127.0.0.1:{p}" for n, p in ports.items())
        self.brokers = {n: self._member(n, "broker,controller", ports[n]) for n in ports}
        self.progress(f"starting a {self.size}-node Kafka {self.version} cluster ...")
        try:
            for broker in self.brokers.values():
                broker.launch()
            self._wait_all_ready(list(self.brokers.values()), timeout)
        except BaseException:
            self.stop()
            raise
        self.progress(f"Kafka cluster ready on {self.bootstrap}")
        return self

    def _wait_all_ready(self, brokers: list[KafkaBroker], timeout: float) -> None:
        in_parallel([lambda b=b: b._wait_ready(timeout) for b in brokers])
        wait_until(lambda: self.live_broker_ids() >= {b.node_id for b in brokers}, timeout=timeout,
                   what="every broker registered in the cluster metadata")

    def live_broker_ids(self, via: int | None = None) -> set[int]:
        """Broker ids the cluster's metadata lists now (fenced brokers drop out)."""
        from kafka import KafkaAdminClient

        servers = self.brokers[via].bootstrap if via is not None else [
            b.bootstrap for b in self.brokers.values() if b.running and not b.frozen
        ]
        last: Exception | None = None
        for _ in range(5):  # the request may land on the broker that just died: ask again
            admin = KafkaAdminClient(bootstrap_servers=servers, client_id="lagwatch-devstack",
                                     request_timeout_ms=5000, bootstrap_timeout_ms=5000)
            try:
                return {b["broker_id"] for b in admin.describe_cluster()["brokers"] if not b.get("is_fenced")}
            except Exception as exc:  # noqa: BLE001
                last = exc
            finally:
                admin.close()
        raise last

    # --- faults -----------------------------------------------------------------------------------

    def kill(self, node_id: int) -> None:
        """SIGKILL: the broker is gone at once, as after a crash or a lost host."""
        broker = self.brokers[node_id]
        if broker._process is not None and broker._process.poll() is None:
            broker._process.kill()
            broker._process.wait(timeout=30)

    def freeze(self, node_id: int) -> None:
        """SIGSTOP: the broker accepts connections and answers nothing (a GC pause, a hung disk)."""
        os.kill(self.brokers[node_id].pid, signal.SIGSTOP)
        self.brokers[node_id].frozen = True

    def resume(self, node_id: int) -> None:
        os.kill(self.brokers[node_id].pid, signal.SIGCONT)
        self.brokers[node_id].frozen = False

    def restart(self, node_id: int, timeout: float = 120) -> None:
        """Start a killed broker again on its own data (it rejoins, catches up and is unfenced)."""
        broker = self.brokers[node_id]
        broker.restart(timeout)
        wait_until(lambda: node_id in self.live_broker_ids(), timeout=timeout, what=f"broker {node_id} rejoined")

    def add_broker(self, timeout: float = 120) -> int:
        """A new broker-only node with the next id, formatted with the cluster's id: it joins the cluster."""
        node_id = max(self.brokers) + 1
        broker = self._member(node_id, "broker")
        broker.launch()
        self.brokers[node_id] = broker
        broker._wait_ready(timeout)
        wait_until(lambda: node_id in self.live_broker_ids(), timeout=timeout, what=f"broker {node_id} joined")
        return node_id

    def stop(self) -> None:
        for broker in self.brokers.values():
            if broker.frozen and broker.pid is not None:
                try:
                    os.kill(broker.pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            broker.stop()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(f"--- broker {n}\n{b.log_tail(lines)}" for n, b in self.brokers.items() if b.workdir)
