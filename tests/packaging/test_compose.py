"""docker-compose.yml checked by the tools that would run it. Its Kafka, Elasticsearch and Kibana images
cannot be pulled on this machine, so the stack is validated, not started (docs/deploying.md "Running in a container"):

- compose-go, the loader Docker Compose itself uses (compose-spec schema, then references: depends_on,
  volumes), through the small Go program in composecheck/ (built from the Go module proxy, cached);
- `podman-compose config`, podman's compose front end (PyPI), which parses and normalises it as `up` would.

Each check is shown to reject a broken copy, so a check that accepts anything would fail here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from devstack.common import cache_dir

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
CHECKER = Path(__file__).resolve().parent / "composecheck"

# (edit to the file, what the loader must say) - each a mistake that `docker compose up` would hit.
BROKEN = [
    (("depends_on:", "depend_on:"), "depend_on"),
    (("kafka: {condition: service_started}", "kafak: {condition: service_started}"), 'undefined service "kafak"'),
    (('volumes: ["lagwatch-state:', 'volumes: ["lagwatch-data:'), "undefined volume lagwatch-data"),
    (("service_completed_successfully", "service_finished"), "condition"),
]


def _missing(tool: str, why: str) -> None:
    if os.geteuid() != 0 and not os.environ.get("LAGWATCH_REQUIRE_ALL"):
        pytest.skip(f"{tool} not found ({why})")
    pytest.fail(f"{tool} not found ({why})")


@pytest.fixture(scope="module")
def composecheck() -> Path:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if os.path.exists("/usr/local/go/bin/go") else None)
    if not go:
        _missing("go", "builds the compose-go checker")
    sources = b"".join((CHECKER / name).read_bytes() for name in ("go.mod", "go.sum", "main.go"))
    binary = cache_dir() / "container" / f"composecheck-{hashlib.sha256(sources).hexdigest()[:12]}"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        built = subprocess.run([go, "build", "-o", str(binary), "."], cwd=CHECKER, capture_output=True, text=True,
                               timeout=600)
        assert built.returncode == 0, built.stdout + built.stderr
    return binary


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    text = COMPOSE.read_text()
    assert old in text, f"the compose file no longer contains {old!r}: update BROKEN"
    (tmp_path / "Dockerfile").write_text((ROOT / "Dockerfile").read_text())  # build: . must resolve
    path = tmp_path / "docker-compose.yml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_compose_go_loads_the_compose_file_as_docker_compose_would(composecheck):
    result = subprocess.run([str(composecheck), str(COMPOSE)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    project = yaml.safe_load(result.stdout)
    services = project["services"]
    assert services["lagwatch"]["depends_on"]["lagwatch-setup"]["condition"] == "service_completed_successfully"
    assert services["lagwatch"]["build"]["dockerfile"] == "Dockerfile"
    assert services["lagwatch-setup"]["command"] == ["setup"]
    assert [v["source"] for v in services["lagwatch"]["volumes"]] == ["lagwatch-state"]
    assert services["lagwatch"]["environment"] == services["lagwatch-setup"]["environment"]  # the YAML anchor


@pytest.mark.parametrize("edit, message", BROKEN, ids=[m for _, m in BROKEN])
def test_compose_go_rejects_a_broken_compose_file(composecheck, tmp_path, edit, message):
    result = subprocess.run([str(composecheck), str(broken_copy(tmp_path, *edit))], capture_output=True, text=True)
    assert result.returncode == 1 and message in result.stderr, result.stderr


def podman_compose(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("podman-compose", path=os.path.dirname(sys.executable)) or shutil.which("podman-compose")
    if not tool:
        _missing("podman-compose", "a test dependency (pyproject [test])")
    if not shutil.which("podman"):
        _missing("podman", "podman-compose drives it; scripts/bootstrap installs it as root")
    return subprocess.run([tool, *args, "config"], capture_output=True, text=True, timeout=120)


def test_podman_compose_config_accepts_the_compose_file():
    result = podman_compose("-f", str(COMPOSE))
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"kafka", "elasticsearch", "kibana", "lagwatch-setup", "lagwatch"}
    assert services["lagwatch"]["volumes"] == ["lagwatch-state:/var/lib/lagwatch"]


@pytest.mark.parametrize("edit, message", [
    (BROKEN[2][0], "volume [lagwatch-data] not defined"),
    (BROKEN[3][0], "not a valid condition"),
])
def test_podman_compose_config_rejects_what_it_checks(tmp_path, edit, message):
    result = podman_compose("-f", str(broken_copy(tmp_path, *edit)))
    assert result.returncode != 0 and message in result.stderr, result.stderr
