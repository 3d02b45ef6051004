"""OpenSearch as the store, on a real OpenSearch node (devstack's integ-test-zip, the main release): `lagwatch
setup`, `once --index` and `run` as an operator runs them, with an `opensearch:` section; each product's
server at the other's section refused with the field named; credentials on a node that has no security plugin.

What the bare node cannot show: it has no security plugin, so no 401 or 403 of its own, no TLS and no roles;
those are proven on a node with the security plugin installed (tests/integration/test_opensearch_security.py).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import pytest
import yaml

from tests.harness import unique, wait_for
from tests.integration.test_cli_commands import lagwatch

pytestmark = pytest.mark.integration


def write_config(tmp_path, bootstrap: str, store: dict, groups=(), **extra) -> str:
    config = {
        "clusters": [{"name": "local", "bootstrap_servers": [bootstrap]}],
        "groups": {"allow": [re.escape(g) for g in groups] or [".*"]},
        "scrape": {"interval_s": 2},
        "log": {"format": "json"},
        **store,
        **extra,
    }
    path = tmp_path / "lagwatch.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def drop(client, prefix: str) -> None:
    for kind in ("lag", "alerts"):
        for index in client.indices.get(index=f"{prefix}-{kind}-*", expand_wildcards="all"):
            client.indices.delete(index=index)
        if client.indices.exists_index_template(name=f"{prefix}-{kind}"):
            client.indices.delete_index_template(name=f"{prefix}-{kind}")


def lag_documents(client, prefix: str, doc_type: str) -> list[dict]:
    client.indices.refresh(index=f"{prefix}-lag")
    body = {"size": 1000, "query": {"term": {"lagwatch.doc_type": doc_type}}}
    return [h["_source"] for h in client.search(index=f"{prefix}-lag", body=body)["hits"]["hits"]]


def test_setup_installs_templates_opensearch_accepts_and_a_second_run_converges(tmp_path, bootstrap, os_url,
                                                                                  opensearch):
    prefix = unique("lwos")
    path = write_config(tmp_path, bootstrap, {"opensearch": {"hosts": [os_url], "index_prefix": prefix}})
    try:
        first, second = lagwatch("setup", "-c", path), lagwatch("setup", "-c", path)
        assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
        assert first.stdout == second.stdout
        assert f"opensearch: index template {prefix}-lag installed (daily indices {prefix}-lag-YYYY.MM.DD " \
               f"behind the alias {prefix}-lag, kept 30 days)" in first.stdout
        assert f"opensearch: index template {prefix}-alerts installed" in first.stdout
        assert "opensearch-dashboards" in first.stdout  # where the dashboards are, since Kibana is not
        (template,) = opensearch.indices.get_index_template(name=f"{prefix}-lag")["index_templates"]
        body = template["index_template"]
        assert body["index_patterns"] == [f"{prefix}-lag-*"] and body["priority"] == 200
        assert body["_meta"] == {"managed_by": "lagwatch", "version": 1}
        assert body["template"]["aliases"] == {f"{prefix}-lag": {}}
        assert body["template"]["mappings"]["dynamic"] == "strict"
    finally:
        drop(opensearch, prefix)


def test_setup_adds_the_fields_added_since_to_todays_index_of_the_release_before(tmp_path, bootstrap, os_url,
                                                                                    opensearch):
    from datetime import datetime, timezone

    from exporter.sinks.elasticsearch import lag_mappings

    prefix = unique("lwos")
    day = datetime.now(timezone.utc).strftime("%Y.%m.%d")
    old = lag_mappings()
    del old["properties"]["lagwatch"]["properties"]["lag"]["properties"]["seconds_last_known"]
    opensearch.indices.create(index=f"{prefix}-lag-{day}", body={"mappings": old})
    path = write_config(tmp_path, bootstrap, {"opensearch": {"hosts": [os_url], "index_prefix": prefix}})
    try:
        result = lagwatch("setup", "-c", path)
        assert result.returncode == 0 and "setup_mappings_not_updated" not in result.stderr, result.stderr
        mapping = opensearch.indices.get_mapping(index=f"{prefix}-lag-{day}")[f"{prefix}-lag-{day}"]["mappings"]
        assert mapping["properties"]["lagwatch"]["properties"]["lag"]["properties"]["seconds_last_known"] == {
            "type": "double"}
    finally:
        drop(opensearch, prefix)


def test_once_with_index_writes_one_scrape_behind_the_alias(tmp_path, kafka, bootstrap, os_url, opensearch):
    topic = kafka.create_topic(unique("os-once"), partitions=2)
    kafka.produce(topic, {0: 7, 1: 5})
    group = unique("os-once-group")
    kafka.consume(group, topic, count=4)
    prefix = unique("lwos")
    path = write_config(tmp_path, bootstrap, {"opensearch": {"hosts": [os_url], "index_prefix": prefix}}, [group])
    try:
        result = lagwatch("once", "--index", "-c", path, "--output", "json")
        assert result.returncode == 0, result.stderr
        (group_doc,) = lag_documents(opensearch, prefix, "group")
        assert group_doc["kafka.consumergroup.id"] == group and group_doc["lagwatch.lag.messages"] == 12 - 4
        partitions = lag_documents(opensearch, prefix, "partition")
        assert sorted(d["kafka.partition.id"] for d in partitions) == [0, 1]
        assert sum(d["lagwatch.lag.messages"] for d in partitions) == 8
        (index,) = opensearch.indices.get_alias(name=f"{prefix}-lag")
        assert re.fullmatch(rf"{prefix}-lag-\d{{4}}\.\d{{2}}\.\d{{2}}", index)
    finally:
        drop(opensearch, prefix)


def test_run_indexes_every_interval_until_sigterm(tmp_path, kafka, bootstrap, os_url, opensearch):
    topic = kafka.create_topic(unique("os-run"), partitions=1)
    kafka.produce(topic, {0: 4})
    group = unique("os-run-group")
    kafka.consume(group, topic, count=1)
    prefix = unique("lwos")
    path = write_config(tmp_path, bootstrap, {"opensearch": {"hosts": [os_url], "index_prefix": prefix}}, [group],
                        http={"enabled": False})
    process = subprocess.Popen([sys.executable, "-m", "exporter.cli", "run", "-c", path],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def scrapes() -> int:
            if not opensearch.indices.exists_alias(name=f"{prefix}-lag"):
                return 0
            return len(lag_documents(opensearch, prefix, "self"))

        wait_for(lambda: scrapes() >= 2, timeout=40, what="two scrapes indexed into OpenSearch")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    try:
        assert process.returncode == 0, err
        events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        ready = next(e for e in events if e["event"] == "sink_ready")
        assert ready["storage"] == "daily_indices" and ready["target"] == f"{prefix}-lag"
        assert not [e for e in events if e["event"] in ("sink_refused", "sink_setup_failed", "documents_spooled")]
        groups = lag_documents(opensearch, prefix, "group")
        assert {d["lagwatch.lag.messages"] for d in groups} == {3}
    finally:
        drop(opensearch, prefix)


def test_an_elasticsearch_node_under_opensearch_is_refused_naming_the_field(tmp_path, bootstrap, es_url):
    from devstack.versions import ELASTICSEARCH_VERSION

    path = write_config(tmp_path, bootstrap, {"opensearch": {"hosts": [es_url], "index_prefix": unique("lwos")}})
    result = lagwatch("setup", "-c", path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"lagwatch: setup failed: opensearch.hosts: the server is Elasticsearch {ELASTICSEARCH_VERSION}, not "
        "OpenSearch: configure it under `elasticsearch:` instead of `opensearch:` (docs/opensearch.md)"
    )


def test_an_opensearch_node_under_elasticsearch_is_refused_naming_the_field_not_as_a_200(tmp_path, bootstrap,
                                                                                          os_url, os_node):
    path = write_config(tmp_path, bootstrap, {"elasticsearch": {"hosts": [os_url], "index_prefix": unique("lwes")}})
    for storage in ("auto", "daily_indices"):  # the client's product check (200) and OpenSearch's 406
        result = lagwatch("setup", "-c", path, env={"LAGWATCH_ELASTICSEARCH__STORAGE": storage})
        assert result.returncode == 1
        version = getattr(os_node, "version", None) or r"[0-9.]+"
        # (elastic_transport's own warning about the failed node may come first)
        assert re.fullmatch(
            rf"lagwatch: setup failed: elasticsearch\.hosts: the server is OpenSearch {version}, not Elasticsearch: "
            r"configure it under `opensearch:` instead of `elasticsearch:` \(docs/opensearch\.md\)",
            result.stderr.strip().splitlines()[-1])
        assert "(200)" not in result.stderr and "406" not in result.stderr


def test_credentials_work_and_never_show_even_when_the_node_is_unreachable(tmp_path, kafka, bootstrap, os_url,
                                                                           opensearch):
    """The bare node ignores credentials (no security plugin): lagwatch sends them and indexes; and where a
    request fails, neither the password nor one in a host URL reaches the output."""
    secret, url_secret = "Os-Pa55word-x9", "Url-Pa55word-y7"
    (tmp_path / "pw").write_text(secret + "\n")
    prefix = unique("lwos")
    store = {"opensearch": {"hosts": [os_url], "index_prefix": prefix, "username": "lagwatch",
                            "password_file": str(tmp_path / "pw")}}
    path = write_config(tmp_path, bootstrap, store)
    try:
        done = lagwatch("setup", "-c", path)
        assert done.returncode == 0, done.stderr
        assert opensearch.indices.exists_index_template(name=f"{prefix}-lag")
        checked = lagwatch("check-config", "-c", path)
        assert secret not in checked.stdout + checked.stderr and "**********" in checked.stdout
        unreachable = {"opensearch": {"hosts": [f"http://writer:{url_secret}@127.0.0.1:9"], "index_prefix": prefix,
                                      "username": "lagwatch", "password_file": str(tmp_path / "pw")}}
        (tmp_path / "bad").mkdir()
        failed = lagwatch("once", "--index", "-c", write_config(tmp_path / "bad", bootstrap, unreachable))
        output = failed.stdout + failed.stderr
        assert failed.returncode == 1 and "OpenSearch unreachable" in output
        assert secret not in output and url_secret not in output
    finally:
        drop(opensearch, prefix)
