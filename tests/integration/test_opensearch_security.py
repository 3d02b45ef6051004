"""OpenSearch with its security plugin (tests/security/secure_opensearch.py): HTTPS with the test CA, internal
users, and the role docs/opensearch.md says lagwatch needs. That role is enough for setup, indexing and
retention; a wrong password is a 401 naming the options to check; a user who may not write is a 403 counted
as rejected, not spooled; a certificate from another CA is never accepted. No password reaches the output."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from exporter import config as config_module
from exporter.runtime import wiring
from exporter.sinks.elasticsearch import ElasticsearchSink
from exporter.sinks.spool import Spool, SpoolingSink
from tests.harness import unique
from tests.integration.test_cli_commands import lagwatch
from tests.integration.test_opensearch import write_config
from tests.integration.test_sink_refusals import batch, real_documents
from tests.security.common import USER
from tests.security.secure_opensearch import READER

# Opt-in, to keep CI within its time: the plugin (45 MB) and a node that builds its security index cost about
# 100 s of a clean CI run (measured in docs/testing.md). Run it with LAGWATCH_TEST_OS_SECURITY=1.
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("LAGWATCH_TEST_OS_SECURITY"),
                       reason="the OpenSearch security plugin tier is opt-in: LAGWATCH_TEST_OS_SECURITY=1"),
]


@pytest.fixture(scope="module")
def secure_os(tmp_path_factory):
    from tests.conftest import _missing_tool
    from tests.security.pki import make_certificates
    from tests.security.secure_opensearch import SecureOpenSearchNode

    if not shutil.which("openssl"):
        _missing_tool("openssl", "the security tests make their CA and certificates with it")
    certs = make_certificates(tmp_path_factory.mktemp("os-pki"))
    node = SecureOpenSearchNode(certs=certs, heap="512m").start()
    yield node
    node.stop()


def store_section(node, tmp_path, user: str, password: str, ca=None, prefix=None) -> dict:
    (tmp_path / f"{user}.pw").write_text(password + "\n")
    return {"opensearch": {"hosts": [node.url], "username": user, "password_file": str(tmp_path / f"{user}.pw"),
                           "ca_certs": str(ca or node.certs.ca), "index_prefix": prefix or unique("lagwatch-sec")}}


def test_the_role_docs_name_is_enough_over_https_for_setup_indexing_and_retention(secure_os, tmp_path, kafka,
                                                                                  bootstrap):
    topic = kafka.create_topic(unique("sec-os"))
    kafka.produce(topic, {0: 5})
    group = unique("sec-os-group")
    kafka.consume(group, topic, count=2)
    section = store_section(secure_os, tmp_path, USER, secure_os.user_password)
    prefix = section["opensearch"]["index_prefix"]
    path = write_config(tmp_path, bootstrap, section, [group])
    admin = secure_os.admin_client()
    try:
        done = lagwatch("setup", "-c", path)
        assert done.returncode == 0, done.stderr
        indexed = lagwatch("once", "--index", "-c", path)
        assert indexed.returncode == 0, indexed.stderr
        admin.indices.refresh(index=f"{prefix}-lag")
        body = {"query": {"term": {"kafka.consumergroup.id": group}}}
        assert admin.count(index=f"{prefix}-lag", body=body)["count"] > 0
        admin.indices.create(index=f"{prefix}-lag-2001.01.01")  # long expired
        config = config_module.load(path, {})
        sink = ElasticsearchSink(wiring.store_client(config.store), prefix=prefix, retention_days=30)
        sink.mode = "daily_indices"
        assert sink.prune() == [f"{prefix}-lag-2001.01.01"]
        for output in (done, indexed):
            assert secure_os.user_password not in output.stdout + output.stderr
    finally:
        for index in admin.indices.get(index=f"{prefix}-*"):
            admin.indices.delete(index=index)
        admin.close()


def test_a_wrong_password_is_a_401_naming_the_options_to_check(secure_os, tmp_path, bootstrap):
    path = write_config(tmp_path, bootstrap, store_section(secure_os, tmp_path, USER, "not-the-password-x1"))
    result = lagwatch("setup", "-c", path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("lagwatch: setup failed: OpenSearch refused setup (401):"), last
    assert last.endswith("check opensearch.username/password") and "not-the-password-x1" not in result.stderr


def test_a_user_who_may_not_write_is_refused_with_403_and_counted_as_rejected(secure_os, tmp_path, bootstrap):
    section = store_section(secure_os, tmp_path, READER, secure_os.reader_password)
    result = lagwatch("setup", "-c", write_config(tmp_path, bootstrap, section))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "OpenSearch refused setup (403)" in last and "indices:admin/index_template/put" in last, last
    assert "the role lagwatch needs" in last and "docs/opensearch.md" in last
    config = config_module.parse({"clusters": [{"name": "c", "bootstrap_servers": bootstrap}], **section}, {})
    inner = ElasticsearchSink(wiring.store_client(config.store), prefix=section["opensearch"]["index_prefix"])
    inner.mode = "daily_indices"  # as if a template were there: the writes themselves are refused
    sink = SpoolingSink(inner, Spool(tmp_path / "spool", max_bytes=10**7), retry_after_s=0)
    docs = real_documents(time.time())
    result = sink.deliver(batch(docs))
    counts = sink.counts()
    assert (counts.rejected, counts.spooled, counts.pending) == (len(docs), 0, 0) and counts.balanced
    assert "403" in sink.health().refused


def test_a_certificate_from_another_ca_is_never_accepted(secure_os, tmp_path, bootstrap):
    section = store_section(secure_os, tmp_path, USER, secure_os.user_password, ca=secure_os.certs.other_ca)
    result = lagwatch("setup", "-c", write_config(tmp_path, bootstrap, section))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "OpenSearch unreachable during setup" in last and "CERTIFICATE_VERIFY_FAILED" in last, last
