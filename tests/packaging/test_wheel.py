"""The production wheel holds lagwatch and nothing of the development tree: the local stack (devstack/), the
benchmark and the tests stay in the clone (docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_exporter_with_its_data_files_and_no_devstack_bench_or_tests(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
         str(ROOT)], capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("lagwatch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"exporter"}, tops
    assert not [n for n in names if "devstack" in n], [n for n in names if "devstack" in n]
    # What the daemon reads at run time from its package: the mappings and the protocol schemas.
    assert "exporter/resources/lag-mappings.json" in names
    assert any(n.startswith("exporter/kafka/protocol/") and n.endswith(".json") for n in names)
    assert "exporter/cli/__main__.py" in names
