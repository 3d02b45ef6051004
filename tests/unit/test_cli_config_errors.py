"""`lagwatch check-config` on hostile input, as an operator runs it: exit 2, one line naming the field, no
traceback, within 5 s of CPU; and no secret of the config in its output."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import pytest

from tests.unit.test_config_load import BOMB

VALID = "clusters:\n  - name: prod\n    bootstrap_servers: k1:9092\n"


def check_config(tmp_path, content: bytes | str | None, env: dict[str, str] | None = None):
    args = [sys.executable, "-m", "exporter.cli", "check-config"]
    if content is not None:
        path = tmp_path / "lagwatch.yaml"
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        args += ["-c", str(path)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LAGWATCH_")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(args, capture_output=True, text=True, timeout=30, env={**clean, **(env or {})},
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The child's CPU time, not wall time: a loop shows in it, a machine busy with other work does not.
    return result, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


CASES = [
    ("invalid-utf8", b"clusters:\n  - name: caf\xe9\n", {}, "(file)"),
    ("deep-nesting", "[" * 100_000, {}, "(file)"),
    ("alias-bomb", BOMB, {}, "f"),  # the first key past 200,000 values
    ("duplicate-key", VALID + "scrape:\n  interval_s: 5\n  interval_s: 50\n", {}, "scrape.interval_s"),
    ("huge-env-index", VALID, {"LAGWATCH_CLUSTERS__99999999__NAME": "x"}, "clusters"),
    ("scalar-for-section", VALID, {"LAGWATCH_SCRAPE": "5"}, "scrape"),
    ("control-character", "clusters: \x1f\n", {}, "(file)"),
]


@pytest.mark.parametrize("content, env, field", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_input_is_exit_2_and_one_line_naming_the_field_within_5_cpu_seconds(tmp_path, content, env, field):
    result, elapsed = check_config(tmp_path, content, env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in result.stderr and f" {field}: " in lines[0], lines[0]
    # A hang guard, not a speed goal (the alias bomb hung for minutes, busy): CPU seconds of the process.
    assert elapsed < 5, f"{elapsed:.2f}s"
    assert result.stdout == ""


def test_check_config_masks_every_url_password_and_secret(tmp_path):
    secrets = {"es": "Es-Pa55-zq81", "kibana": "Kib-Pa55-zq82", "hook": "Hook-Tok3n-zq83", "kpw": "Kaf-Pa55-zq84"}
    content = (
        "clusters:\n  - name: prod\n    bootstrap_servers: k1:9092\n"
        "    security: {protocol: SASL_PLAINTEXT, sasl_mechanism: PLAIN, username: u, password: " + secrets["kpw"] + "}\n"
        f"elasticsearch:\n  hosts: ['https://writer:{secrets['es']}@es:9200']\n"
        f"kibana:\n  url: https://admin:{secrets['kibana']}@kibana:5601\n"
        f"alerts:\n  notifiers:\n    - name: ops\n      url: https://hooks.example/services/T1/B2/{secrets['hook']}\n"
    )
    result, _ = check_config(tmp_path, content)
    assert result.returncode == 0, result.stderr
    for secret in secrets.values():
        assert secret not in result.stdout + result.stderr
    assert "https://admin:**********@kibana:5601" in result.stdout
