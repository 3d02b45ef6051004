"""Two real daemon processes: shards split the groups; replicas of one shard make no duplicates."""

from __future__ import annotations

import signal

import pytest
from kafka import TopicPartition

from tests.harness import RunningDaemon, daemon_config, unique, write_config

pytestmark = pytest.mark.integration


@pytest.fixture
def estate(kafka):
    topic = kafka.create_topic(unique("shard"), partitions=2)
    kafka.produce(topic, {0: 5, 1: 5})
    tag = unique("sh")
    groups = {f"{tag}-{i}" for i in range(12)}
    for group in groups:
        kafka.commit(group, {TopicPartition(topic, 0): 1, TopicPartition(topic, 1): 2})
    return tag, groups


def run_daemons(tmp_path, bootstrap, es_url, tag, prefix, shards_and_instances):
    config = daemon_config("shardtest", bootstrap, es_url, prefix, groups={"allow": [f"{tag}-.*"]},
                           scrape={"interval_s": 2})
    path = write_config(tmp_path / "lagwatch.yaml", config)
    daemons = [
        RunningDaemon(path, env={"LAGWATCH_SCRAPE__SHARD": shard, "LAGWATCH_SCRAPE__INSTANCE": instance})
        for shard, instance in shards_and_instances
    ]
    try:
        for daemon in daemons:
            daemon.wait_event("scrape_done", count=3)
    finally:
        for daemon in daemons:
            daemon.signal(signal.SIGTERM)
        codes = [d.wait_exit() for d in daemons]
    assert codes == [0] * len(daemons)
    return daemons


def group_docs(es, prefix):
    es.indices.refresh(index=f"{prefix}-lag")
    hits = es.search(index=f"{prefix}-lag", size=10_000, query={"term": {"lagwatch.doc_type": "group"}})
    return [h["_source"] for h in hits["hits"]["hits"]]


def cleanup(es, prefix):
    for index in es.indices.get(index=f"{prefix}-lag-*"):
        es.indices.delete(index=index)


def test_two_shards_report_every_group_exactly_once(tmp_path, bootstrap, es_url, es, estate):
    tag, groups = estate
    prefix = unique("shard")
    daemons = run_daemons(tmp_path, bootstrap, es_url, tag, prefix, [("0/2", "a"), ("1/2", "b")])
    docs = group_docs(es, prefix)
    cleanup(es, prefix)
    per_shard = [max(e["groups"] for e in d.events("scrape_done")) for d in daemons]
    assert {d["kafka.consumergroup.id"] for d in docs} == groups  # together they cover every group ...
    assert sum(per_shard) == len(groups) and all(n > 0 for n in per_shard)  # ... each exactly once


def test_two_replicas_of_one_shard_write_no_duplicates(tmp_path, bootstrap, es_url, es, estate):
    tag, groups = estate
    prefix = unique("ha")
    run_daemons(tmp_path, bootstrap, es_url, tag, prefix, [("0/1", "replica-a"), ("0/1", "replica-b")])
    docs = group_docs(es, prefix)
    es.indices.refresh(index=f"{prefix}-lag")
    instances = {
        h["_source"]["lagwatch.self.instance"]
        for h in es.search(index=f"{prefix}-lag", size=100, query={"term": {"lagwatch.doc_type": "self"}})["hits"]["hits"]
    }
    cleanup(es, prefix)
    assert instances == {"replica-a", "replica-b"}  # both replicas scraped and indexed
    keys = [(d["kafka.consumergroup.id"], d["lagwatch.slot"]) for d in docs]
    assert len(keys) == len(set(keys))  # one document per group and scrape slot, whoever wrote it
    assert {g for g, _ in keys} == groups
