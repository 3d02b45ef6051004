"""Least-privileged lagwatch on an Elasticsearch node with security on (tests/security/secure_es.py: HTTPS,
file-realm users, one role per case). The role cut to what lagwatch uses works completely; a role missing any
one privilege fails clearly, naming it, before anything is installed; and a refusing sink is not "up": the
scrape's log line, /metrics, /readyz and the self document say refused, and why, while it lasts."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from kafka import TopicPartition

from exporter import config as config_module
from exporter.runtime import wiring
from exporter.runtime.pipeline import ClusterPipeline
from exporter.sinks.elasticsearch import ElasticsearchSink, SinkRefused
from exporter.sinks.spool import Spool, SpoolingSink
from tests.harness import KafkaDriver, RunningDaemon, unique, write_config
from tests.security.secure_es import CUT_CLUSTER, CUT_INDICES, CUT_USER, without_user

pytestmark = pytest.mark.integration

WRITE = {"manage_index_templates", "monitor", "auto_configure", "index"}  # without them nothing is written


@pytest.fixture(scope="module")
def group(bootstrap):
    """A group 5 behind on one partition of the main broker: what each scrape here indexes."""
    kafka = KafkaDriver(bootstrap)
    try:
        topic = kafka.create_topic(unique("es-acl"), partitions=1)
        kafka.produce(topic, {0: 7})
        name = unique("es-acl-group")
        kafka.commit(name, {TopicPartition(topic, 0): 2})
    finally:
        kafka.close()
    return name


def es_config(stack, user: str, prefix: str, tmp_path, **es) -> dict:
    password = tmp_path / "es-password"
    password.write_text(stack.elasticsearch.user_password)
    return {"hosts": [stack.elasticsearch.url], "username": user, "password_file": str(password),
            "ca_certs": str(stack.certs.ca), "index_prefix": prefix, "request_timeout_s": 10, **es}


def config_for(stack, bootstrap, group, user, prefix, tmp_path, **es):
    return config_module.parse({
        "clusters": [{"name": "local", "bootstrap_servers": bootstrap}], "groups": {"allow": [group]},
        "elasticsearch": es_config(stack, user, prefix, tmp_path, **es)}, environ={})


def templates(stack, prefix: str) -> list[str]:
    admin = stack.elasticsearch.admin_client()
    try:
        found = admin.indices.get_index_template(name=f"{prefix}-*", ignore=404).body
    finally:
        admin.close()
    return sorted(t["name"] for t in found.get("index_templates", []))


def test_the_cut_role_indexes_every_document_once_sets_up_idempotently_and_runs_retention(
    secure_stack, bootstrap, group, tmp_path
):
    prefix = unique("lagwatch-cut")
    config = config_for(secure_stack, bootstrap, group, CUT_USER, prefix, tmp_path, storage="auto")
    client = wiring.elasticsearch_client(config.elasticsearch)
    sink = wiring.elasticsearch_sink(config, client)
    admin = secure_stack.elasticsearch.admin_client()
    try:
        assert sink.setup() == sink.setup() == "daily_indices" and sink.retention_refused is None
        pipeline = ClusterPipeline(wiring.collector(config, config.clusters[0]), sink)
        result = pipeline.run_once()
        pipeline.collector.close()
        assert result.sink_error is None and result.delivered == len(result.documents) > 0
        admin.indices.refresh(index=f"{prefix}-lag")
        assert admin.count(index=f"{prefix}-lag")["count"] == len(result.documents)
        admin.indices.create(index=f"{prefix}-lag-2020.01.01")
        assert sink.prune() == [f"{prefix}-lag-2020.01.01"]
    finally:
        admin.close()
        client.close()


@pytest.mark.parametrize("privilege", CUT_CLUSTER + CUT_INDICES)
def test_a_role_missing_one_privilege_fails_clearly_naming_it_and_scraping_goes_on(
    secure_stack, bootstrap, group, tmp_path, privilege
):
    prefix = unique("lagwatch-no")
    config = config_for(secure_stack, bootstrap, group, without_user(privilege), prefix, tmp_path, storage="auto")
    client = wiring.elasticsearch_client(config.elasticsearch)
    spooling = SpoolingSink(wiring.elasticsearch_sink(config, client), Spool(tmp_path / "spool", 10**6))
    pipeline = ClusterPipeline(wiring.collector(config, config.clusters[0]), spooling)
    kind = "cluster" if privilege in CUT_CLUSTER else "index"
    try:
        if privilege in WRITE:
            with pytest.raises(SinkRefused) as refused:
                spooling.setup()
            assert f"lacks {kind} privileges ['{privilege}']" in str(refused.value) and templates(secure_stack, prefix) == []
            result = pipeline.run_once()  # the scrape goes on; its documents are counted, not spooled
            assert result.report.snapshot.up and result.sink_error.startswith("rejected")
            assert spooling.counts().rejected == len(result.documents) and spooling.counts().balanced
        else:  # documents go in; only old indices cannot be deleted, and that is said while it lasts
            spooling.setup()
            result = pipeline.run_once()
            health = spooling.health()
            assert not health.ready and f"lacks index privileges ['{privilege}']" in health.refused
            assert health.refused.startswith("retention cannot delete old indices")
            assert result.delivered == len(result.documents) and result.sink_error == f"refused: {health.refused}"
    finally:
        pipeline.collector.close()
        client.close()


def test_setup_with_an_index_prefix_the_role_does_not_cover_installs_nothing_and_fails(
    secure_stack, bootstrap, group, tmp_path
):
    prefix = unique("metrics")  # the cut role covers lagwatch* only
    path = write_config(tmp_path / "lagwatch.yaml", {
        "clusters": [{"name": "local", "bootstrap_servers": bootstrap}],
        "elasticsearch": es_config(secure_stack, CUT_USER, prefix, tmp_path)})
    result = subprocess.run([sys.executable, "-m", "exporter.cli", "setup", "-c", path], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (f"lagwatch: setup failed: Elasticsearch refused setup: user 'lagwatch-cut' lacks index "
            f"privileges ['auto_configure', 'index'] on ['{prefix}-lag*']") in result.stderr
    assert templates(secure_stack, prefix) == []


def http(daemon: RunningDaemon, path: str) -> tuple[int, str]:
    port = daemon.wait_event("http_started")[0]["port"]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_while_elasticsearch_refuses_every_write_the_daemon_says_refused_everywhere(
    secure_stack, bootstrap, group, tmp_path
):
    path = write_config(tmp_path / "lagwatch.yaml", {
        "clusters": [{"name": "local", "bootstrap_servers": bootstrap}], "groups": {"allow": [group]},
        "elasticsearch": es_config(secure_stack, without_user("index"), unique("lagwatch-refused"), tmp_path),
        "scrape": {"interval_s": 2}, "http": {"port": 0}, "log": {"format": "json"}})
    daemon = RunningDaemon(path)
    try:
        daemon.wait_event("sink_refused", timeout=90)
        first = len(daemon.events("scrape_done"))
        done = daemon.wait_event("scrape_done", first + 1, timeout=60)[-1]
        metrics = http(daemon, "/metrics")[1]
        status, body = http(daemon, "/readyz")
    finally:
        daemon.terminate()
    why = "lacks index privileges ['index']"
    assert done["sink_error"].startswith("refused: Elasticsearch refused setup") and why in done["sink_error"]
    assert "lagwatch_sink_up 0.0" in metrics and "lagwatch_sink_refused 1.0" in metrics
    assert status == 503 and why in json.loads(body)["sink"]["refused"]


def test_the_self_document_says_the_sink_refuses_while_it_does(secure_stack, bootstrap, group, tmp_path):
    config = config_for(secure_stack, bootstrap, group, without_user("auto_configure"), unique("lagwatch-self"),
                        tmp_path)
    client = wiring.elasticsearch_client(config.elasticsearch)
    spooling = SpoolingSink(ElasticsearchSink(client, prefix=config.elasticsearch.index_prefix),
                            Spool(tmp_path / "spool", 10**6), retry_after_s=0)
    pipeline = ClusterPipeline(wiring.collector(config, config.clusters[0]), spooling)
    try:
        first, second = pipeline.run_once(), pipeline.run_once()
    finally:
        pipeline.collector.close()
        client.close()
    selves = [[d for d in r.documents if d["lagwatch.doc_type"] == "self"][0] for r in (first, second)]
    assert selves[0]["lagwatch.self.sink_refused"] is None  # nothing was refused yet when it was built
    assert "lacks index privileges ['auto_configure']" in selves[1]["lagwatch.self.sink_refused"]
