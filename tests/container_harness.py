"""Podman for the container tier: the project's own Dockerfile built and run on this machine.

No registry image can be pulled here, so the Dockerfile's PYTHON_IMAGE is a Debian bookworm root filesystem
made with debootstrap from the mirror apt uses, imported into podman (the only build argument changed).
Everything lives under the lagwatch cache (LAGWATCH_CACHE, default ~/.cache/lagwatch), in container/:

  containers.conf, storage.conf   the engine's settings (see Podman), passed through CONTAINERS_CONF
  base-<recipe>.tar               the base root filesystem, made once per recipe (about a minute)
  storage-<driver>/               images, volumes and podman's layer cache: a warm run rebuilds only what changed

Root only (rootful podman, debootstrap). Reproduce by hand with the printed `Podman.hint()`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from devstack.common import cache_dir

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "localhost/lagwatch:test"

# The stand-in for python:3.11-slim-bookworm: Debian's python3 (3.11), venv support, CA certificates.
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
# What Debian's slim images leave out (docs, man pages, locales) and apt's caches: not needed to run Python.
TRIM = (
    "rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* "
    "usr/share/man usr/share/info usr/share/locale usr/share/lintian "
    "&& find usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete "
    "&& find usr/share/doc -mindepth 1 -type d -empty -delete "
    "&& ln -sf python3 usr/bin/python"
)
TOOLS = ("podman", "runc", "debootstrap")


class ContainerError(RuntimeError):
    """The engine, the base image or the build failed; the message says which and shows the output."""


def missing_tools() -> list[str]:
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    return [tool for tool in TOOLS if not shutil.which(tool, path=path)]


def _progress(message: str) -> None:
    stream = sys.__stderr__ or sys.stderr
    stream.write(f"[container] {message}\n")
    stream.flush()


@contextmanager
def _locked(path: Path):
    """One builder at a time per cache (two sessions on one machine share it)."""
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def apt_mirror() -> str:
    """The Debian mirror apt uses here (deb822 or one-line sources), else Debian's default."""
    override = os.environ.get("LAGWATCH_DEBIAN_MIRROR")
    if override:
        return override
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources")) + [Path("/etc/apt/sources.list")]
    for source in sources:
        try:
            text = source.read_text()
        except OSError:
            continue
        for stanza in text.split("\n\n"):
            if re.search(rf"^Suites:.*\b{SUITE}\b", stanza, re.M) and "security" not in stanza:
                found = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
                if found:
                    return found.group(1)
        found = re.search(rf"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+{SUITE}\s", text, re.M)
        if found:
            return found.group(1)
    return "http://deb.debian.org/debian"


class Podman:
    """Rootful podman with the settings this machine needs, kept to this cache's own storage:

    - runtime runc: crun fails here with "cgroups in hybrid mode not supported";
    - default_ulimits = []: the packaged defaults raise RLIMIT_NOFILE/NPROC above this machine's hard
      limits ("setrlimit: Operation not permitted");
    - cgroupfs and file events: no systemd here;
    - storage driver overlay (native, on the cache's ext4); LAGWATCH_PODMAN_STORAGE_DRIVER=vfs where
      overlay is not available (vfs copies the whole image per layer and per container: measured here
      a 162 s build and 4.6 s to /healthz instead of 23 s and 0.7 s).
    """

    def __init__(self, home: Path | None = None):
        self.home = (home or cache_dir() / "container").resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        self.driver = os.environ.get("LAGWATCH_PODMAN_STORAGE_DRIVER", "overlay")
        storage = self.home / f"storage-{self.driver}"
        # One set of files per driver: podman records a storage's paths and must always get the same ones.
        self.containers_conf = self.home / f"containers-{self.driver}.conf"
        self.storage_conf = self.home / f"storage-{self.driver}.conf"
        self.containers_conf.write_text(
            "[containers]\ndefault_ulimits = []\n\n"
            f'[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
            f'tmp_dir = "{self.home / f"libpod-tmp-{self.driver}"}"\n'
        )
        # Podman refuses a runroot over 50 characters when conmon's exit command (`podman container cleanup`)
        # gets it as a flag: the container then never reads as exited and every `podman run`/`wait` hangs 20 s.
        runroot = f"/run/lagwatch-podman-{hashlib.sha256(str(storage).encode()).hexdigest()[:8]}"
        self.storage_conf.write_text(
            f'[storage]\ndriver = "{self.driver}"\ngraphroot = "{storage}"\nrunroot = "{runroot}"\n'
        )
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(self.containers_conf),
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
        }

    def hint(self) -> str:
        return f"CONTAINERS_CONF={self.containers_conf} CONTAINERS_STORAGE_CONF={self.storage_conf} podman ..."

    def run(self, *args: str, check: bool = True, timeout: float = 120, stdin=None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=stdin is None, timeout=timeout, stdin=stdin
        )
        if check and result.returncode != 0:
            out = result.stdout if isinstance(result.stdout, str) else result.stdout.decode(errors="replace")
            err = result.stderr if isinstance(result.stderr, str) else result.stderr.decode(errors="replace")
            raise ContainerError(f"podman {' '.join(args)} exited {result.returncode}:\n{out[-2000:]}\n{err[-3000:]}")
        return result

    def check_engine(self) -> None:
        info = self.run("info", "--format", "{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}", check=False)
        if info.returncode != 0:
            raise ContainerError(
                f"podman cannot start with {self.storage_conf} ({self.driver}): {info.stderr.strip()[-1500:]}"
                + ("; try LAGWATCH_PODMAN_STORAGE_DRIVER=vfs" if self.driver != "vfs" else "")
            )
        # Podman keeps the paths a storage was created with and prefers them to the config's.
        runroot = self.run("info", "--format", "{{.Store.RunRoot}}").stdout.strip()
        wanted = re.search(r'runroot = "([^"]+)"', self.storage_conf.read_text()).group(1)
        if runroot != wanted:
            raise ContainerError(f"podman storage {self.home} was made with runroot {runroot}, not {wanted}: delete it")

    def image_exists(self, name: str) -> bool:
        return self.run("image", "exists", name, check=False).returncode == 0

    def inspect(self, name: str, kind: str = "container") -> dict:
        return json.loads(self.run(kind, "inspect", name).stdout)[0]


def base_recipe() -> str:
    """Changes whenever the base would come out differently (suite, packages, trimming)."""
    return hashlib.sha256(repr((SUITE, BASE_PACKAGES, TRIM)).encode()).hexdigest()[:12]


def base_rootfs(home: Path) -> Path:
    """The base root filesystem as a tar, made once per recipe with debootstrap --variant=minbase."""
    tar = home / f"base-{SUITE}-{base_recipe()}.tar"
    if tar.exists():
        return tar
    with _locked(home / "base.lock"):
        if tar.exists():
            return tar
        mirror = apt_mirror()
        _progress(f"making the {SUITE} base root filesystem with debootstrap from {mirror} (once, ~1 min) ...")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(dir=home, prefix="rootfs-") as tmp:
            rootfs = Path(tmp) / "rootfs"
            log = home / "debootstrap.log"
            with open(log, "w") as out:
                result = subprocess.run(
                    ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE,
                     str(rootfs), mirror],
                    stdout=out, stderr=subprocess.STDOUT,
                )
            if result.returncode != 0:
                raise ContainerError(f"debootstrap exited {result.returncode}: {_tail(log)}")
            subprocess.run(["sh", "-c", TRIM], cwd=rootfs, check=True)
            partial = tar.with_suffix(".partial")
            subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
            partial.rename(tar)
        _progress(f"base root filesystem ready in {time.monotonic() - started:.0f} s: {tar}")
    return tar


def base_image(podman: Podman) -> str:
    """localhost/lagwatch-base:bookworm-<recipe>, imported from the cached tar when storage lacks it."""
    name = f"localhost/lagwatch-base:{SUITE}-{base_recipe()}"
    if podman.image_exists(name):
        return name
    tar = base_rootfs(podman.home)
    with open(tar, "rb") as stream:
        podman.run("import", "-", name, stdin=stream, timeout=300)
    return name


def build_image(podman: Podman, base: str, tag: str = IMAGE) -> float:
    """`podman build` of the project's Dockerfile with only PYTHON_IMAGE changed; returns seconds taken.

    --network host: pip in the build stage reaches PyPI as the host does. /etc/ssl/certs is mounted
    read-only into the build's RUN steps only (not into the image): this machine's egress re-signs TLS with
    a CA only the host trusts. --format docker keeps HEALTHCHECK (the OCI format has no such field).
    Podman's layer cache makes an unchanged build take seconds.
    """
    log = podman.home / "build.log"
    started = time.monotonic()
    common = ["podman", "build", "--network", "host", "--format", "docker", "--layers",
              "--build-arg", f"PYTHON_IMAGE={base}", "-v", "/etc/ssl/certs:/etc/ssl/certs:ro"]
    with _locked(podman.home / "build.lock"), open(log, "w") as out:
        # The build stage gets a tag of its own (the second build reuses it from the layer cache), so the
        # prune below keeps it and the next run skips pip when pyproject.toml, README.md and exporter/ are
        # unchanged.
        for target in (["--target", "build", "-t", f"{tag}-build"], ["-t", tag]):
            result = subprocess.run([*common, *target, str(ROOT)], env=podman.env, stdout=out,
                                    stderr=subprocess.STDOUT, timeout=900)
            if result.returncode != 0:
                raise ContainerError(f"podman build exited {result.returncode} (log {log}): {_tail(log)}")
        # Earlier builds' layers, no longer tagged: without this the storage grows by an image per change.
        podman.run("image", "prune", "--force", check=False, timeout=300)
    return time.monotonic() - started


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def http_status(url: str, timeout: float = 2) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def http_text(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


class Container:
    """One `podman run -d` of the image, as an operator would start it; removed by remove()."""

    def __init__(self, podman: Podman, name: str, run_args: list[str], command: list[str] | None = None,
                 image: str = IMAGE):
        self.podman, self.name = podman, name
        self.started = time.monotonic()
        podman.run("run", "-d", "--name", name, "--label", "lagwatch-test=1", *run_args, image, *(command or []))

    def state(self) -> dict:
        return self.podman.inspect(self.name)["State"]

    def logs(self) -> str:
        result = self.podman.run("logs", self.name, check=False)
        return result.stdout + result.stderr

    def events(self, name: str) -> list[dict]:
        found = []
        for line in self.logs().splitlines():
            if line.startswith("{"):
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("event") == name:
                    found.append(event)
        return found

    def exec(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.podman.run("exec", self.name, *command, check=check)

    def stop(self, timeout_s: int = 10) -> float:
        """`podman stop` (SIGTERM, then SIGKILL after timeout_s); returns the seconds it took."""
        started = time.monotonic()
        self.podman.run("stop", "--time", str(timeout_s), self.name, timeout=timeout_s + 60)
        return time.monotonic() - started

    def remove(self) -> None:
        self.podman.run("rm", "--force", "--time", "0", self.name, check=False, timeout=60)
