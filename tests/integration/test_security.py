"""Credentials and TLS against real services: a Kafka broker with SASL_PLAINTEXT, SASL_SSL, SSL and mutual-TLS
listeners, an Elasticsearch node with x-pack security and HTTPS, and nginx checking an API key in front of it
(tests/security/). lagwatch is configured only through its own config model, as a user would."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import pytest
import structlog
from elasticsearch import AuthenticationException
from kafka import TopicPartition

from exporter.runtime import wiring as app

from exporter.lag import report as lag
from exporter import config as config_module
from exporter.runtime.pipeline import ClusterPipeline
from exporter.output.batch import from_documents
from exporter.sinks.interface import SinkRefused
from exporter.sinks.spool import Spool, SpoolingSink
from tests.harness import KafkaDriver, logged_cycle, unique
from tests.security.common import USER

pytestmark = pytest.mark.integration

# A wrong password must fail within the cluster's request timeout, not hang a scrape.
FAIL_FAST_TIMEOUT_S = 2


@pytest.fixture(scope="module")
def lagging_group(secure_stack):
    """A group 5 records behind on partition 0 and caught up on partition 1, made over PLAINTEXT."""
    driver = KafkaDriver(secure_stack.kafka.bootstrap)
    try:
        topic, group = unique("secure-topic"), unique("secure-group")
        driver.create_topic(topic, partitions=2)
        driver.produce(topic, {0: 7, 1: 4})
        driver.commit(group, {TopicPartition(topic, 0): 2, TopicPartition(topic, 1): 4})
    finally:
        driver.close()
    return group, topic


def make_config(address: str, security: dict, group: str, elasticsearch: dict | None = None, **cluster):
    raw = {
        "clusters": [{"name": "secure", "bootstrap_servers": address, "security": security, **cluster}],
        "groups": {"allow": [group]},
    }
    if elasticsearch is not None:
        raw["elasticsearch"] = {"index_prefix": unique("lagwatch-sec"), **elasticsearch}
    return config_module.parse(raw, environ={})


def secret_file(tmp_path, name: str, value: str) -> str:
    path = tmp_path / name
    path.write_text(value + "\n")
    path.chmod(0o600)
    return str(path)


def kafka_modes(stack, tmp_path) -> dict[str, tuple[str, dict]]:
    kafka, certs = stack.kafka, stack.certs
    return {
        "sasl_plaintext-plain": (
            kafka.address("SASL_PLAINTEXT"),
            {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "username": USER, "password": kafka.plain_password},
        ),
        "sasl_plaintext-scram512": (
            kafka.address("SASL_PLAINTEXT"),
            {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512", "username": USER,
             "password_file": secret_file(tmp_path, "scram", kafka.scram_password)},
        ),
        "sasl_ssl-plain": (
            kafka.address("SASL_SSL"),
            {"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "username": USER,
             "password_file": secret_file(tmp_path, "plain", kafka.plain_password), "ssl_cafile": str(certs.ca)},
        ),
        "sasl_ssl-scram512": (
            kafka.address("SASL_SSL"),
            {"protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "username": USER,
             "password": kafka.scram_password, "ssl_cafile": str(certs.ca)},
        ),
        "ssl-ca-file": (kafka.address("SSL"), {"protocol": "SSL", "ssl_cafile": str(certs.ca)}),
        "mutual-tls-encrypted-key": (
            kafka.address("MTLS"),
            {"protocol": "SSL", "ssl_cafile": str(certs.ca), "ssl_certfile": str(certs.client_cert),
             "ssl_keyfile": str(certs.client_key),
             "ssl_password_file": secret_file(tmp_path, "keypass", certs.client_key_password)},
        ),
    }


MODES = ["sasl_plaintext-plain", "sasl_plaintext-scram512", "sasl_ssl-plain", "sasl_ssl-scram512", "ssl-ca-file",
         "mutual-tls-encrypted-key"]


@pytest.mark.parametrize("mode", MODES)
def test_the_collector_reads_exact_lag_through_each_kafka_security_mode(secure_stack, lagging_group, tmp_path, mode):
    group, topic = lagging_group
    address, security = kafka_modes(secure_stack, tmp_path)[mode]
    config = make_config(address, security, group)
    collector = app.collector(config, config.clusters[0])
    try:
        snapshot = collector.collect()
    finally:
        collector.close()
    assert snapshot.up and not snapshot.errors
    report = lag.build_report(snapshot, None, lag.update_histories({}, snapshot, None))
    lags = {(r.topic, r.partition): r.lag for r in report.partitions if r.group == group}
    assert lags == {(topic, 0): 5, (topic, 1): 0}


def wrong_credentials(stack) -> dict[str, tuple[str, dict, str]]:
    kafka, certs = stack.kafka, stack.certs
    return {
        "scram-wrong-password": (
            kafka.address("SASL_PLAINTEXT"),
            {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512", "username": USER,
             "password": "not-the-scram-password"},
            "check username, password and sasl_mechanism",
        ),
        "plain-over-tls-wrong-password": (
            kafka.address("SASL_SSL"),
            {"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "username": USER, "password": "not-the-plain-password",
             "ssl_cafile": str(certs.ca)},
            "check username, password and sasl_mechanism",
        ),
        "tls-untrusted-ca": (
            kafka.address("SSL"), {"protocol": "SSL", "ssl_cafile": str(certs.other_ca)}, "CERTIFICATE_VERIFY_FAILED",
        ),
        "mutual-tls-without-client-certificate": (
            kafka.address("MTLS"), {"protocol": "SSL", "ssl_cafile": str(certs.ca)}, "client certificate",
        ),
    }


@pytest.mark.parametrize(
    "case",
    ["scram-wrong-password", "plain-over-tls-wrong-password", "tls-untrusted-ca", "mutual-tls-without-client-certificate"],
)
def test_rejected_credentials_fail_the_scrape_quickly_with_the_reason_and_no_traceback(
    secure_stack, lagging_group, case
):
    group, _ = lagging_group
    address, security, reason = wrong_credentials(secure_stack)[case]
    config = make_config(address, security, group, request_timeout_s=FAIL_FAST_TIMEOUT_S)
    pipeline = ClusterPipeline(app.collector(config, config.clusters[0]), None)
    started = time.monotonic()
    with structlog.testing.capture_logs() as events:
        result = pipeline.run_once()
    elapsed = time.monotonic() - started
    pipeline.collector.close()
    assert not result.report.snapshot.up
    (failed,) = [e for e in events if e["event"] == "scrape_failed"]
    assert "KafkaConnectError" in failed["error"] and reason in failed["error"] and address in failed["error"]
    assert "exc_info" not in failed and "Traceback" not in failed["error"]
    # Bounded by the configured timeout (plus slack for a loaded machine): kafka-python alone waits 30 s.
    assert elapsed < FAIL_FAST_TIMEOUT_S + 10


# --- Elasticsearch ------------------------------------------------------------------------------


def index_one_scrape(stack, group: str, es: dict):
    """One real scrape over SASL_SSL/SCRAM, indexed through lagwatch's own client and sink."""
    config = make_config(
        stack.kafka.address("SASL_SSL"),
        {"protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "username": USER,
         "password": stack.kafka.scram_password, "ssl_cafile": str(stack.certs.ca)},
        group,
        elasticsearch={"request_timeout_s": 10, **es},
    )
    client = app.elasticsearch_client(config.elasticsearch)
    sink = app.elasticsearch_sink(config, client)
    try:
        result, events = logged_cycle(ClusterPipeline(app.collector(config, config.clusters[0]), sink))
    finally:
        client.close()
    return config, sink, result, events


def indexed_lag(stack, alias: str, group: str) -> dict[int, int]:
    admin = stack.elasticsearch.admin_client()
    try:
        admin.indices.refresh(index=alias)
        hits = admin.search(index=alias, size=100, query={"term": {"lagwatch.doc_type": "partition"}})["hits"]["hits"]
    finally:
        admin.close()
    return {h["_source"]["kafka.partition.id"]: h["_source"]["kafka.consumergroup.consumer_lag"]
            for h in hits if h["_source"]["kafka.consumergroup.id"] == group}


def test_basic_auth_over_https_with_a_ca_file_indexes_documents(secure_stack, lagging_group, tmp_path):
    group, _ = lagging_group
    node = secure_stack.elasticsearch
    _, sink, result, _ = index_one_scrape(secure_stack, group, {
        "hosts": node.url, "username": USER, "password_file": secret_file(tmp_path, "es", node.user_password),
        "ca_certs": str(secure_stack.certs.ca),
    })
    assert result.sink_error is None and result.delivered == len(result.documents) > 0
    assert indexed_lag(secure_stack, sink.name, group) == {0: 5, 1: 0}


def test_api_key_over_https_indexes_documents(secure_stack, api_key_gateway, lagging_group, tmp_path):
    group, _ = lagging_group
    _, sink, result, _ = index_one_scrape(secure_stack, group, {
        "hosts": api_key_gateway.url, "api_key_file": secret_file(tmp_path, "key", api_key_gateway.api_key),
        "ca_certs": str(secure_stack.certs.ca),
    })
    assert result.sink_error is None and result.delivered == len(result.documents) > 0
    assert indexed_lag(secure_stack, sink.name, group) == {0: 5, 1: 0}


def test_the_secure_node_itself_cannot_create_api_keys_in_the_integ_test_distribution(secure_stack):
    # Why API keys go through nginx here. If this starts failing, the distribution gained the module and
    # test_api_key_over_https_indexes_documents can use a real key (POST /_security/api_key) instead.
    reason = secure_stack.elasticsearch.api_keys_supported()
    assert reason is not None and "pattern_capture" in reason


@pytest.mark.parametrize("case", ["wrong-password", "wrong-api-key", "untrusted-ca"])
def test_rejected_elasticsearch_credentials_or_certificate_give_a_clear_sink_error(
    secure_stack, api_key_gateway, lagging_group, case, tmp_path
):
    group, _ = lagging_group
    node, ca = secure_stack.elasticsearch, str(secure_stack.certs.ca)
    es, expected = {
        "wrong-password": ({"hosts": node.url, "username": USER, "password": "not-the-es-password", "ca_certs": ca},
                           "unable to authenticate user [lagwatch]"),
        "wrong-api-key": ({"hosts": api_key_gateway.url, "api_key": base64.b64encode(b"gw0:nope").decode(),
                           "ca_certs": ca}, "AuthenticationException(401"),
        "untrusted-ca": ({"hosts": node.url, "username": USER, "password": node.user_password,
                          "ca_certs": str(secure_stack.certs.other_ca)}, "CERTIFICATE_VERIFY_FAILED"),
    }[case]
    config, _, result, events = index_one_scrape(secure_stack, group, es)
    assert result.report.snapshot.up  # Kafka side fine: only delivery failed
    assert result.delivered == 0 and result.sink_error and expected in result.sink_error
    logged = [e for e in events if "error" in e and expected in str(e["error"])]
    assert logged and all("Traceback" not in str(e["error"]) for e in logged)
    with pytest.raises(Exception) as raised:  # the sink's own setup says the same
        sink = app.elasticsearch_sink(config, app.elasticsearch_client(config.elasticsearch))
        sink.setup()
    assert expected in str(raised.value)
    if case != "untrusted-ca":  # a refusal (a configuration problem), not an outage to wait out
        assert isinstance(raised.value, SinkRefused) and raised.value.status == 401
        assert isinstance(raised.value.__cause__, AuthenticationException)
        spooling = SpoolingSink(sink, Spool(tmp_path / "spool", max_bytes=10**6), retry_after_s=0)
        with pytest.raises(SinkRefused):
            spooling.setup()
        (batch,) = from_documents([{"_id": "x", "@timestamp": "2026-01-01T00:00:00Z"}])
        result = spooling.deliver(batch)
        assert result.rejected and result.spooled == 0 and len(spooling.spool) == 0
        health = spooling.health()
        assert not health.ready and "401" in health.refused and "check elasticsearch" in health.refused


# --- secrets never leak -------------------------------------------------------------------------


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exporter.cli", *args], capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("LAGWATCH_")}, **env},
    )


def test_secrets_from_env_and_files_never_appear_in_any_output(secure_stack, api_key_gateway, lagging_group, tmp_path):
    group, _ = lagging_group
    kafka, certs, node = secure_stack.kafka, secure_stack.certs, secure_stack.elasticsearch
    wrong_kafka_password = "wrong-" + base64.b32encode(os.urandom(10)).decode()
    wrong_es_password = "wrong-" + base64.b32encode(os.urandom(10)).decode()
    wrong_api_key = base64.b64encode(b"gw1:" + base64.b32encode(os.urandom(10))).decode()
    config_path = tmp_path / "lagwatch.yaml"
    config_path.write_text(json.dumps({  # JSON is YAML
        "clusters": [
            {"name": "scram-ok", "bootstrap_servers": kafka.address("SASL_SSL"), "security": {
                "protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "username": USER, "ssl_cafile": str(certs.ca)}},
            {"name": "plain-wrong", "bootstrap_servers": kafka.address("SASL_PLAINTEXT"),
             "request_timeout_s": FAIL_FAST_TIMEOUT_S, "security": {
                 "protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "username": USER,
                 "password_file": secret_file(tmp_path, "wrong", wrong_kafka_password)}},
            {"name": "mtls-ok", "bootstrap_servers": kafka.address("MTLS"), "security": {
                "protocol": "SSL", "ssl_cafile": str(certs.ca), "ssl_certfile": str(certs.client_cert),
                "ssl_keyfile": str(certs.client_key)}},
        ],
        "groups": {"allow": [group]},
        "elasticsearch": {"hosts": node.url, "ca_certs": str(certs.ca),
                          "index_prefix": unique("lagwatch-leak")},
        "log": {"level": "debug", "format": "json"},
    }))
    env = {
        "LAGWATCH_CLUSTERS__0__SECURITY__PASSWORD": kafka.scram_password,
        "LAGWATCH_CLUSTERS__2__SECURITY__SSL_PASSWORD": certs.client_key_password,
        "LAGWATCH_ELASTICSEARCH__USERNAME": USER,
        "LAGWATCH_ELASTICSEARCH__PASSWORD_FILE": secret_file(tmp_path, "es", node.user_password),
    }
    check = run_cli(["check-config", "-c", str(config_path)], env)
    indexed = run_cli(["once", "-c", str(config_path), "--index"], env)
    wrong_es = run_cli(["once", "-c", str(config_path), "--index"],
                       {**env, "LAGWATCH_ELASTICSEARCH__PASSWORD_FILE": secret_file(tmp_path, "es-wrong", wrong_es_password)})
    api_key_env = {k: v for k, v in env.items() if "ELASTICSEARCH" not in k}
    wrong_key = run_cli(["once", "-c", str(config_path), "--index"], {
        **api_key_env, "LAGWATCH_ELASTICSEARCH__HOSTS": api_key_gateway.url,
        "LAGWATCH_ELASTICSEARCH__API_KEY": wrong_api_key})
    right_key = run_cli(["once", "-c", str(config_path), "--index", "--output", "json"], {
        **api_key_env, "LAGWATCH_ELASTICSEARCH__HOSTS": api_key_gateway.url,
        "LAGWATCH_ELASTICSEARCH__API_KEY_FILE": secret_file(tmp_path, "key", api_key_gateway.api_key)})

    # Each run did what it should, so the secrets really went through every code path.
    assert check.returncode == 0, check.stderr
    assert check.stdout.count("**********") >= 3
    runs = {"once": indexed, "wrong es password": wrong_es, "wrong api key": wrong_key, "right api key": right_key}
    for name, run in runs.items():
        assert run.returncode == 1, f"{name}: {run.stderr[-3000:]}"  # the plain-wrong cluster always fails
        events = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
        failed = [e for e in events if e.get("event") == "scrape_failed"]
        assert len(failed) == 1 and failed[0]["cluster"] == "plain-wrong", name
        assert "SASL PLAIN as 'lagwatch'" in failed[0]["error"], name
        done = {e["cluster"]: e for e in events if e.get("event") == "scrape_done"}
        assert done["scram-ok"]["up"] and done["mtls-ok"]["up"], name
        assert "Traceback" not in run.stderr + run.stdout, name
        errors = [str(e.get("error", "")) + str(e.get("reason", "")) for e in events]
        for secret in [wrong_kafka_password, kafka.scram_password, kafka.plain_password]:
            assert all(secret not in text for text in errors), name
    assert all(e.get("event") != "sink_unavailable" for e in map(json.loads, filter(
        lambda line: line.startswith("{"), indexed.stderr.splitlines())))
    assert "unable to authenticate user [lagwatch]" in wrong_es.stderr
    assert "AuthenticationException(401" in wrong_key.stderr
    assert "sink_unavailable" not in right_key.stderr

    secrets = secure_stack.secrets() + [
        wrong_kafka_password, wrong_es_password, api_key_gateway.api_key, wrong_api_key,
        base64.b64decode(api_key_gateway.api_key).decode().split(":", 1)[1],
        base64.b64decode(wrong_api_key).decode().split(":", 1)[1],
    ]
    everything = "\n".join(r.stdout + "\n" + r.stderr for r in [check, *runs.values()])
    leaked = [s for s in secrets if s in everything]
    assert not leaked, f"{len(leaked)} secret(s) in the output"
