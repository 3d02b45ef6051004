"""The tools our users would run instead, installed by package name at bench time, never committed.

- kafka_exporter and KMinion: `go install <module>@latest` through the Go module proxy into
  ~/.cache/lagwatch/bench/gobin; measured as the time of one full /metrics scrape.
- Burrow: Debian's `burrow` package (plus Debian's `zookeeper`, which Burrow 1.x needs for itself);
  measured as the time from its start until its HTTP API lists every group with lag.

Every program listens on and talks to 127.0.0.1 only. When a peer cannot be installed or does not work
against our Kafka, `measure` says exactly why (from its own output) instead of a number.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from exporter.devstack.common import cache_dir, free_port

GO_MODULES = {
    "kafka_exporter": ("github.com/danielqsj/kafka_exporter", "kafka_exporter"),
    "kminion": ("github.com/redpanda-data/kminion/v2", "kminion"),
}
_setup: dict[str, dict] = {}


def bench_cache() -> Path:
    path = cache_dir() / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def setup(names: list[str], log: Callable[[str], None]) -> dict[str, dict]:
    for name in names:
        if name in GO_MODULES:
            _setup[name] = _go_install(name, log)
        elif name == "burrow":
            _setup[name] = _apt_install(["burrow", "zookeeper"], "/usr/bin/Burrow", log)
        else:
            _setup[name] = {"ok": False, "why": f"unknown peer {name!r}"}
        state = _setup[name]
        log(f"peer {name}: " + (f"installed {state.get('version', '')}" if state["ok"] else state["why"]))
    return _setup


def _go_install(name: str, log) -> dict:
    module, binary = GO_MODULES[name]
    gobin = bench_cache() / "gobin"
    target = gobin / binary
    if target.exists():
        return {"ok": True, "binary": str(target), "version": _go_version(target)}
    if not shutil.which("go"):
        return {"ok": False, "why": "no Go toolchain on this machine"}
    env = dict(os.environ, GOBIN=str(gobin), GOFLAGS="-mod=mod")
    log(f"go install {module}@latest ...")
    done = subprocess.run(["go", "install", f"{module}@latest"], capture_output=True, text=True, env=env,
                          timeout=900, check=False)
    if done.returncode != 0 or not target.exists():
        message = " ".join(done.stderr.split())[-400:]
        return {"ok": False, "why": f"`go install {module}@latest` failed: {message}"}
    return {"ok": True, "binary": str(target), "version": _go_version(target)}


def _go_version(binary: Path) -> str:
    done = subprocess.run(["go", "version", "-m", str(binary)], capture_output=True, text=True, check=False)
    match = re.search(r"^\s*mod\s+\S+\s+(\S+)", done.stdout, re.M)
    return match.group(1) if match else ""


def _apt_install(packages: list[str], binary: str, log) -> dict:
    missing = [p for p in packages if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        if os.geteuid() != 0:
            return {"ok": False, "why": f"Debian packages {missing} missing and not root to install them"}
        log(f"apt-get install {' '.join(missing)} ...")
        done = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing],
                              capture_output=True, text=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
                              check=False)
        if done.returncode != 0:
            return {"ok": False, "why": f"apt-get install {missing} failed: {done.stderr.strip()[-300:]}"}
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", packages[0]], capture_output=True,
                             text=True).stdout
    return {"ok": True, "binary": binary, "version": version}


def measure(name: str, bootstrap: str, spec, runs: int, log) -> dict:
    state = _setup.get(name) or {"ok": False, "why": "not set up"}
    if not state["ok"]:
        return {"ran": False, "why": state["why"]}
    try:
        if name == "burrow":
            return _burrow(state, bootstrap, spec, runs, log)
        return _metrics_exporter(name, state, bootstrap, spec, runs, log)
    except Exception as exc:  # noqa: BLE001 - a peer's failure is a result, not the bench's end
        return {"ran": False, "why": f"{type(exc).__name__}: {exc}"}


# --- Prometheus exporters: time of one full /metrics scrape ----------------------------------------


def _metrics_exporter(name: str, state: dict, bootstrap: str, spec, runs: int, log) -> dict:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix=f"lagwatch-bench-{name}-"))
    if name == "kafka_exporter":
        cmd = [state["binary"], f"--kafka.server={bootstrap}", f"--web.listen-address=127.0.0.1:{port}",
               "--kafka.version=3.0.0", "--log.level=warn"]
        env = dict(os.environ)
    else:  # kminion: configured through the environment; consumer groups read with the admin API
        cmd = [state["binary"]]
        env = dict(os.environ, KAFKA_BROKERS=bootstrap, EXPORTER_HOST="127.0.0.1", EXPORTER_PORT=str(port),
                   MINION_CONSUMERGROUPS_SCRAPEMODE="adminApi", MINION_CONSUMERGROUPS_GRANULARITY="partition",
                   LOGGER_LEVEL="warn")
    log_path = workdir / "out.log"
    with open(log_path, "wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                return {"ran": False, "why": f"exited {process.returncode}: {log_path.read_text()[-400:]}"}
            try:
                urllib.request.urlopen(url, timeout=5).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    return {"ran": False, "why": f"/metrics not answering after 120 s: {log_path.read_text()[-400:]}"}
                time.sleep(0.5)
        walls, groups_seen = [], 0
        for index in range(runs):
            started = time.perf_counter()
            body = urllib.request.urlopen(url, timeout=900).read().decode()
            walls.append(time.perf_counter() - started)
            groups_seen = len(set(re.findall(r'consumergroup="([^"]+)"', body)) |
                              set(re.findall(r'group_id="([^"]+)"', body)))
            log(f"{name} scrape {index + 1}/{runs}: {walls[-1]:.2f}s, {groups_seen:,} groups in /metrics")
        rss = _vmhwm(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    from bench.run import spread

    return {"ran": True, "version": state.get("version", ""), "what": "one full /metrics scrape",
            "wall_s": spread(walls), "peak_rss_mb": spread([rss]), "groups_seen": groups_seen}


def _vmhwm(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# --- Burrow: time until its API reports lag for every group ----------------------------------------


def _burrow(state: dict, bootstrap: str, spec, runs: int, log, wait_s: float = 90) -> dict:
    walls, rss, why = [], [], ""
    for index in range(runs):
        wall, peak, why = _burrow_once(state, bootstrap, spec, wait_s, log)
        if wall is None:
            break
        walls.append(wall)
        rss.append(peak)
        log(f"burrow run {index + 1}/{runs}: every group listed with lag after {wall:.2f}s, rss {peak:.0f} MB")
    if not walls:
        return {"ran": False, "why": why}
    from bench.run import spread

    return {"ran": True, "version": state.get("version", ""), "what": "start until every group has lag",
            "wall_s": spread(walls), "peak_rss_mb": spread(rss)}


def _burrow_once(state, bootstrap, spec, wait_s, log):
    workdir = Path(tempfile.mkdtemp(prefix="lagwatch-bench-burrow-"))
    zk_port, http_port = free_port(), free_port()
    (workdir / "zk").mkdir()
    (workdir / "zoo.cfg").write_text(
        f"tickTime=2000\ndataDir={workdir / 'zk'}\nclientPort={zk_port}\nclientPortAddress=127.0.0.1\n"
        "admin.enableServer=false\n"
    )
    shutil.copy("/etc/zookeeper/conf_example/log4j.properties", workdir)
    burrow_dir = workdir / "burrow"
    burrow_dir.mkdir()
    (burrow_dir / "burrow.toml").write_text(f"""
[general]
pidfile="{workdir / 'burrow.pid'}"
[logging]
level="info"
[zookeeper]
servers=["127.0.0.1:{zk_port}"]
timeout=6
root-path="/burrow"
[client-profile.bench]
client-id="burrow-bench"
kafka-version="2.1.0"
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
""")
    zk_log, burrow_log = open(workdir / "zk.log", "wb"), open(workdir / "burrow.log", "wb")
    zk = subprocess.Popen(["/usr/share/zookeeper/bin/zkServer.sh", "start-foreground", str(workdir / "zoo.cfg")],
                          stdout=zk_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, ZOOCFGDIR=str(workdir), ZOO_LOG_DIR=str(workdir)))
    burrow = None
    try:
        _wait_port(zk_port, 60)
        started = time.perf_counter()
        burrow = subprocess.Popen([state["binary"], "--config-dir", str(burrow_dir)], stdout=burrow_log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{http_port}/v3/kafka/bench"
        deadline = started + wait_s
        listed = 0
        while time.perf_counter() < deadline:
            if burrow.poll() is not None:
                return None, 0, f"Burrow exited {burrow.returncode}: {_tail(workdir / 'burrow.log')}"
            try:
                listed = len(json.loads(urllib.request.urlopen(f"{base}/consumer", timeout=30).read())["consumers"])
            except (OSError, ValueError, KeyError):
                listed = 0
            if listed >= spec.groups and _burrow_has_lag(base, spec):
                return time.perf_counter() - started, _vmhwm(burrow.pid), ""
            time.sleep(0.2)
        return None, _vmhwm(burrow.pid), _burrow_why(workdir / "burrow.log", listed, spec, wait_s)
    finally:
        for process in (burrow, zk):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        zk_log.close(), burrow_log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _burrow_has_lag(base: str, spec) -> bool:
    """Lag for the first and the last group (the API answers per group)."""
    for index in (0, spec.groups - 1):
        try:
            status = json.loads(urllib.request.urlopen(f"{base}/consumer/{spec.group(index)}/lag", timeout=30).read())
        except (OSError, ValueError):
            return False
        if status.get("error") or not status.get("status", {}).get("partitions"):
            return False
    return True


def _burrow_why(log_path: Path, listed: int, spec, wait_s: float) -> str:
    text = log_path.read_text(errors="replace")
    reasons = []
    versions = re.findall(r'"failed to decode".*?"reason":"([^"]+)","version":(\d+)', text)
    if versions:
        kinds = sorted({f"{r} {v}" for r, v in versions})
        reasons.append(f"Burrow could not decode {len(versions):,} __consumer_offsets records ({', '.join(kinds)}: "
                       "Kafka 4.x writes offset-commit values in a newer format than Burrow knows)")
    fetch = text.count("failed to fetch offsets from broker")
    if fetch:
        reasons.append(f"{fetch} 'failed to fetch offsets from broker' errors (its client sends ListOffsets v0, "
                       "which Kafka 4.0 removed, KIP-896; the broker answers UnsupportedVersionException)")
    reasons.append(f"after {wait_s:.0f} s its API listed {listed:,} of {spec.groups:,} groups")
    return "; ".join(reasons)


def _tail(path: Path, chars: int = 400) -> str:
    return " ".join(path.read_text(errors="replace")[-chars:].split())


def _wait_port(port: int, timeout: float) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # Listening is not serving yet: ZooKeeper answers the four-letter `srvr` once it serves.
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"srvr")
                if b"Mode" in sock.recv(4096):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"ZooKeeper did not listen on 127.0.0.1:{port} within {timeout:.0f} s")
