"""An Apache Kafka 2.x broker with its ZooKeeper on 127.0.0.1, from Maven Central jars: the oldest releases
lagwatch reads (`exporter/versions.py`), as clusters whose upgrades are slow still run them.

`kafka_2.13:<2.x>` brings ZooKeeper in its runtime closure, so one jar directory runs both: ZooKeeper with
`QuorumPeerMain zk.properties`, then the broker with `kafka.Kafka server.properties`. Both run on JDK 17.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from devstack.common import Progress, free_port, java_home, stderr_progress
from devstack.kafka import _LOG4J1, KafkaBroker
from devstack.maven import kafka_libs
from devstack.service import LocalService


@dataclass
class ZooKeeper(LocalService):
    product = "ZooKeeper"
    waiting_for = "ZooKeeper"
    start_timeout = 60.0

    libs: Path | None = None
    version: str = ""
    progress: Progress = stderr_progress
    port: int = 0
    workdir: Path | None = None
    _process: subprocess.Popen | None = None
    _launch: tuple[list[str], dict] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "zookeeper.log"

    def _prepare(self) -> None:
        assert self.libs is not None
        self.workdir = Path(tempfile.mkdtemp(prefix="lagwatch-zookeeper-"))
        self.port = self.port or free_port()
        (self.workdir / "zk.properties").write_text(
            f"dataDir={self.workdir / 'data'}\nclientPort={self.port}\nclientPortAddress=127.0.0.1\n"
            "admin.enableServer=false\nmaxClientCnxns=0\n"
        )
        (self.workdir / "log4j.properties").write_text(_LOG4J1)
        self._launch = ([
            str(java_home() / "bin" / "java"), "-Xms32m", "-Xmx128m", "-XX:+UseSerialGC",
            f"-Dlog4j.configuration=file:{self.workdir / 'log4j.properties'}",
            "-cp", str(self.libs / "*"), "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            str(self.workdir / "zk.properties"),
        ], {})

    def _is_ready(self) -> bool:
        import socket

        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"srvr")  # a four-letter word every 3.5 server answers (whitelisted by default)
            return b"Mode:" in sock.recv(4096)


@dataclass
class ZooKeeperKafka(KafkaBroker):
    """One Kafka 2.x broker (`broker.id` 1) on a ZooKeeper of its own; the same interface as KafkaBroker."""

    version: str = "2.8.2"
    zookeeper: ZooKeeper | None = field(default=None)

    def properties(self) -> dict[str, str]:
        assert self.workdir is not None and self.zookeeper is not None
        props = {
            "broker.id": str(self.node_id),
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "zookeeper.connect": self.zookeeper.address,
            **self._storage_properties(),
        }
        props.update(self.extra_properties)
        return props

    def _prepare(self) -> None:
        libs = kafka_libs(self.version, self.progress)
        if self.zookeeper is None:
            self.zookeeper = ZooKeeper(libs=libs, version=self.version, progress=self.progress)
        if not self.zookeeper.running:
            self.zookeeper.start()
        try:
            self._prepare_broker(libs)
        except BaseException:
            self.zookeeper.stop()  # never a ZooKeeper left running without its broker
            raise

    def _prepare_broker(self, libs: Path) -> None:
        assert self.zookeeper is not None
        self.workdir = Path(tempfile.mkdtemp(prefix="lagwatch-kafka-"))
        self.port = self.port or free_port()
        config = self.workdir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in self.properties().items()))
        (self.workdir / "log4j.properties").write_text(_LOG4J1)
        self.progress(f"starting Kafka {self.version} (ZooKeeper {self.zookeeper.address}) on {self.bootstrap} ...")
        self._launch = ([
            str(java_home() / "bin" / "java"), "-Xms128m", f"-Xmx{self.heap}", *self.jvm_options,
            f"-Dlog4j.configuration=file:{self.workdir / 'log4j.properties'}",
            "-cp", str(libs / "*"), "kafka.Kafka", str(config),
        ], {})

    def stop(self, keep_files: bool = False) -> None:
        """The broker, then its ZooKeeper: the process always (a broker that failed to start stops with
        keep_files), its data only with the broker's."""
        super().stop(keep_files)
        if self.zookeeper is not None:
            self.zookeeper.stop(keep_files)
            if not keep_files:
                self.zookeeper = None

    def restart(self, timeout: float | None = None):
        if self.zookeeper is not None and not self.zookeeper.running:
            self.zookeeper.restart()
        return super().restart(timeout)
