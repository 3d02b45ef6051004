"""The tested releases come from one table (exporter/versions.py): `lagwatch check-config` names them, the
local stack and the version matrix start them, docs/versions.md lists them."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

from exporter import versions
from devstack import versions as devstack_versions

ROOT = Path(__file__).resolve().parents[2]


def test_check_config_names_the_tested_releases_on_stderr_after_the_config_ok_line():
    result = subprocess.run([sys.executable, "-m", "exporter.cli", "check-config", "-c", "config/lagwatch.yaml"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-2].startswith("# config OK") and lines[-1] == versions.tested_line()
    assert all(v in lines[-1] for v in versions.KAFKA_TESTED + versions.ELASTICSEARCH_TESTED + versions.OPENSEARCH_TESTED)
    assert "tested with" not in result.stdout and yaml.safe_load(result.stdout)["clusters"]  # stdout stays YAML


def test_the_local_stack_and_the_matrix_pin_the_tested_releases():
    assert devstack_versions.KAFKA_MATRIX == versions.KAFKA_TESTED
    assert devstack_versions.ELASTICSEARCH_MATRIX == versions.ELASTICSEARCH_TESTED
    assert devstack_versions.OPENSEARCH_MATRIX == versions.OPENSEARCH_TESTED
    assert versions.OPENSEARCH_MAIN in versions.OPENSEARCH_TESTED
    assert versions.KAFKA_MAIN in versions.KAFKA_TESTED and versions.ELASTICSEARCH_MAIN in versions.ELASTICSEARCH_TESTED


def test_the_docs_supported_versions_table_lists_every_tested_release():
    page = (ROOT / "docs" / "versions.md").read_text()
    section = page.split("# Supported versions", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| (?:Kafka|Elasticsearch|OpenSearch) (\d+\.\d+\.\d+)", section, re.M))
    assert listed == set(versions.KAFKA_TESTED + versions.ELASTICSEARCH_TESTED + versions.OPENSEARCH_TESTED)
