"""The seeded fault soak of bench/soak (issue #26), three minutes of it: a 3-broker cluster and an Elasticsearch
node of its own, the soak's producers and committers as ground truth, two coordinated lagwatch replicas and a
plain one, faults drawn from the seed and overlapping. Every invariant is a counted figure; all must be zero.

It is one test because it is one experiment (about 8 minutes with its services' start: three brokers, a node,
four JVM clients); the figures it writes say which promise broke. Too long for CI's budget, so it runs only when
asked: `LAGWATCH_SOAK=1 ./scripts/test tests/integration/test_soak.py`. docs/reliability.md reports longer runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("LAGWATCH_SOAK"), reason="the soak runs when asked: LAGWATCH_SOAK=1"),
]

ROOT = Path(__file__).resolve().parents[2]
SEED = 26


def test_three_minutes_of_seeded_faults_break_no_promise(tmp_path):
    figures = tmp_path / "soak.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--minutes", "3", "--seed", str(SEED), "--json", str(figures),
         "--workdir", str(tmp_path / "work")],
        cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False,
    )
    assert figures.exists(), f"the soak could not run (exit {done.returncode}):\n{done.stderr[-4000:]}"
    report = json.loads(figures.read_text())
    broken = {name: count for name, count in report["invariants"].items() if count}
    assert not broken, f"{broken}\nexamples: {json.dumps(report['examples'], indent=1)[:4000]}\n{done.stdout}"
    assert done.returncode == 0, done.stderr[-4000:]
    # Not vacuous: the faults the issue singles out happened, and what they test was exercised.
    kinds = report["faults"]["by_kind"]
    assert kinds.get("broker_freeze") and kinds.get("es_freeze") and kinds.get("lagwatch_kill"), kinds
    assert report["kibana_rule"].get("partial_docs", 0) > 0, report["kibana_rule"]  # held through a freeze
    plain = report["documents"]["plain"]
    assert plain["produced"] > 0 and plain["indexed"] + sum(plain["accounted"].values()) == plain["produced"]
    assert report["document_checks"].get(f"{report['prefix']}-plain.group.ok", 0) > 0
