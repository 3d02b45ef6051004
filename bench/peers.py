"""The tools our users would run instead: built from the operator's source checkouts, never committed.

Each peer is built with `go build` in a checkout the operator made (one directory per peer under
`--peers-src DIR` or `LAGWATCH_PEERS_SRC`, named as in PEERS: kminion, kafka_exporter, burrow); the binary goes
into ~/.cache/lagwatch/bench/peers/, keyed by the checkout's commit. Without a checkout the bench falls back to
`go install <module>@<tag>` through the Go module proxy (the proxy this machine may use refuses all three with
403; bench/README.md). Every dependency of a `go build` comes from the Go module proxy.

A running peer is measured on its own steady-state full scrape, against 127.0.0.1 only, on free ports:
- KMinion and kafka_exporter: one full `/metrics` (each call collects everything afresh from Kafka);
- Burrow: one `/metrics` once it holds the estate (it consumes `__consumer_offsets` and answers from memory),
  and, apart, the time from its start until `/metrics` first shows every committed group-partition.
Every answer is checked: rows and lag summed over the estate's groups. A peer that cannot be built, started or
scraped gets its row with the exact reason (its own output).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import procstat
from devstack.common import cache_dir, free_port


@dataclass(frozen=True)
class Peer:
    name: str
    repository: str  # what the operator clones
    tag: str  # the release measured here (bench/README.md)
    commit: str
    module: str  # go.mod's module line: the checkout is checked against it
    install: str  # the `go install` fallback
    metric: str  # the per-partition lag metric in /metrics
    group_label: str

    @property
    def installed_binary(self) -> str:
        """What `go install` names the binary: the module path's last element (before a /vN suffix)."""
        parts = self.module.split("/")
        return parts[-2] if re.fullmatch(r"v\d+", parts[-1]) else parts[-1]


PEERS = {
    "kminion": Peer("kminion", "https://github.com/redpanda-data/kminion", "v2.3.5",
                    "4f3867a4400b731feda1f17f2e96dea36158d2ab", "github.com/cloudhut/kminion/v2",
                    "github.com/cloudhut/kminion/v2@v2.3.5",
                    "kminion_kafka_consumer_group_topic_partition_lag", "group_id"),
    "kafka_exporter": Peer("kafka_exporter", "https://github.com/danielqsj/kafka_exporter", "v1.9.0-15-g953e2f1",
                           "953e2f1745b90101f331ad629f10be5239845f69", "github.com/danielqsj/kafka_exporter",
                           "github.com/danielqsj/kafka_exporter@v1.9.0", "kafka_consumergroup_lag",
                           "consumergroup"),
    "burrow": Peer("burrow", "https://github.com/linkedin/Burrow", "v1.9.5",
                   "ced55ba90f6b833a45a124d411fd5eef63a70933", "github.com/linkedin/Burrow",
                   "github.com/linkedin/Burrow@v1.9.5", "burrow_kafka_consumer_partition_lag", "consumer_group"),
}
SRC_ENV = "LAGWATCH_PEERS_SRC"


class PeerFailed(Exception):
    """A peer did not build, start or answer: the message is its row in the report."""


def bench_cache() -> Path:
    path = cache_dir() / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_command(out: Path) -> list[str]:
    return ["go", "build", "-o", str(out), "."]


# --- building ------------------------------------------------------------------------------------


def setup(names: list[str], src_root: str | None, log: Callable[[str], None]) -> dict[str, dict]:
    """Build (or find in the cache) every named peer. Returns per peer {"ok", "binary", "version", ...} or
    {"ok": False, "why"}."""
    root = src_root or os.environ.get(SRC_ENV)
    states = {}
    for name in names:
        peer = PEERS.get(name)
        if peer is None:
            states[name] = {"ok": False, "why": f"unknown peer {name!r} (known: {', '.join(PEERS)})"}
        elif not shutil.which("go"):
            states[name] = {"ok": False, "why": "no Go toolchain (`go`) on PATH"}
        else:
            checkout = _checkout(Path(root), name) if root else None
            states[name] = _go_build(peer, checkout, log) if checkout else _go_install(peer, root, log)
        state = states[name]
        log(f"peer {name}: " + (f"{state['how']} {state.get('version', '')}" if state["ok"] else state["why"]))
    return states


def _checkout(root: Path, name: str) -> Path | None:
    for candidate in (root / name, root / name.capitalize(), root / PEERS[name].repository.rsplit("/", 1)[-1]):
        if (candidate / "go.mod").is_file():
            return candidate
    return None


def _git(checkout: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(checkout), *args], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def _go_build(peer: Peer, checkout: Path, log) -> dict:
    module = re.search(r"^module\s+(\S+)", (checkout / "go.mod").read_text(), re.M)
    if not module or module.group(1) != peer.module:
        found = module.group(1) if module else "none"
        return {"ok": False, "why": f"{checkout} is not a {peer.name} checkout (go.mod module {found}, "
                                    f"expected {peer.module})"}
    commit = _git(checkout, "rev-parse", "HEAD")
    version = _git(checkout, "describe", "--tags", "--always", "--dirty") or "unknown (not a git checkout)"
    dirty = not commit or version.endswith("-dirty")
    key = f"{peer.name}-{commit[:12]}" if commit else f"{peer.name}-nogit"
    out = bench_cache() / "peers" / key / peer.name
    state = {"ok": True, "how": "built", "binary": str(out), "version": version, "commit": commit,
             "checkout": str(checkout), "build": " ".join(build_command(out)), "go": _go_version(),
             "pinned": commit == peer.commit}
    if commit != peer.commit:
        log(f"peer {peer.name}: checkout at {commit or '?'} is not the commit bench/README.md names ({peer.commit})")
    if out.exists() and not dirty:
        return {**state, "build_s": 0.0, "cached": True}
    out.parent.mkdir(parents=True, exist_ok=True)
    log(f"peer {peer.name}: `{state['build']}` in {checkout} ({version}) ...")
    started = time.monotonic()
    done = subprocess.run(build_command(out), cwd=checkout, capture_output=True, text=True, timeout=1800,
                          check=False)
    if done.returncode != 0 or not out.exists():
        return {"ok": False, "why": f"`go build` in {checkout} failed: {' '.join(done.stderr.split())[-500:]}"}
    return {**state, "build_s": round(time.monotonic() - started, 1), "cached": False}


def _go_install(peer: Peer, root: str | None, log) -> dict:
    """Fallback without a checkout: `go install module@tag` through the Go module proxy."""
    gobin = bench_cache() / "gobin"
    target = gobin / peer.installed_binary
    spec = peer.install
    where = (f"no checkout under {root}/{peer.name}" if root
             else f"no source checkouts given (--peers-src or {SRC_ENV})")
    if target.exists():
        return {"ok": True, "how": "go install", "binary": str(target), "version": spec}
    log(f"peer {peer.name}: {where}; go install {spec} ...")
    env = dict(os.environ, GOBIN=str(gobin))
    done = subprocess.run(["go", "install", spec], capture_output=True, text=True, env=env, timeout=1800,
                          check=False)
    if done.returncode != 0 or not target.exists():
        message = " ".join(done.stderr.split())[-400:]
        return {"ok": False, "why": f"{where}, and `go install {spec}` failed: {message}"}
    return {"ok": True, "how": "go install", "binary": str(target), "version": spec}


def _go_version() -> str:
    done = subprocess.run(["go", "version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


# --- running ---------------------------------------------------------------------------------------


def _vmhwm(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


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
            self.rss_mb = _vmhwm(self.process.pid)
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
