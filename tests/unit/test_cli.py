"""The CLI teaches with --help and fails in one line on misuse."""

import subprocess
import sys


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_help_exits_zero_and_names_the_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "consumer lag" in result.stdout
    assert "devstack" in result.stdout


def test_unknown_subcommand_is_one_line_error_without_traceback():
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "frobnicate" in lines[0]


def test_the_shipped_example_config_is_valid():
    result = run_cli("check-config", "-c", "config/lagwatch.yaml")
    assert result.returncode == 0, result.stderr
    assert "clusters:" in result.stdout
