"""The CLI against the real broker and node, run as an operator would: a subprocess with a config file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.harness import unique, wait_for

pytestmark = pytest.mark.integration


def lagwatch(*args: str, env: dict | None = None, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def config_file(tmp_path, bootstrap, es_url):
    def write(groups: list[str], **extra) -> str:
        config = {
            "clusters": [{"name": "local", "bootstrap_servers": [bootstrap]}],
            "groups": {"allow": [__import__("re").escape(g) for g in groups]},
            "scrape": {"interval_s": 2},
            "elasticsearch": {"hosts": [es_url], "index_prefix": unique("cli")},
            "log": {"format": "json"},
            **extra,
        }
        path = tmp_path / "lagwatch.yaml"
        path.write_text(yaml.safe_dump(config))
        return str(path)

    return write


def test_once_prints_kafka_style_table_and_json(kafka, config_file):
    topic = kafka.create_topic(unique("once"), partitions=2)
    kafka.produce(topic, {0: 6, 1: 2})
    group = unique("once-group")
    kafka.consume(group, topic, count=3)
    path = config_file([group])

    table = lagwatch("once", "-c", path)
    as_json = lagwatch("once", "-c", path, "--output", "json")

    assert table.returncode == 0, table.stderr
    header = next(line for line in table.stdout.splitlines() if line.startswith("GROUP"))
    assert header.split()[:6] == ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"]
    assert as_json.returncode == 0, as_json.stderr
    (report,) = json.loads(as_json.stdout)["clusters"]  # one document, whatever the number of clusters
    assert sum(p["lag"] for p in report["partitions"]) == 8 - 3
    assert report["groups"][0]["group"] == group


def test_once_with_two_clusters_prints_one_json_document_or_one_line_each(kafka, bootstrap, config_file):
    topic = kafka.create_topic(unique("twice"), partitions=1)
    kafka.produce(topic, {0: 5})
    group = unique("twice-group")
    kafka.consume(group, topic, count=2)
    clusters = [{"name": name, "bootstrap_servers": [bootstrap]} for name in ("east", "west")]
    path = config_file([group], clusters=clusters)
    document = lagwatch("once", "-c", path, "--output", "json")
    lines = lagwatch("once", "-c", path, "--output", "jsonl")
    assert document.returncode == lines.returncode == 0, document.stderr + lines.stderr
    parsed = json.loads(document.stdout)
    assert [(c["cluster"], c["groups"][0]["lag"]) for c in parsed["clusters"]] == [("east", 3), ("west", 3)]
    assert [json.loads(line)["cluster"] for line in lines.stdout.splitlines()] == ["east", "west"]


def test_run_indexes_every_interval_until_sigterm(kafka, es, config_file):
    topic = kafka.create_topic(unique("daemon"), partitions=1)
    kafka.produce(topic, {0: 4})
    group = unique("daemon-group")
    kafka.consume(group, topic, count=1)
    path = config_file([group])
    prefix = yaml.safe_load(open(path))["elasticsearch"]["index_prefix"]
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter.cli", "run", "-c", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def self_docs() -> int:
            if not es.indices.exists_alias(name=f"{prefix}-lag"):
                return 0
            es.indices.refresh(index=f"{prefix}-lag")
            # A slot the first scrape overran has a self document saying skipped: count scrapes only.
            return es.count(index=f"{prefix}-lag", query={"bool": {
                "filter": [{"term": {"lagwatch.doc_type": "self"}}],
                "must_not": [{"term": {"lagwatch.self.outcome": "skipped"}}]}})["count"]

        wait_for(lambda: self_docs() >= 2, timeout=30, what="two scrapes indexed")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    names = [e["event"] for e in events]
    assert names.count("scrape_done") >= 2 and names[-1] == "daemon_stopped"
    done = next(e for e in events if e["event"] == "scrape_done")
    assert {"cluster", "groups", "partitions", "duration_ms", "kafka_requests"} <= done.keys()
    for index in es.indices.get(index=f"{prefix}-lag-*"):
        es.indices.delete(index=index)


def test_check_config_prints_effective_config_with_secrets_redacted(tmp_path, bootstrap):
    secret = "s3cr3t-" + unique("pw")
    path = tmp_path / "lagwatch.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "clusters": [
                    {
                        "name": "prod",
                        "bootstrap_servers": [bootstrap],
                        "security": {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "username": "u"},
                    }
                ]
            }
        )
    )
    result = lagwatch("check-config", "-c", str(path), env={"LAGWATCH_CLUSTERS__0__SECURITY__PASSWORD": secret})
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    assert yaml.safe_load(result.stdout)["clusters"][0]["security"]["password"] == "**********"


def test_check_config_lists_every_error_with_its_field_and_exits_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("clusters:\n  - name: a\n    bootstrap_servers: [nohost]\nscrape:\n  interval_s: soon\n  colour: red\n")
    result = lagwatch("check-config", "-c", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for field in ("clusters[0].bootstrap_servers", "scrape.interval_s", "scrape.colour"):
        assert field in result.stderr
