"""Small shared pieces of the local stack: cache location, ports, Java, processes, progress."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

Progress = Callable[[str], None]


class StackError(RuntimeError):
    """A service of the local stack could not be fetched or started; the message says why."""


def stderr_progress(message: str) -> None:
    # sys.__stderr__ so progress shows even under pytest's output capture.
    stream = sys.__stderr__ or sys.stderr
    stream.write(f"[devstack] {message}\n")
    stream.flush()


def cache_dir() -> Path:
    """Where downloaded jars and distributions live, shared by every checkout on the machine."""
    root = os.environ.get("LAGWATCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lagwatch"
    )
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def java_home() -> Path:
    """The JDK to run services with: LAGWATCH_JAVA_HOME, then JAVA_HOME, then `java` on PATH."""
    for var in ("LAGWATCH_JAVA_HOME", "JAVA_HOME"):
        value = os.environ.get(var)
        if value and (Path(value) / "bin" / "java").exists():
            return Path(value)
    java = shutil.which("java")
    if not java:
        raise StackError("no JDK found: install Java 17+ or set LAGWATCH_JAVA_HOME")
    return Path(java).resolve().parent.parent


def require_tool(name: str, hint: str) -> str:
    path = shutil.which(name)
    if not path:
        raise StackError(f"`{name}` not found on PATH: {hint}")
    return path


def in_parallel(calls: list[Callable[[], object]]) -> None:
    """Run `calls` side by side (JVM start-ups take seconds each); raise the first failure on this thread."""
    import threading

    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            call()
        except BaseException as exc:  # noqa: BLE001 - re-raised below on the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    process: subprocess.Popen | None = None,
    log: Path | None = None,
    interval: float = 0.5,
) -> None:
    """Poll `check` until it is true; fail early, with the log tail, if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log_tail(log) if log else ""
            raise StackError(f"{what}: process exited with code {process.returncode}\n{tail}")
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - any failure means "not ready yet"
            pass
        time.sleep(interval)
    tail = log_tail(log) if log else ""
    raise StackError(f"{what}: not ready after {timeout:.0f}s\n{tail}")


def spawn(argv: list[str], log_path: Path, **popen_kwargs) -> subprocess.Popen:
    """Start a service with stdout and stderr in its log file, in a session of its own (a Ctrl-C in the
    terminal reaches us, and we stop the service in order)."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **popen_kwargs,
        )


def stop_process(process: subprocess.Popen | None, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
