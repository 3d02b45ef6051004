"""The soak's services on 127.0.0.1: a 3-broker Kafka cluster (devstack/kafka_cluster.py) of the release with
share groups on by default, one Elasticsearch node, and the fault proxy in front of the node. Also the
driver's own probes of them (is every group's offset readable, is the node healthy), which decide when a
fault has settled.

The cluster and the node may be lent (`Stack(cluster=..., es=...)`): the test suite's session services, whose
last user the soak then is (tests/integration/test_soak.py). The soak faults them as its own, but leaves
stopping them to their owner.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import urllib.request

from devstack import ElasticsearchNode
from devstack.common import in_parallel
from devstack.kafka_cluster import KafkaCluster

from bench.soak.proxy import Proxy

# Share groups are on by default from 4.4 (KAFKA_MAIN, 4.1, has them only as a preview feature).
KAFKA_VERSION = "4.4.0"


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2])


class Stack:
    def __init__(self, seed: int, progress=print, cluster: KafkaCluster | None = None,
                 es: ElasticsearchNode | None = None):
        self.owned = cluster is None and es is None
        if not self.owned and (cluster is None or es is None):
            raise ValueError("lend both the cluster and the node, or neither")
        self.cluster = cluster or KafkaCluster(size=3, version=KAFKA_VERSION, progress=progress)
        self.es = es or ElasticsearchNode(progress=progress)
        self.proxy: Proxy | None = None
        self.seed = seed
        self._admin = None
        self._admin_lock = threading.Lock()

    @property
    def share_groups(self) -> bool:
        """Share groups are on by default on this cluster's release (before 4.4 the soak leaves them out)."""
        return _release(self.cluster.version) >= _release(KAFKA_VERSION)

    def start(self) -> Stack:
        if not self.owned:  # lent: already running
            self.proxy = Proxy(self.es.url, seed=self.seed).start()
            return self
        try:
            # Generous: JVMs start slowly on a busy machine (the soak is meant to run beside other work).
            in_parallel([lambda: self.cluster.start(timeout=600), lambda: self.es.start(timeout=600)])
        except BaseException:
            self.stop()
            raise
        self.proxy = Proxy(self.es.url, seed=self.seed).start()
        return self

    @property
    def bootstrap(self) -> list[str]:
        return [b.bootstrap for n, b in sorted(self.cluster.brokers.items()) if n <= 3]

    def admin(self):
        from kafka import KafkaAdminClient

        with self._admin_lock:
            if self._admin is None:
                self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="soak-probe",
                                               request_timeout_ms=5000)
            return self._admin

    def kafka_readable(self, workload) -> bool:
        """Every broker that should run is registered and unfenced, and the driver reads every group's
        committed offsets without an error."""
        expected = {n for n, b in self.cluster.brokers.items() if b.running and not b.frozen}
        if not expected <= self.cluster.live_broker_ids():
            return False
        names = [p.name for p in list(workload.plans.values())]
        admin = self.admin()
        with self._admin_lock:
            admin.list_group_offsets(names)
        return True

    def es_healthy(self) -> bool:
        with urllib.request.urlopen(f"{self.es.url}/_cluster/health", timeout=5) as answer:
            return json.load(answer).get("status") in ("yellow", "green")

    def stop(self) -> None:
        if self.es.pid is not None:  # a run ended during a freeze: thaw the node so it can stop
            try:
                os.killpg(os.getpgid(self.es.pid), signal.SIGCONT)
            except OSError:
                pass
        for node_id, broker in list(self.cluster.brokers.items()):
            if broker.frozen:  # likewise a broker
                try:
                    self.cluster.resume(node_id)
                except OSError:
                    pass
        if self.proxy is not None:
            self.proxy.stop()
        if self._admin is not None:
            try:
                self._admin.close()
            except Exception:  # noqa: BLE001
                pass
        for service in (self.cluster, self.es) if self.owned else ():
            try:
                service.stop()
            except Exception:  # noqa: BLE001 - stop everything we can
                pass
