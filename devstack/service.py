"""The shape every service of the local stack shares: launch a process with its output in a log, wait until it
answers, stop it (keeping its files when asked), start it again on the same ports and data (outage tests).

A subclass (KafkaBroker, ElasticsearchNode) says what it is (`product`, `waiting_for`, `address`,
`log_path`), how to get ready to launch (`_prepare`: workdir, configuration, `self._launch`) and when it
answers (`_is_ready`). ExternalService is a service somebody else runs: used as is, never started or stopped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from devstack.common import Progress, log_tail, spawn, stop_process, wait_until


class LocalService:
    product = "service"  # in progress messages: "Kafka 4.1.0 ready on ..."
    waiting_for = "service"  # in a readiness failure: "Kafka broker on ...: not ready after 120s"
    start_timeout = 120.0

    # Set by the subclass (dataclass fields or _prepare).
    version: str
    progress: Progress
    workdir: Path | None
    _process: subprocess.Popen | None
    _launch: tuple[list[str], dict] | None  # (argv, Popen keywords) of the last launch, for restart()

    @property
    def address(self) -> str:
        raise NotImplementedError

    @property
    def log_path(self) -> Path:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        """The service's process id (tests freeze it with SIGSTOP to simulate a hung service)."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _prepare(self) -> None:
        """Make the workdir and configuration and set `self._launch`; nothing is started yet."""
        raise NotImplementedError

    def _is_ready(self) -> bool:
        raise NotImplementedError

    def launch(self):
        """Prepare and start the process without waiting for it to answer (the members of a Kafka cluster
        are launched together: none answers before the controller quorum has formed)."""
        self._prepare()
        self._spawn()
        return self

    def start(self, timeout: float | None = None):
        """Launch, and return once the service answers; a service that does not is stopped, its files kept."""
        self.launch()
        try:
            self._wait_ready(self.start_timeout if timeout is None else timeout)
        except BaseException:
            self.stop(keep_files=True)
            raise
        self.progress(f"{self.product} {self.version} ready on {self.address}")
        return self

    def _spawn(self) -> None:
        assert self._launch is not None
        argv, popen_kwargs = self._launch
        self._process = spawn(argv, self.log_path, **popen_kwargs)

    def _wait_ready(self, timeout: float) -> None:
        wait_until(
            self._is_ready,
            timeout=timeout,
            what=f"{self.waiting_for} on {self.address}",
            process=self._process,
            log=self.log_path,
        )

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.log_path, lines)

    def stop(self, keep_files: bool = False) -> None:
        stop_process(self._process)
        self._process = None
        if self.workdir and not keep_files and not os.environ.get("LAGWATCH_KEEP_DATA"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def restart(self, timeout: float | None = None):
        """Start again after `stop(keep_files=True)`: same ports, same data, nothing prepared anew."""
        assert self._launch is not None and self.workdir is not None, "restart() needs an earlier start()"
        if self.running:
            return self
        self._spawn()
        self._wait_ready(self.start_timeout if timeout is None else timeout)
        self.progress(f"{self.product} {self.version} restarted on {self.address}")
        return self


class ExternalService:
    """A service somebody else runs (LAGWATCH_TEST_BOOTSTRAP, LAGWATCH_TEST_ES_URL): never started or stopped."""

    what = "service"  # "(external cluster at 127.0.0.1:9092: no log here)"

    @property
    def address(self) -> str:
        raise NotImplementedError

    def start(self):
        return self

    def stop(self) -> None:
        return None

    def log_tail(self, lines: int = 60) -> str:
        return f"(external {self.what} at {self.address}: no log here)"
