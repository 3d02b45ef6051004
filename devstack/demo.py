"""`lagwatch demo`: the local stack, demo traffic with lag that rises and falls, and the real daemon.

A producer writes ~40 records/s to two topics; `demo-billing` consumes in phases (slower than the producer
for a minute, then faster), so its lag climbs and drains; `demo-audit` keeps up; `demo-idle` committed once
and left, so it shows as an Empty group with growing lag.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from exporter import config as config_module, logs

from exporter.runtime.daemon import Daemon
from devstack.common import stderr_progress
from devstack.elasticsearch import ElasticsearchNode
from devstack.kafka import KafkaBroker
from devstack.opensearch import OpenSearchNode

TOPICS = {"demo.orders": 6, "demo.payments": 3}
PRODUCE_PER_SECOND = 40


def _producer(bootstrap: str, stop: threading.Event) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, client_id="demo-producer")
    n = 0
    try:
        while not stop.is_set():
            for topic in TOPICS:
                producer.send(topic, f"event-{n}".encode())
            n += 1
            stop.wait(len(TOPICS) / PRODUCE_PER_SECOND)
    finally:
        producer.close(timeout=5)


def _consumer(bootstrap: str, group: str, topics: list[str], stop: threading.Event, phases) -> None:
    """Consume at a rate that follows `phases`: [(seconds, records per second), ...], repeated."""
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id=f"{group}-client",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        started = time.monotonic()
        cycle = sum(d for d, _ in phases)
        while not stop.is_set():
            at = (time.monotonic() - started) % cycle
            for duration, rate in phases:
                if at < duration:
                    break
                at -= duration
            batch = max(1, int(rate))
            records = consumer.poll(timeout_ms=500, max_records=batch)
            if records:
                consumer.commit()
            stop.wait(1.0)
    finally:
        consumer.close(autocommit=False)


def _idle(bootstrap: str, stop: threading.Event) -> None:
    """Read a little once, commit, leave: an Empty group whose lag grows with every record produced."""
    consumer = KafkaConsumer(
        "demo.payments", bootstrap_servers=bootstrap, group_id="demo-idle", client_id="demo-idle-client",
        enable_auto_commit=False, auto_offset_reset="earliest",
    )
    try:
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline and not consumer.poll(timeout_ms=500, max_records=20):
            pass
        consumer.commit()
    finally:
        consumer.close(autocommit=False)


def _create_topics(bootstrap: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="demo-setup")
    try:
        admin.create_topics([NewTopic(t, num_partitions=p, replication_factor=1) for t, p in TOPICS.items()])
    finally:
        admin.close()


def _lagwatch_command() -> str:
    """How the user ran lagwatch (`.venv/bin/lagwatch` from ./scripts/run), to print a command they can paste."""
    argv0 = sys.argv[0] if sys.argv else ""
    return argv0 if os.path.basename(argv0) == "lagwatch" else "lagwatch"


def run(stop: threading.Event, interval_s: float = 5.0, top: bool = False, store: str = "elasticsearch") -> int:
    """The demo until `stop`; with `top`, the live view runs in this terminal (the log goes to a file) and
    quitting it (q) ends the demo. `store`: "elasticsearch" or "opensearch" (the node and the config section)."""
    kafka, es = KafkaBroker(), (OpenSearchNode() if store == "opensearch" else ElasticsearchNode())
    threads: list[threading.Thread] = []
    traffic_stop = threading.Event()
    daemon = None
    try:
        kafka.start()
        es.start()
        _create_topics(kafka.bootstrap)
        workers = [
            (_producer, (kafka.bootstrap, traffic_stop)),
            (_consumer, (kafka.bootstrap, "demo-billing", list(TOPICS), traffic_stop, [(60, 15), (60, 90)])),
            (_consumer, (kafka.bootstrap, "demo-audit", ["demo.orders"], traffic_stop, [(60, 100)])),
            (_idle, (kafka.bootstrap, traffic_stop)),
        ]
        for target, args in workers:
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            threads.append(thread)
        config = config_module.parse(
            {
                "clusters": [{"name": "demo", "bootstrap_servers": [kafka.bootstrap]}],
                "scrape": {"interval_s": interval_s},
                store: {"hosts": [es.url]},
                "log": {"format": "console"},
            },
            environ={},
        )
        log_file = None
        if top:
            log_file = os.path.join(tempfile.mkdtemp(prefix="lagwatch-demo-"), "lagwatch.log")
            logs.configure(config.log.level, config.log.format, stream=open(log_file, "a", encoding="utf-8"))
        else:
            logs.configure(config.log.level, config.log.format)
        daemon = Daemon(config)
        daemon.start()
        stderr_progress(
            f"demo running: Kafka {kafka.bootstrap}, {es.product} {es.url} "
            f"(documents in {daemon.sink.name}); Ctrl-C stops"
        )
        if top:
            from exporter.top import main as top_view
            from exporter.top.view import ViewState

            top_view.live(config, ViewState(), interval_s, log_file, stop=stop)
            stderr_progress(f"live view closed; the daemon's log is in {log_file}; stopping the demo")
            return 0
        stderr_progress(
            f"watch it live in a second terminal: {_lagwatch_command()} top --bootstrap {kafka.bootstrap}"
            " (or run the demo as `lagwatch demo --top`)"
        )
        stop.wait()
        return 0
    finally:
        traffic_stop.set()
        if daemon is not None:
            daemon.stop()
        for thread in threads:
            thread.join(timeout=10)
        es.stop()
        kafka.stop()
