"""/readyz and /metrics of a coordinated process: which shards it owns, and whether it is a member."""

from prometheus_client import CollectorRegistry, generate_latest

from exporter import config
from exporter.coordination.coordinator import Coordinator
from exporter.coordination.member import MemberStatus
from exporter.output.metrics import LagCollector
from exporter.runtime.http import readiness


def coordinator(now=1000.0) -> Coordinator:
    cfg = config.parse(
        {"clusters": [{"name": "prod", "bootstrap_servers": "k:9092"}],
         "coordination": {"cluster": "prod", "session_timeout_s": 10}},
        environ={},
    )
    made = Coordinator(cfg, dict)  # not started: no client is built
    made.ownership.clock = lambda: now
    made.ownership.set_count(6)
    return made


def test_ready_only_as_a_member_and_the_body_says_which_shards_it_owns():
    made = coordinator()
    ready, body = readiness([], None, coordinator=made)
    assert not ready and body["coordination"]["state"] == "starting" and "reason" in body["coordination"]
    made.member.status = MemberStatus(state="member", generation=7)
    made.ownership.assign([1, 4])
    made.ownership.read_back(4)
    made.ownership.assign([5])
    made.ownership.release([5])
    ready, body = readiness([], None, coordinator=made)
    assert ready
    assert {k: body["coordination"][k] for k in ("owned", "evaluating", "lingering", "shards_total", "generation")} == {
        "owned": [1, 4], "evaluating": [4], "lingering": [5], "shards_total": 6, "generation": 7,
    }


def test_a_process_that_lost_the_coordination_cluster_is_not_ready_and_says_why():
    made = coordinator()
    made.member.status = MemberStatus(state="unavailable", error="KafkaConnectError: cannot connect to k:9092")
    ready, body = readiness([], None, coordinator=made)
    assert not ready and body["coordination"]["reason"] == "KafkaConnectError: cannot connect to k:9092"


def test_metrics_have_the_owned_shard_count():
    made = coordinator()
    made.member.status = MemberStatus(state="member", rebalances=3)
    made.ownership.assign([0, 2, 3])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LagCollector(lambda: [], lambda: None, lambda: made))
    text = generate_latest(registry).decode()
    for line in ("lagwatch_shards_owned 3.0", "lagwatch_shards_total 6.0", "lagwatch_shards_evaluating 0.0",
                 "lagwatch_coordination_member 1.0", "lagwatch_coordination_rebalances_total 3.0"):
        assert line in text, line


def test_without_coordination_there_are_no_shard_metrics():
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LagCollector(lambda: [], lambda: None))
    assert "lagwatch_shards" not in generate_latest(registry).decode()


def test_self_documents_say_which_shards_the_process_owned():
    from exporter.output import encode
    from tests.unit.test_documents import INTERVAL, make_report

    made = coordinator()
    made.ownership.assign([2, 5])
    docs = [d for b in encode.encode(make_report(), "group", INTERVAL, self_fields=made.self_fields) for d in b.decode()]
    (self_doc,) = [d for d in docs if d["lagwatch.doc_type"] == "self"]
    assert self_doc["lagwatch.self.shards"] == [2, 5] and self_doc["lagwatch.self.shards_total"] == 6
    assert all("lagwatch.self.shards" not in d for d in docs if d is not self_doc)


def test_the_shard_fields_are_in_the_index_mapping():
    import json
    from importlib import resources

    mapping = json.loads(resources.files("exporter.resources").joinpath("lag-mappings.json").read_text())
    fields = mapping["properties"]["lagwatch"]["properties"]["self"]["properties"]
    assert fields["shards"] == {"type": "integer"} and fields["shards_total"] == {"type": "integer"}


def test_a_member_without_recent_heartbeats_is_not_ready_and_holds_its_alerts():
    made = coordinator(now=1000.0)
    made.member.status = MemberStatus(state="member")
    made.member.heartbeat_age_s = lambda: 9.5
    made.ownership.assign([1])
    made.ownership.read_back(1)
    made.ownership.heartbeat(990.5, fence_s=5.0)  # last heartbeat 9.5 s ago; session timeout 10 s
    ready, body = readiness([], None, coordinator=made)
    assert not ready and "no heartbeat" in body["coordination"]["reason"] and body["coordination"]["owned"] == [1]


def test_a_member_out_of_the_group_is_not_ready_says_why_and_counts_the_rejoin():
    made = coordinator()
    made.member.status = MemberStatus(state="joining", error="Heartbeat: UnknownMemberIdError", rejoins=1)
    ready, body = readiness([], None, coordinator=made)
    assert not ready and body["coordination"]["reason"] == "Heartbeat: UnknownMemberIdError"
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LagCollector(lambda: [], lambda: None, lambda: made))
    text = generate_latest(registry).decode()
    assert "lagwatch_coordination_member 0.0" in text and "lagwatch_coordination_rejoins_total 1.0" in text
    assert made.self_fields()["lagwatch.self.coordination"] == "joining"
