"""An upgrade loses nothing: the spool, the dead-letter directory and the alert state file that lagwatch 0d337a2
wrote (tests/resources/upgrade/, made before documents travelled as encoded batches) are read by today's daemon,
and every document and every transition in them ends up delivered: in Elasticsearch, and at the webhook."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from exporter import config as config_module
from exporter.runtime.daemon import Daemon
from exporter.sinks.elasticsearch import ElasticsearchSink, lag_mappings
from tests.harness import unique, wait_for
from tests.webhook_recorder import Recorder

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent.parent / "resources" / "upgrade"


def written_documents(directory: Path) -> dict[str, dict]:
    """The documents in a directory of spool segments as 0d337a2 wrote them (JSON lines, `_id` inside)."""
    found = {}
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            doc = json.loads(line)
            found[doc.pop("_id")] = doc
    return found


def indexed(client: Elasticsearch, index: str) -> dict[str, dict]:
    client.cluster.health(index=index, wait_for_status="yellow", timeout="30s")  # fresh indices: shards started
    client.indices.refresh(index=index)
    hits = client.search(index=index, size=1000, query={"match_all": {}})["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def test_a_spool_dead_letters_and_alert_state_of_the_release_before_batches_are_all_delivered(es, es_url, bootstrap,
                                                                                               tmp_path):
    state = tmp_path / "state"
    shutil.copytree(FIXTURES / "spool", state / "spool")
    shutil.copy(FIXTURES / "alert-state.json", state / "alerts.json")
    # The operator's step for a dead-letter file: move it back into the spool directory and restart.
    for path in (state / "spool" / "dead-letter").glob("*.jsonl"):
        path.rename(state / "spool" / path.name)
    expected = written_documents(FIXTURES / "spool") | written_documents(FIXTURES / "spool" / "dead-letter")
    outbox = json.loads((FIXTURES / "alert-state.json").read_text())["clusters"]["prod"]["outbox"]
    webhook = Recorder()
    prefix = unique("lwup")
    config = config_module.parse(
        {
            # The cluster the files were written for, scraped on the test broker: nothing of it is there.
            "clusters": [{"name": "prod", "bootstrap_servers": bootstrap, "request_timeout_s": 5}],
            "groups": {"allow": [unique("no-such-group")]},
            "scrape": {"interval_s": 1},
            "time_lag": {"broker_probes": False},
            "elasticsearch": {"hosts": [es_url], "index_prefix": prefix, "storage": "daily_indices"},
            "spool": {"dir": str(state / "spool")},
            "alerts": {"state_path": str(state / "alerts.json"), "rules": [{"name": "audit-lag", "warn": 50}],
                       "notifiers": [{"name": "ops-webhook", "type": "webhook", "url": webhook.url}]},
            "http": {"enabled": False},
        },
        environ={},
    )
    daemon = Daemon(config)
    daemon.start()
    try:
        wait_for(lambda: expected.keys() <= indexed(es, f"{prefix}-lag-*").keys(), timeout=60,
                 what="every spooled and dead-lettered document indexed")
        wait_for(lambda: len(webhook.requests) >= 1, timeout=30, what="the webhook transition sent")
        wait_for(lambda: len(indexed(es, f"{prefix}-alerts-*")) >= 1, timeout=30, what="the alert document indexed")
    finally:
        daemon.stop()
        webhook.close()
    got = indexed(es, f"{prefix}-lag-*")
    assert {doc_id: got[doc_id] for doc_id in expected} == expected  # the same documents, field by field
    assert not list((state / "spool").glob("*.jsonl"))  # nothing left behind in the old format
    sent = [e["transition"] for e in outbox if e["target"] == "ops-webhook"]
    assert [r["body"]["alert_id"] for r in webhook.requests[: len(sent)]] == [
        t["evaluation"]["alert_id"] for t in sent
    ]
    alert_docs = indexed(es, f"{prefix}-alerts-*").values()
    assert {d["lagwatch.alert.id"] for d in alert_docs} >= {
        e["transition"]["evaluation"]["alert_id"] for e in outbox if e["target"] == "index"
    }


def test_todays_index_made_by_the_release_before_takes_the_fields_added_since(es):
    # lagwatch.lag.seconds_last_known came after 0d337a2: that release's index of the day has a strict mapping
    # without it, and the template reaches only indices made after it is installed.
    prefix = unique("lwmap")
    day = datetime.now(timezone.utc).strftime("%Y.%m.%d")
    old = lag_mappings()
    del old["properties"]["lagwatch"]["properties"]["lag"]["properties"]["seconds_last_known"]
    es.indices.create(index=f"{prefix}-lag-{day}", mappings=old)

    ElasticsearchSink(es, prefix=prefix, storage="daily_indices").setup()

    lag = es.indices.get_mapping(index=f"{prefix}-lag-{day}")[f"{prefix}-lag-{day}"]["mappings"]["properties"]
    assert lag["lagwatch"]["properties"]["lag"]["properties"]["seconds_last_known"] == {"type": "double"}
    es.index(index=f"{prefix}-lag-{day}", document={"lagwatch": {"lag": {"seconds_last_known": 420.0}}},
             refresh=True)  # strict: refused before the update
