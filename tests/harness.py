"""The one place tests get real Kafka and Elasticsearch from, and small helpers to drive them.

Services come from devstack (Maven Central jars) unless LAGWATCH_TEST_BOOTSTRAP /
LAGWATCH_TEST_ES_URL point at clusters somebody else runs.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from devstack import ElasticsearchNode, ExternalElasticsearch, ExternalKafka, KafkaBroker
from devstack.common import in_parallel, stop_process


# The Apache Kafka release of each broker a test may talk to, by bootstrap address (the version matrix's
# brokers register here): Kafka's own tools and clients are then run from that same release.
BROKER_VERSIONS: dict[str, str] = {}


def kafka_version_of(bootstrap: str) -> str:
    from devstack.versions import KAFKA_VERSION

    return BROKER_VERSIONS.get(bootstrap, KAFKA_VERSION)


def kafka_service() -> KafkaBroker | ExternalKafka:
    external = os.environ.get("LAGWATCH_TEST_BOOTSTRAP")
    return ExternalKafka(external) if external else KafkaBroker()


def elasticsearch_service() -> ElasticsearchNode | ExternalElasticsearch:
    external = os.environ.get("LAGWATCH_TEST_ES_URL")
    return ExternalElasticsearch(external) if external else ElasticsearchNode()


def opensearch_store(url: str):
    """lagwatch's OpenSearch store (exporter/sinks/opensearch.py) for the node at `url`, built as the daemon
    builds it from an `opensearch:` section."""
    from exporter.config import OpenSearchConfig
    from exporter.runtime.wiring import opensearch_store as build

    return build(OpenSearchConfig(hosts=[url]))


def opensearch_reader(url: str):
    """An opensearch-py client of the node at `url`: the independent client the tests read back with."""
    from opensearchpy import OpenSearch

    return OpenSearch(url, timeout=30)


def start_all(services: Iterable) -> None:
    """Start services side by side (each takes seconds of JVM start-up); raise the first failure."""
    in_parallel([service.start for service in services])


def unique(prefix: str) -> str:
    """Names unique per test so tests sharing one broker never see each other's topics or groups."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


STARVED_AT_MOST = 6  # a deadline stretches with the machine's load up to this many times, never forever


def load_factor() -> float:
    """How starved of CPU this machine is now: runnable processes per core (1-minute load average), at least 1
    and at most STARVED_AT_MOST. Brokers, Elasticsearch and Kafka's tools are other processes on the same cores:
    under a CPU hog they are merely slow, and a fixed wall-clock deadline would call that a failure."""
    return min(STARVED_AT_MOST, max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1)))


def wait_for(check: Callable[[], object], timeout: float = 30, interval: float = 0.2, what: str = "condition"):
    """Poll until `check()` is truthy and return it; never synchronise tests with bare sleeps. `timeout` is
    the deadline on an idle machine; it is stretched by the highest load_factor() seen while waiting, so the
    wait still ends (and fails) on a loaded one, only later."""
    began, factor = time.monotonic(), load_factor()
    last = None
    while time.monotonic() < began + timeout * factor:
        last = check()
        if last:
            return last
        time.sleep(interval)
        factor = max(factor, load_factor())
    raise AssertionError(
        f"timed out after {time.monotonic() - began:.0f}s ({timeout}s stretched {factor:.1f}x for the load) "
        f"waiting for {what} (last: {last!r})"
    )


class KafkaDriver:
    """Creates topics, produces, and consumes-and-commits on the test broker, as an application would."""

    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test-driver")
        self._producer: KafkaProducer | None = None

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5, acks="all")
        return self._producer

    def create_topic(
        self, name: str, partitions: int = 1, configs: dict[str, str] | None = None, replication: int = 1
    ) -> str:
        self.admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=replication, topic_configs=configs or {})]
        )
        wait_for(lambda: name in self.admin.list_topics(), what=f"topic {name}")
        return name

    def produce(self, topic: str, counts: dict[int, int]) -> None:
        """Produce counts[p] records to each partition p, and wait until all are acknowledged."""
        futures = [
            self.producer.send(topic, value=f"{p}-{i}".encode(), partition=p)
            for p, n in counts.items()
            for i in range(n)
        ]
        self.producer.flush()
        for future in futures:
            future.get(timeout=30)

    def commit(self, group: str, offsets: dict[TopicPartition, int]) -> None:
        """Commit offsets for `group` the way a consumer does: join-free, via a manually assigned consumer."""
        from kafka.structs import OffsetAndMetadata

        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False
        )
        try:
            consumer.assign(list(offsets))
            consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
        finally:
            consumer.close(autocommit=False)

    def consume(self, group: str, topic: str, count: int, keep_open: bool = False) -> KafkaConsumer:
        """Subscribe as a member of `group`, read `count` records, commit them; optionally stay a member."""
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max(1, count),
            client_id=f"{group}-client",
        )
        read = 0
        deadline = time.monotonic() + 60
        while read < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500, max_records=count - read).values():
                read += len(records)
        if read < count:
            consumer.close(autocommit=False)
            raise AssertionError(f"consumed only {read} of {count} records from {topic}")
        consumer.commit()
        if not keep_open:
            consumer.close(autocommit=False)
        return consumer

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
        self.admin.close()


def logged_cycle(pipeline, close: bool = True) -> tuple:
    """One cycle of a ClusterPipeline and the log events it wrote: (result, events). Its collector is closed
    after, unless `close` is False (a pipeline a test scrapes again)."""
    import structlog

    try:
        with structlog.testing.capture_logs() as events:
            result = pipeline.run_once()
    finally:
        if close:
            pipeline.collector.close()
    return result, events


def consumer_group_command(
    bootstrap: str, version: str | None = None, *, groups: Iterable[str] | None = None,
    command_config: str | None = None,
) -> dict[tuple[str, str, int], dict[str, int | None]]:
    """Kafka's own `kafka-consumer-groups --describe --all-groups` (or `--group` each of `groups`) of the
    broker's release (or `version`), parsed into rows keyed by (group, topic, partition); '-' becomes None.
    The reference our exactness tests compare with. `command_config`: its client properties file (SASL)."""
    from devstack.kafka import consumer_group_command_class, run_kafka_tool

    version = version or kafka_version_of(bootstrap)
    which = ["--all-groups"] if groups is None else [arg for g in groups for arg in ("--group", g)]
    config = ["--command-config", command_config] if command_config else []
    # The tool's own deadline (default 5 s) ran out on a starved machine and it printed no rows (rc 0).
    wait_ms = ["--timeout", str(int(30_000 * load_factor()))]
    result = run_kafka_tool(
        consumer_group_command_class(version),
        ["--bootstrap-server", bootstrap, "--describe", *which, *wait_ms, *config],
        version=version, timeout=120 * load_factor(),
    )
    if result.returncode != 0:
        raise AssertionError(f"ConsumerGroupCommand failed: {result.stderr[-2000:]}")
    rows = {}
    for line in result.stdout.splitlines():
        cells = line.split()
        if len(cells) < 6 or cells[0] == "GROUP":
            continue
        group, topic, partition, current, log_end, lag = cells[:6]
        if not partition.isdigit():
            continue  # a group id with spaces (other tests' odd names) splits differently: not ours

        def value(cell: str) -> int | None:
            return None if cell == "-" else int(cell)

        rows[(group, topic, int(partition))] = {
            "committed": value(current),
            "log_end": value(log_end),
            "lag": value(lag),
            "consumer_id": None if len(cells) < 7 or cells[6] == "-" else cells[6],
        }
    return rows


class RunningDaemon:
    """`lagwatch run -c CONFIG` as a real subprocess, its JSON log lines collected as they come."""

    def __init__(self, config_path: str, env: dict | None = None):
        import json
        import subprocess
        import sys

        self._json = json
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "exporter.cli", "run", "-c", config_path],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def events(self, name: str | None = None) -> list[dict]:
        found = []
        for line in list(self.lines):
            if line.startswith("{"):
                try:
                    event = self._json.loads(line)
                except ValueError:
                    continue
                if name is None or event.get("event") == name:
                    found.append(event)
        return found

    def wait_event(self, name: str, count: int = 1, timeout: float = 30) -> list[dict]:
        """The first `count` events called `name`; fails at once if the process exits without them."""

        def check():
            found = self.events(name)
            if len(found) >= count:
                return found
            if self.process.poll() is not None:
                self._reader.join(timeout=5)  # every line it wrote before it exited
                found = self.events(name)
                if len(found) < count:
                    tail = "\n".join(self.lines[-5:])
                    raise AssertionError(f"exited ({self.process.returncode}) before {count} x {name}:\n{tail}")
                return found
            return None

        return wait_for(check, timeout, what=f"{count} x {name}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float = 20) -> int:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def terminate(self, timeout: float = 20) -> tuple[int, float]:
        """SIGTERM, then the exit code and the seconds from the signal to the exit."""
        started = time.monotonic()
        self.signal(signal.SIGTERM)
        code = self.wait_exit(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def daemon_config(cluster: str, bootstrap: str | Iterable[str], es_url: str, prefix: str, *,
                  request_timeout_s: float | None = None, elasticsearch: dict | None = None, **sections) -> dict:
    """A lagwatch config for a test: one cluster named `cluster` at `bootstrap` (an address or several),
    Elasticsearch at `es_url` with index prefix `prefix` plus `elasticsearch`'s settings; every other keyword
    is a section as given (scrape, groups, alerts, spool, http, ...)."""
    servers = [bootstrap] if isinstance(bootstrap, str) else list(bootstrap)
    kafka = {"name": cluster, "bootstrap_servers": servers}
    if request_timeout_s is not None:
        kafka["request_timeout_s"] = request_timeout_s
    return {
        "clusters": [kafka],
        "elasticsearch": {"hosts": [es_url], "index_prefix": prefix, **(elasticsearch or {})},
        **sections,
    }


def write_config(path, config: dict) -> str:
    """`config` as the YAML file `path`; its path as a string, for `-c`."""
    import yaml

    path.write_text(yaml.safe_dump(config))
    return str(path)


def start_daemon(path, config: dict, env: dict | None = None) -> RunningDaemon:
    """`lagwatch run` on `config`, written to `path` first (a test may rewrite it there and send SIGHUP)."""
    return RunningDaemon(write_config(path, config), env=env)


class Blackhole:
    """Fault injection, not a stand-in: a TCP port that accepts connections and never answers, as a hung
    Elasticsearch node or webhook endpoint does (the kernel completes the handshake; nothing replies)."""

    def __init__(self):
        import socket

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(512)
        self._held: list = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._held.append(conn)  # read nothing, answer nothing

    def close(self) -> None:
        self._closed.set()
        self._sock.close()
        for conn in self._held:
            conn.close()


class JavaConsumer:
    """Kafka's own console consumer (the Java client) as a live member of a group, e.g. with
    `group.protocol=consumer` (KIP-848), which kafka-python cannot speak. Stopped with `stop()`."""

    def __init__(self, bootstrap: str, group: str, topic: str, *, protocol: str = "consumer",
                 client_id: str | None = None, auto_commit: bool = True, share: bool = False,
                 version: str | None = None):
        import subprocess

        from devstack.common import java_home
        from devstack.maven import kafka_libs

        self.client_id = client_id or f"{group}-java"
        main = "ConsoleShareConsumer" if share else "ConsoleConsumer"
        props = [f"client.id={self.client_id}"]
        if not share:
            props += [f"group.protocol={protocol}", f"enable.auto.commit={str(auto_commit).lower()}",
                      "auto.commit.interval.ms=200", "auto.offset.reset=earliest"]
        argv = [str(java_home() / "bin" / "java"), "-Xmx192m", "-XX:+UseSerialGC",
                "-cp", str(kafka_libs(version or kafka_version_of(bootstrap)) / "*"), f"org.apache.kafka.tools.consumer.{main}",
                "--bootstrap-server", bootstrap, "--topic", topic, "--group", group]
        for prop in props:
            argv += ["--consumer-property", prop]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def stop(self) -> None:
        stop_process(self.process, timeout=20)


class StreamsApp:
    """tests/resources/StreamsMember.java (a Kafka Streams application reading one topic with
    group.protocol=streams) as a live member of the streams group `application_id`."""

    def __init__(self, bootstrap: str, application_id: str, topic: str, version: str):
        import subprocess
        from pathlib import Path

        from devstack.common import java_home
        from devstack.maven import kafka_streams_libs

        self.client_id = f"{application_id}-streams"
        source = Path(__file__).parent / "resources" / "StreamsMember.java"
        argv = [str(java_home() / "bin" / "java"), "-Xmx256m", "-XX:+UseSerialGC",
                "-cp", str(kafka_streams_libs(version) / "*"), str(source),
                bootstrap, application_id, topic, self.client_id]
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def stop(self) -> None:
        stop_process(self.process, timeout=30)
