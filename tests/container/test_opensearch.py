"""The image once against OpenSearch: `lagwatch run` in the container with an `opensearch:` section, the
harness's real broker and OpenSearch node (host network). The rest of the tier (privileges, stop, restart on
the same volume) does not depend on the store and runs against Elasticsearch in test_daemon.py."""

from __future__ import annotations

import json

import pytest

from tests import container_harness as ch
from tests.container.test_daemon import lagging_group, make_container, wait_ready, write_config  # noqa: F401
from tests.harness import unique, wait_for
from tests.scraped_estate import drop

pytestmark = pytest.mark.integration


def group_docs(client, prefix: str, group: str) -> list[dict]:
    if not client.indices.exists_alias(name=f"{prefix}-lag"):
        return []
    client.indices.refresh(index=f"{prefix}-lag")
    body = {"size": 1000, "sort": [{"@timestamp": "asc"}], "query": {"bool": {"filter": [
        {"term": {"lagwatch.doc_type": "group"}}, {"term": {"kafka.consumergroup.id": group}}]}}}
    return [h["_source"] for h in client.search(index=f"{prefix}-lag", body=body)["hits"]["hits"]]


def test_run_in_the_container_indexes_the_right_lag_into_opensearch(
    tmp_path, bootstrap, os_url, opensearch, lagging_group, make_container  # noqa: F811
):
    _, group = lagging_group
    prefix, cluster = unique("lwctros"), unique("ctr-os")
    config = write_config(tmp_path, cluster=cluster, bootstrap=bootstrap, es_url=os_url, group=group, prefix=prefix,
                          store="opensearch")
    container, port = make_container(config)
    try:
        wait_ready(container, port)
        docs = wait_for(lambda: group_docs(opensearch, prefix, group), timeout=60,
                        what="group documents from the container in OpenSearch")
        assert docs[-1]["lagwatch.cluster"] == cluster and docs[-1]["lagwatch.lag.messages"] == 6
        readyz = json.loads(ch.http_text(f"http://127.0.0.1:{port}/readyz"))
        assert readyz["ready"] is True
        ready = next(e for e in container.events("sink_ready"))
        assert ready["storage"] == "daily_indices" and ready["target"] == f"{prefix}-lag"
    finally:
        drop(opensearch, prefix)
