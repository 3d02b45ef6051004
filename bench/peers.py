"""The tools our users would run instead: built from the operator's source checkouts, never committed.

Each peer is built with `go build` in a checkout the operator made (one directory per peer under
`--peers-src DIR` or `LAGWATCH_PEERS_SRC`, named as in PEERS: kminion, kafka_exporter, burrow); the binary goes
into ~/.cache/lagwatch/bench/peers/, keyed by the checkout's commit. Without a checkout the bench falls back to
`go install <module>@<tag>` through the Go module proxy (the proxy this machine may use refuses all three with
403; bench/README.md). Every dependency of a `go build` comes from the Go module proxy. A peer that cannot be
built gets its row with the exact reason. Starting and scraping a built peer: bench/peer_run.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devstack.common import cache_dir


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

