"""A built peer (bench/peers.py) started and measured on its own steady-state full scrape, against 127.0.0.1
only, on free ports:
- KMinion and kafka_exporter: one full `/metrics` (each call collects everything afresh from Kafka);
- Burrow: one `/metrics` once it holds the estate (it consumes `__consumer_offsets` and answers from memory),
  and, apart, the time from its start until `/metrics` first shows every committed group-partition.
Every answer is checked: rows and lag summed over the estate's groups. A peer that cannot be started or
scraped raises PeerFailed with the exact reason (its own output): that is its row in the report.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import procstat
from bench.peers import PEERS, Peer
from devstack.common import free_port


class PeerFailed(Exception):
    """A peer did not build, start or answer: the message is its row in the report."""


def _tail(path: Path, chars: int = 400) -> str:
    return " ".join(path.read_text(errors="replace")[-chars:].split())


def parse_lag(body: str, peer: Peer, prefix: str) -> tuple[int, int, int]:
    """(rows, groups, lag) of the per-partition lag metric over the estate's groups (`prefix-`). Negative
    values (kafka_exporter's -1 for a partition without a commit) are rows without a lag, not summed."""
    label = re.compile(peer.group_label + r'="([^"]*)"')
    rows, lag, groups = 0, 0, set()
    start = peer.metric + "{"
    for line in body.splitlines():
        if not line.startswith(start):
            continue
        match = label.search(line)
        if not match or not match.group(1).startswith(prefix + "-"):
            continue
        value = float(line.rsplit(" ", 1)[-1])
        groups.add(match.group(1))
        if value >= 0:
            rows += 1
            lag += int(value)
    return rows, len(groups), lag


class Running:
    """One started peer: `scrape()` times one full /metrics, `stop()` ends it and returns its peak RSS."""

    def __init__(self, peer: Peer, state: dict, cmd: list[str], env: dict, port: int, workdir: Path):
        self.peer, self.state, self.port, self.workdir = peer, state, port, workdir
        self.log_path = workdir / "out.log"
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                            stdin=subprocess.DEVNULL, cwd=workdir)
        self.started = time.perf_counter()
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.full_view_s: float | None = None
        self.rss_mb = float("nan")

    def _get(self, timeout: float) -> str:
        if self.process.poll() is not None:
            raise PeerFailed(f"exited {self.process.returncode}: {_tail(self.log_path)}")
        return urllib.request.urlopen(self.url, timeout=timeout).read().decode()

    def scrape(self, prefix: str, timeout: float) -> dict:
        cpu, _ = procstat.times(self.process.pid)
        started = time.perf_counter()
        try:
            body = self._get(timeout)
        except OSError as exc:
            raise PeerFailed(f"one /metrics did not answer within {timeout:.0f} s ({exc}); "
                             f"log: {_tail(self.log_path, 200)}") from exc
        wall = time.perf_counter() - started
        cpu_after, _ = procstat.times(self.process.pid)  # all threads (Go): their run-queue waits overlap
        rows, groups, lag = parse_lag(body, self.peer, prefix)
        return {"wall_s": wall, "cpu_s": cpu_after - cpu, "rows": rows,
                "groups": groups, "lag": lag, "bytes": len(body)}

    def stop(self) -> float:
        if self.process.poll() is None:
            self.rss_mb = procstat.vmhwm_mb(self.process.pid, missing=float("nan"))
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return self.rss_mb


def start(name: str, state: dict, bootstrap: str, spec, ready_timeout: float, log,
          expected_lag: int | None = None) -> Running:
    """Start a built peer and wait until it serves the whole estate: the first full scrape is a warm-up, not
    measured. Burrow is serving once /metrics shows every committed group-partition with the estate's lag
    (`expected_lag`: it computes lag against the broker offsets it fetched last, every 5 s); the time until
    then is its `full_view_s`."""
    peer = PEERS[name]
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix=f"lagwatch-bench-{name}-"))
    if name == "kafka_exporter":
        cmd = [state["binary"], f"--kafka.server={bootstrap}", f"--web.listen-address=127.0.0.1:{port}",
               "--kafka.version=3.0.0", "--log.level=warn"]
        env = dict(os.environ)
    elif name == "kminion":  # configured through the environment; consumer groups read with the admin API
        cmd = [state["binary"]]
        env = dict(os.environ, KAFKA_BROKERS=bootstrap, EXPORTER_HOST="127.0.0.1", EXPORTER_PORT=str(port),
                   MINION_CONSUMERGROUPS_SCRAPEMODE="adminApi", MINION_CONSUMERGROUPS_GRANULARITY="partition",
                   LOGGER_LEVEL="warn")
    else:
        (workdir / "burrow.toml").write_text(burrow_config(bootstrap, port, workdir))
        cmd = [state["binary"], "--config-dir", str(workdir)]
        env = dict(os.environ)
    running = Running(peer, state, cmd, env, port, workdir)
    try:
        _wait_ready(running, spec, ready_timeout, log, expected_lag)
    except BaseException:
        running.stop()
        raise
    return running


def burrow_config(bootstrap: str, http_port: int, workdir: Path) -> str:
    """No [zookeeper] and no notifier: Burrow 1.9 then starts no ZooKeeper client (core/burrow.go). Offsets
    every 5 s, start from the beginning of __consumer_offsets, in-memory storage, HTTP on 127.0.0.1."""
    return f"""
[general]
pidfile="{workdir / 'burrow.pid'}"
[logging]
level="warn"
[client-profile.bench]
client-id="burrow-bench"
kafka-version="3.0.0"
[cluster.bench]
class-name="kafka"
servers=["{bootstrap}"]
client-profile="bench"
topic-refresh=60
offset-refresh=5
[consumer.bench]
class-name="kafka"
cluster="bench"
servers=["{bootstrap}"]
client-profile="bench"
start-latest=false
[httpserver.default]
address="127.0.0.1:{http_port}"
[storage.default]
class-name="inmemory"
workers=20
intervals=15
expire-group=604800
min-distance=1
"""


def _wait_ready(running: Running, spec, timeout: float, log, expected_lag: int | None) -> None:
    deadline = running.started + timeout
    seen = (0, 0, 0)
    while time.perf_counter() < deadline:
        try:
            body = running._get(max(5.0, deadline - time.perf_counter()))
        except PeerFailed:
            raise
        except OSError:
            time.sleep(0.3)
            continue
        seen = parse_lag(body, running.peer, spec.prefix)
        complete = seen[0] >= spec.pairs and (expected_lag is None or seen[2] == expected_lag)
        if running.peer.name != "burrow" or complete:
            running.full_view_s = time.perf_counter() - running.started
            log(f"peer {running.peer.name}: serving after {running.full_view_s:.1f}s "
                f"({seen[0]:,} rows, {seen[1]:,} groups)")
            return
        time.sleep(0.5)
    raise PeerFailed(f"not serving the estate {timeout:.0f} s after start: /metrics showed {seen[0]:,} of "
                     f"{spec.pairs:,} group-partitions, lag {seen[2]:,} of {expected_lag or 0:,}; "
                     f"log: {_tail(running.log_path, 300)}")
