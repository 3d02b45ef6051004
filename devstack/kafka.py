"""One Apache Kafka broker (KRaft, combined broker+controller) on 127.0.0.1, from Maven Central jars."""

from __future__ import annotations

import base64
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from devstack.common import Progress, StackError, free_port, java_home, stderr_progress
from devstack.maven import kafka_libs
from devstack.service import ExternalService, LocalService
from devstack.versions import KAFKA_VERSION

_LOG4J2 = """status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""

# Kafka 3.x ships reload4j (log4j 1) and its slf4j binding, which wins over ours on its classpath: the same
# broker log through log4j 1's configuration, or 3.x brokers would log nothing at all.
_LOG4J1 = """log4j.rootLogger=INFO, out
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.state.change.logger=WARN
"""

CONSUMER_GROUP_COMMAND = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"


def consumer_group_command_class(version: str) -> str:
    """Kafka's lag tool of a release: kafka-tools' since 3.7, the core jar's Scala one before."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return CONSUMER_GROUP_COMMAND if (major, minor) >= (3, 7) else "kafka.admin.ConsumerGroupCommand"


def _classpath(libs: Path) -> str:
    return str(libs / "*")


def run_kafka_tool(
    main_class: str,
    args: list[str],
    *,
    version: str = KAFKA_VERSION,
    timeout: float = 120,
    progress: Progress = stderr_progress,
) -> subprocess.CompletedProcess[str]:
    """Run one of Kafka's own command-line tools (e.g. ConsumerGroupCommand) from the cached jars."""
    libs = kafka_libs(version, progress)
    java = java_home() / "bin" / "java"
    return subprocess.run(
        [str(java), "-Xmx256m", "-cp", _classpath(libs), main_class, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class ExternalKafka(ExternalService):
    """A cluster somebody else runs (LAGWATCH_TEST_BOOTSTRAP): used as is, never started or stopped."""

    bootstrap: str
    log_path: Path | None = None
    what = "cluster"

    @property
    def address(self) -> str:
        return self.bootstrap


@dataclass
class KafkaBroker(LocalService):
    """A throw-away single-node KRaft cluster; `start()` returns once it answers a metadata request."""

    product = "Kafka"
    waiting_for = "Kafka broker"
    start_timeout = 120.0

    version: str = KAFKA_VERSION
    progress: Progress = stderr_progress
    # Extra server.properties (listeners for SASL/TLS tests, say); they override the defaults below.
    extra_properties: dict[str, str] = field(default_factory=dict)
    jvm_options: list[str] = field(default_factory=list)
    port: int = 0
    controller_port: int = 0
    workdir: Path | None = None
    # Members of a multi-node cluster (devstack/kafka_cluster.py) set these; one broker needs none.
    node_id: int = 1
    roles: str = "broker,controller"
    voters: str | None = None  # controller.quorum.voters; default: this node alone
    cluster_id: str | None = None
    replication: int = 1  # replication factor of the internal topics
    heap: str = "768m"
    frozen: bool = False  # SIGSTOPped by a fault test
    _process: subprocess.Popen | None = None
    _launch: tuple[list[str], dict] | None = None  # what start() ran, for restart()

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return self.bootstrap

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None, "broker not started"
        return self.workdir / "broker.log"

    def properties(self) -> dict[str, str]:
        assert self.workdir is not None
        controller = "controller" in self.roles
        listeners = f"PLAINTEXT://127.0.0.1:{self.port}"
        if controller:
            listeners += f",CONTROLLER://127.0.0.1:{self.controller_port}"
        replicas = str(self.replication)
        props = {
            "process.roles": self.roles,
            "node.id": str(self.node_id),
            "controller.quorum.voters": self.voters or f"{self.node_id}@127.0.0.1:{self.controller_port}",
            "listeners": listeners,
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            **self._storage_properties(),
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": "1",
            "log.flush.interval.messages": "1000000",
        }
        props.update(self.extra_properties)
        return props

    def _storage_properties(self) -> dict[str, str]:
        """Data directory, topic defaults and internal topics, for KRaft and ZooKeeper brokers alike."""
        assert self.workdir is not None
        replicas = str(self.replication)
        return {
            "log.dirs": str(self.workdir / "data"),
            "num.partitions": "1",
            # One node: every internal topic must live with a single replica.
            "offsets.topic.replication.factor": replicas,
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }

    def _prepare(self) -> None:
        """Write server.properties and the log configuration, and format the KRaft storage."""
        libs = kafka_libs(self.version, self.progress)
        java = java_home() / "bin" / "java"
        self.workdir = Path(tempfile.mkdtemp(prefix="lagwatch-kafka-"))
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()
        config = self.workdir / "server.properties"
        config.write_text("".join(f"{k}={v}\n" for k, v in self.properties().items()))
        (self.workdir / "log4j2.properties").write_text(_LOG4J2)
        (self.workdir / "log4j.properties").write_text(_LOG4J1)
        base = [
            str(java),
            "-Xms256m",
            f"-Xmx{self.heap}",
            f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
            f"-Dlog4j.configuration=file:{self.workdir / 'log4j.properties'}",
            *self.jvm_options,
            "-cp",
            _classpath(libs),
        ]
        # `--cluster-id=` form: an id starting with "-" (1 in 64) would otherwise be read as an option.
        cluster_id = self.cluster_id or base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        self.progress(f"formatting KRaft storage for Kafka {self.version} ...")
        fmt = subprocess.run(
            [*base, "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(config)],
            capture_output=True,
            text=True,
            check=False,
        )
        if fmt.returncode != 0:
            raise StackError(f"kafka storage format failed:\n{fmt.stdout}\n{fmt.stderr}")
        self.progress(f"starting Kafka {self.version} on {self.bootstrap} (log: {self.log_path}) ...")
        self._launch = ([*base, "kafka.Kafka", str(config)], {})

    def _is_ready(self) -> bool:
        """It answers a metadata request."""
        from kafka import KafkaAdminClient

        # A short bootstrap timeout: a probe sent before the broker listens would otherwise keep
        # retrying for kafka-python's default 30 s instead of letting the next poll try again.
        admin = KafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            client_id="lagwatch-devstack",
            request_timeout_ms=5000,
            bootstrap_timeout_ms=2000,
        )
        try:
            admin.list_topics()
            return True
        finally:
            admin.close()
