"""CPU time and run-queue wait of a process, all its threads summed (Linux /proc/<pid>/task/*/schedstat),
and its peak RSS (/proc/<pid>/status VmHWM).

On a shared 2-core machine a process often waits for a CPU: wall time then grows with other people's load.
The second schedstat field is exactly that wait (time runnable but not running), so `wall - run-queue wait`
is close to what the same work takes on an idle machine, and `wall - CPU - run-queue wait` is the time spent
waiting for something else (the broker's answer). That holds for a process whose work runs in one thread at a
time (lagwatch's scrape); the waits of threads that run side by side (a Go program) overlap, so for the peers
only their CPU time is used.
"""

from __future__ import annotations

import os


def times(pid: int | str = "self") -> tuple[float, float]:
    """(on-CPU seconds, run-queue seconds) of every live thread of `pid`; threads that already ended are not
    counted (the bench's processes keep theirs)."""
    cpu = wait = 0
    base = f"/proc/{pid}/task"
    try:
        tasks = os.listdir(base)
    except OSError:
        return float("nan"), float("nan")
    for task in tasks:
        try:
            with open(f"{base}/{task}/schedstat") as f:
                fields = f.read().split()
        except OSError:
            continue
        cpu += int(fields[0])
        wait += int(fields[1])
    return cpu / 1e9, wait / 1e9


def vmhwm_mb(pid: int | str = "self", missing: float = 0.0) -> float:
    """Peak RSS of `pid` in MB: its VmHWM, the high-water mark of its own address space since exec; `missing`
    when the process is gone or /proc cannot be read."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return missing
