"""The built image itself: what it holds, what it leaves out, and the commands a user runs without a cluster."""

from __future__ import annotations

import pytest

from tests import container_harness as ch

# The build measured 180 MB on the 130 MB bookworm stand-in for python:3.11-slim (docs/deploying.md); a bloated
# runtime (pip, a compiler, tests, a second venv) would cross this.
MAX_IMAGE_MB = 200
MAX_ADDED_MB = 60


def run_once(podman, image, *args: str, mounts: tuple[str, ...] = ()) -> tuple[int, str, str]:
    volumes = [part for mount in mounts for part in ("-v", mount)]
    result = podman.run("run", "--rm", "--read-only", "--cap-drop", "all", *volumes, image, *args, check=False)
    return result.returncode, result.stdout, result.stderr


def test_the_image_keeps_its_healthcheck_user_volume_and_entrypoint(podman, image):
    info = podman.inspect(image, kind="image")
    config = info["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["lagwatch"] and config["Cmd"] == ["run"]
    assert "/var/lib/lagwatch" in config["Volumes"] and "9308/tcp" in config["ExposedPorts"]
    # --format docker: the OCI format would have dropped it silently.
    test = info["Healthcheck"]["Test"]
    assert test[0] == "CMD" and "/healthz" in test[-1] and "LAGWATCH_HTTP__PORT" in test[-1]


def test_the_runtime_is_small_with_no_pip_setuptools_tests_or_devstack(podman, image):
    info = podman.inspect(image, kind="image")
    base = podman.inspect(ch.base_image(podman), kind="image")
    size_mb, added_mb = info["Size"] / 1e6, (info["Size"] - base["Size"]) / 1e6
    assert size_mb < MAX_IMAGE_MB and added_mb < MAX_ADDED_MB, (size_mb, added_mb)
    probe = (
        "import importlib.util as u, os, shutil, sys; "
        "print(sys.prefix); "
        "print([m for m in ('pip', 'setuptools', 'pytest', 'hypothesis', 'devstack', 'tests') "
        "if u.find_spec(m)]); "
        "print([t for t in ('gcc', 'cc', 'make', 'pip', 'pip3') if shutil.which(t)]); "
        "print(sorted(os.listdir('/opt/lagwatch/bin')))"
    )
    result = podman.run("run", "--rm", "--entrypoint", "python", image, "-c", probe)
    prefix, modules, tools, bin_files = result.stdout.splitlines()[-4:]
    assert prefix == "/opt/lagwatch"
    assert modules == "[]", modules
    assert tools == "[]", tools
    assert "pip" not in bin_files and "activate" not in bin_files and "'lagwatch'" in bin_files


def test_demo_in_the_image_says_what_it_needs_instead_of_a_traceback(podman, image):
    code, out, err = run_once(podman, image, "demo")
    assert code == 1, (code, out, err)
    assert "Traceback" not in out + err
    assert "source checkout" in err and "JDK" in err, err


@pytest.mark.parametrize(
    "yaml_text, field",
    [
        ("clusters: []\n", "clusters"),
        ("clusters:\n  - name: x\n    bootstrap_servers: ['127.0.0.1:1']\nscrape:\n  interval_s: -5\n", "scrape.interval_s"),
    ],
)
def test_check_config_in_the_image_names_the_bad_field_and_exits_2(podman, image, tmp_path, yaml_text, field):
    config = tmp_path / "lagwatch.yaml"
    config.write_text(yaml_text)
    config.chmod(0o644)
    code, out, err = run_once(podman, image, "check-config", mounts=(f"{config}:/etc/lagwatch/lagwatch.yaml:ro",))
    assert code == 2, (code, out, err)
    assert field in out + err and "Traceback" not in out + err


def test_check_config_accepts_the_shipped_config(podman, image):
    code, out, err = run_once(podman, image, "check-config")
    assert code == 0, (out, err)
    assert "config OK: 1 cluster(s)" in err and "bootstrap_servers" in out
