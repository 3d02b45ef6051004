"""The container tier's session fixtures: the engine, the image (built once per session), measurements."""

from __future__ import annotations

import os

import pytest

from tests import container_harness as ch

# Filled by the fixtures and tests, printed at the end of the run (docs/deploying.md "Running in a container").
MEASURED: dict[str, str] = {}


def _unavailable(why: str) -> None:
    """Skip only where bootstrap could not have set the tier up (not root); in CI a failure."""
    if os.geteuid() != 0 and not os.environ.get("LAGWATCH_REQUIRE_ALL"):
        pytest.skip(f"container tier: {why}")
    pytest.fail(f"container tier: {why}")


@pytest.fixture(scope="session")
def podman():
    if os.geteuid() != 0:
        _unavailable("needs root (rootful podman, debootstrap); run it as root")
    missing = ch.missing_tools()
    if missing:
        _unavailable(f"{', '.join(missing)} not installed: scripts/bootstrap installs them when run as root")
    engine = ch.Podman()
    engine.check_engine()
    # Stopped test containers an interrupted run left behind an hour ago or more (newer ones may be in use).
    engine.run("container", "prune", "--force", "--filter", "label=lagwatch-test=1", "--filter", "until=1h",
               check=False)
    return engine


@pytest.fixture(scope="session")
def image(podman) -> str:
    base = ch.base_image(podman)
    seconds = ch.build_image(podman, base)
    info = podman.inspect(ch.IMAGE, kind="image")
    base_info = podman.inspect(base, kind="image")
    MEASURED["image build"] = f"{seconds:.1f} s"
    MEASURED["image size"] = f"{info['Size'] / 1e6:.0f} MB (base {base_info['Size'] / 1e6:.0f} MB)"
    return ch.IMAGE


def pytest_terminal_summary(terminalreporter):
    if MEASURED:
        terminalreporter.write_sep("-", "container tier measurements")
        for name, value in MEASURED.items():
            terminalreporter.write_line(f"{name}: {value}")
