"""The benchmark (bench/) at a tiny size against the session's broker and node: it keeps working.

Not a performance test: nothing here asserts a time. It proves the estate builder leaves the offsets it
promised, and that one bench run measures every contender and writes a report with all its sections.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from bench import estate
from tests.harness import unique

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_estate_builder_commits_the_offsets_its_spec_promises(bootstrap):
    spec = estate.EstateSpec("tiny", topics=2, partitions=3, groups=5, partitions_per_group=(1, 2),
                             records=4, prefix=unique("estate"))
    estate.build(bootstrap, spec, progress=lambda message: None)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test")
    try:
        found = admin.list_group_offsets([group for group, _ in spec.assignments()])
        for group, tps in spec.assignments():
            committed = {(tp.topic, tp.partition): meta.offset for tp, meta in found[group].items()}
            assert committed == {tp: spec.committed_offset(group, tp) for tp in tps}
        assert sum(len(tps) for _, tps in spec.assignments()) == spec.pairs == 7
    finally:
        admin.close()


def test_a_tiny_bench_run_measures_every_contender_and_writes_the_report(bootstrap, es_url, tmp_path):
    results_json, results_md = tmp_path / "results.json", tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--estates", "W", "--scale", "0.005", "--runs", "1",
         "--seeds-sample", "1", "--no-peers", "--growth", "1,2", "--growth-estate", "W", "--growth-runs", "1", "--steady-scrapes", "3",
         "--bootstrap", bootstrap, "--es-url", es_url, "--prefix", unique("smoke"),
         "--json", str(results_json), "--write-results", str(results_md)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(results_json.read_text())
    (name, run), = results["estates"].items()
    spec = run["spec"]
    assert run["lagwatch"]["groups"] >= spec["groups"]  # the session broker holds other tests' groups too
    assert run["lagwatch"]["errors"] == 0 and run["lagwatch"]["wall_s"]["n"] == 1
    assert run["seeds"]["extrapolated"] and run["seeds"]["sample_groups"] == 1
    assert run["kafka_tool"]["rows"] >= spec["groups"] * spec["partitions"]
    assert run["indexing"]["lagwatch_docs_s"]["n"] == run["indexing"]["raw_docs_s"]["n"] == 1
    assert len(run["indexing"]["share_rounds"]) == 1
    assert [p["groups"] for p in run["growth"]] == [spec["groups"], 2 * spec["groups"]]
    assert [r["round"] for r in run["rounds"]] == [1]
    staged = run["stages"]["warm"]
    assert list(staged["stages"]) == ["collect", "lag_model", "time_lag", "statuses", "bulk_bytes"]
    assert staged["documents"] >= run["lagwatch"]["documents"] and staged["bulk_bytes"] > 0
    assert staged["stages"]["collect"]["response_bytes"] > 0 and staged["stages"]["collect"]["responses"]
    assert run["lagwatch"]["lag"] == run["expected_lag"]  # the estate's groups, as built
    steady = run["steady"]
    assert steady["scrapes"] == 3 and steady["wall_s"]["n"] == 2 and steady["worst"]["scrape"] in (2, 3)
    report = results_md.read_text()
    for heading in ("## Machine and versions", "## Results", "## Targets (issue #25",
                    f"### Estate {name}", f"#### Rounds ({name})", f"#### Where lagwatch's time goes ({name})",
                    f"#### Growth ({name}"):
        assert heading in report
