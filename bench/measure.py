"""Measuring the bench's child processes and the machine: wall, CPU and peak RSS of one child, spreads of
repeated runs, the load average while the bench runs, the machine's description. Shared by every module
that runs a contender (bench/contenders.py, bench/rounds.py, bench/run.py)."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.procstat import vmhwm_mb

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()



@dataclasses.dataclass
class Child:
    wall_s: float
    cpu_s: float  # user+system of the child process, from wait4
    peak_rss_mb: float  # the child's own VmHWM (see run_child)
    returncode: int
    stdout: str
    stderr: str
    ru_maxrss_mb: float = float("nan")  # what wait4 says: not the child's own peak (see run_child)


def run_child(cmd: list[str], timeout: float, env: dict | None = None) -> Child:
    """Run a command; wall time, CPU time and peak RSS of that process alone.

    Peak RSS is the child's VmHWM (/proc/<pid>/status: the high-water mark of its own address space since
    exec), read every 10 ms while it runs; a child that reports its own at exit (scrape_once, stages) is
    read from its output instead. Not `ru_maxrss`: Linux carries the maximum RSS over exec, and Python
    starts children with vfork, so a child's ru_maxrss is never below this bench process's own peak (once
    the indexing comparison has loaded its 52,001 documents, every child "peaked" at 321 MB)."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    started = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
    deadline = started + timeout
    hwm = 0.0
    while True:
        hwm = max(hwm, vmhwm_mb(process.pid))
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            status = -9
            break
        time.sleep(0.01)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status) if status != -9 else -9
    out.seek(0), err.seek(0)
    stdout = out.read().decode(errors="replace")
    reported = _reported_vmhwm_mb(stdout)
    return Child(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=reported if reported is not None else hwm,
        returncode=process.returncode,
        stdout=stdout,
        stderr=err.read().decode(errors="replace"),
        ru_maxrss_mb=usage.ru_maxrss / 1024,
    )



def _reported_vmhwm_mb(stdout: str) -> float | None:
    lines = stdout.strip().splitlines()
    try:
        value = json.loads(lines[-1]).get("vmhwm_kb") if lines else None
    except (ValueError, AttributeError):
        return None
    return value / 1024 if value else None


def spread(values: list[float]) -> dict[str, float]:
    values = [v for v in values if v is not None]
    if not values:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


class LoadSampler:
    """The 1-minute load average every 10 s while the bench runs: the machine is shared."""

    def __init__(self, every_s: float = 10.0):
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s: float) -> None:
        while True:
            self.samples.append((time.time(), float(open("/proc/loadavg").read().split()[0])))
            if self._stop.wait(every_s):
                return

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(timeout=5)
        loads = [load for _, load in self.samples]
        return {"samples": len(loads), **spread(loads)}


def load1() -> float:
    return float(open("/proc/loadavg").read().split()[0])


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                           if line.startswith("model name"))
        info["memory_gb"] = round(int(next(line.split()[1] for line in open("/proc/meminfo")
                                           if line.startswith("MemTotal"))) / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    info["loadavg"] = open("/proc/loadavg").read().split()[:3]
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
        info["java"] = java
    except OSError:
        pass
    from devstack.versions import ELASTICSEARCH_VERSION, KAFKA_VERSION
    import kafka

    info.update(kafka=KAFKA_VERSION, elasticsearch=ELASTICSEARCH_VERSION, kafka_python=kafka.__version__)
    return info


