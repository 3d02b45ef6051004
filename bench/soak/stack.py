"""The soak's services on 127.0.0.1: a 3-broker Kafka cluster (devstack/kafka_cluster.py) of the release with
share groups on by default, one Elasticsearch node, and the fault proxy in front of the node. Also the
driver's own probes of them (is every group's offset readable, is the node healthy), which decide when a
fault has settled.
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


class Stack:
    def __init__(self, seed: int, progress=print):
        self.cluster = KafkaCluster(size=3, version=KAFKA_VERSION, progress=progress)
        self.es = ElasticsearchNode(progress=progress)
        self.proxy: Proxy | None = None
        self.seed = seed
        self._admin = None
        self._admin_lock = threading.Lock()

    def start(self) -> Stack:
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
        if self.proxy is not None:
            self.proxy.stop()
        if self._admin is not None:
            try:
                self._admin.close()
            except Exception:  # noqa: BLE001
                pass
        for service in (self.cluster, self.es):
            try:
                service.stop()
            except Exception:  # noqa: BLE001 - stop everything we can
                pass
