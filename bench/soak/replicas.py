"""The lagwatch processes under test: two replicas sharing the groups through a coordination group (index
`<p>-fleet`, group documents) and one plain process (index `<p>-plain`, partition granularity).

Each is a real `lagwatch run` with its own state directory (spool, alert state), kept across a SIGKILL and a
restart. Each start is one incarnation with its own log file (JSON lines, flushed per line, so a SIGKILLed
process's last lines are there). A sampler thread reads every live process's RSS and open files.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PLAIN, FLEET_A, FLEET_B = "plain", "fleet-a", "fleet-b"


@dataclass
class Incarnation:
    name: str
    number: int
    log: Path
    process: subprocess.Popen
    started: float
    ended: float | None = None
    how: str = "running"  # running | killed | stopped
    port: int | None = None


@dataclass
class Replica:
    name: str
    config_path: Path
    state_dir: Path
    index_prefix: str
    settings: dict
    incarnations: list[Incarnation] = field(default_factory=list)
    gone_for_good: bool = False
    samples: list[tuple[float, int, float, int]] = field(default_factory=list)  # (t, incarnation, rss MB, fds)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def current(self) -> Incarnation | None:
        return self.incarnations[-1] if self.incarnations else None

    @property
    def alive(self) -> bool:
        now = self.current
        return now is not None and now.process.poll() is None


def settings(name: str, bootstrap: list[str], es_url: str, prefix: str, interval_s: float) -> dict:
    fleet = name != PLAIN
    stall = f"{prefix}-stall-.*"
    config = {
        "clusters": [{"name": "soak", "bootstrap_servers": bootstrap, "request_timeout_s": 2.0}],
        # The replicas leave their own coordination group out by themselves; the plain process is told to.
        "groups": {"allow": [f"{prefix}-.*"], "deny": [f"{prefix}-coordination"]},
        "scrape": {"interval_s": interval_s, "granularity": "group" if fleet else "partition"},
        "elasticsearch": {"hosts": [es_url], "index_prefix": f"{prefix}-{'fleet' if fleet else 'plain'}",
                          "request_timeout_s": 5.0, "bulk_chunk": 1000},
        "spool": {"max_bytes": 256 * 1024 * 1024},
        "http": {"host": "127.0.0.1", "port": 0},
        "log": {"format": "json", "level": "info"},
        "alerts": {"repeat_s": 0, "rules": [
            {"name": "soak-lag", "group_regex": stall, "metric": "lag", "warn": 150, "resolve_below": 50},
            {"name": "soak-seconds", "group_regex": stall, "metric": "lag_seconds", "warn": 20,
             "resolve_below": 10},
        ]},
    }
    if fleet:
        config["coordination"] = {
            "cluster": "soak", "topic": f"{prefix}-coordination", "group_id": f"{prefix}-coordination",
            "create_topic": True, "partitions": 6, "replication_factor": 3, "session_timeout_s": 6.0,
        }
    return config


class Replicas:
    def __init__(self, workdir: Path, bootstrap: list[str], es_url: str, prefix: str, interval_s: float):
        self.workdir = workdir
        self.interval_s = interval_s
        self.all: dict[str, Replica] = {}
        for name in (PLAIN, FLEET_A, FLEET_B):
            config = settings(name, bootstrap, es_url, prefix, interval_s)
            replica = Replica(name, workdir / f"{name}.yaml", workdir / f"state-{name}",
                              config["elasticsearch"]["index_prefix"], config)
            replica.config_path.write_text(yaml.safe_dump(config))
            self.all[name] = replica
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="soak-sampler", daemon=True)

    # --- life ---------------------------------------------------------------------------------------

    def start(self, name: str) -> Incarnation:
        replica = self.all[name]
        with replica.lock:
            number = len(replica.incarnations) + 1
            log = self.workdir / f"{name}-{number}.log"
            env = {**os.environ, "LAGWATCH_STATE_DIR": str(replica.state_dir), "LAGWATCH_SCRAPE__INSTANCE": name}
            with open(log, "ab") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "exporter.cli", "run", "-c", str(replica.config_path)],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=ROOT,
                )
            now = Incarnation(name, number, log, process, time.time())
            replica.incarnations.append(now)
            return now

    def kill(self, name: str, for_good: bool = False) -> None:
        replica = self.all[name]
        with replica.lock:
            now = replica.current
            if now is None or now.process.poll() is not None:
                return
            now.process.send_signal(signal.SIGKILL)
            now.process.wait(timeout=30)
            now.ended, now.how = time.time(), "killed"
            replica.gone_for_good = replica.gone_for_good or for_good

    def stop(self, name: str, timeout_s: float = 40) -> int | None:
        replica = self.all[name]
        now = replica.current
        if now is None or now.process.poll() is not None:
            return None
        now.process.send_signal(signal.SIGTERM)
        try:
            code = now.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            now.process.kill()
            code = now.process.wait(timeout=10)
        now.ended, now.how = time.time(), "stopped"
        return code

    def sighup(self, name: str, change: bool) -> None:
        """SIGHUP; with `change`, the config file is rewritten first (another bulk chunk size: a new
        Elasticsearch client and sink, the old one retired while documents are in flight)."""
        replica = self.all[name]
        with replica.lock:
            if change:
                es = replica.settings["elasticsearch"]
                es["bulk_chunk"] = 500 if es["bulk_chunk"] == 1000 else 1000
                replica.config_path.write_text(yaml.safe_dump(replica.settings))
            if replica.alive:
                replica.current.process.send_signal(signal.SIGHUP)

    def close(self) -> dict[str, int | None]:
        self._stop.set()
        codes = {name: self.stop(name) for name in self.all}
        self._sampler.join(timeout=10)
        return codes

    # --- what they say ------------------------------------------------------------------------------

    def port(self, name: str) -> int | None:
        now = self.all[name].current
        if now is None:
            return None
        if now.port is None:
            for event in events(now.log, "http_started"):
                now.port = event.get("port")
        return now.port

    def scraped_since(self, name: str, since: float) -> bool:
        """The current incarnation logged a scrape that started after `since`."""
        now = self.all[name].current
        return now is not None and any(e.get("_t", 0) >= since for e in events(now.log, "scrape_done"))

    def start_sampling(self) -> None:
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(5.0):
            for replica in self.all.values():
                now = replica.current
                if now is None or now.process.poll() is not None:
                    continue
                try:
                    status = Path(f"/proc/{now.process.pid}/status").read_text()
                    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
                    fds = len(os.listdir(f"/proc/{now.process.pid}/fd"))
                except (OSError, StopIteration, ValueError):
                    continue
                replica.samples.append((time.time(), now.number, rss_kb / 1024, fds))


def events(log: Path, name: str | None = None) -> list[dict]:
    """The JSON log lines of one incarnation (with `_t`, their time as epoch seconds)."""
    from datetime import datetime

    found = []
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if name is not None and event.get("event") != name:
            continue
        stamp = event.get("timestamp")
        if isinstance(stamp, str):
            try:
                event["_t"] = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
            except ValueError:
                pass
        found.append(event)
    return found
