"""The `coordination` section: opt-in, each problem named by its field, secrets masked, excluded own group."""

import pytest

from exporter import config

from exporter.runtime import wiring as app
from exporter.config import ConfigError
from exporter.coordination.coordinator import Coordinator

CLUSTERS = [{"name": "prod", "bootstrap_servers": "k1:9092,k2:9092"}, {"name": "dr", "bootstrap_servers": "d1:9092"}]


def parse(coordination, **rest):
    return config.parse({"clusters": CLUSTERS, "coordination": coordination, **rest}, environ={})


def problems(coordination, **rest):
    with pytest.raises(ConfigError) as caught:
        parse(coordination, **rest)
    return caught.value.problems


def test_off_unless_the_section_is_set():
    assert config.parse({"clusters": CLUSTERS}, environ={}).coordination is None


def test_coordinating_on_a_monitored_cluster_uses_its_servers_and_security():
    settings = parse({"cluster": "prod"}).coordination
    connection = settings.connection(parse({"cluster": "prod"}).clusters)
    assert connection.bootstrap_servers == ("k1:9092", "k2:9092") and connection.client_id == "lagwatch-coordination"
    assert (settings.topic, settings.group_id, settings.create_topic) == (
        "lagwatch-coordination", "lagwatch-coordination", False,
    )
    assert settings.heartbeat_s == 3.0  # a tenth of the 30 s session timeout, at most 3 s
    assert parse({"cluster": "prod", "session_timeout_s": 6}).coordination.heartbeat_s == pytest.approx(0.6)


def test_coordinating_on_a_cluster_of_its_own_from_the_environment():
    cfg = config.parse(
        {"clusters": CLUSTERS},
        environ={"LAGWATCH_COORDINATION__BOOTSTRAP_SERVERS": "c1:9093,c2:9093",
                 "LAGWATCH_COORDINATION__SECURITY__PROTOCOL": "SSL",
                 "LAGWATCH_COORDINATION__TOPIC": "lw-shards"},
    )
    connection = cfg.coordination.connection(cfg.clusters)
    assert connection.bootstrap_servers == ("c1:9093", "c2:9093") and connection.security.protocol.value == "SSL"
    assert cfg.coordination.topic == "lw-shards"


@pytest.mark.parametrize(
    "section, rest, path, words",
    [
        ({"cluster": "nope"}, {}, "coordination.cluster", "no cluster named 'nope'"),
        ({}, {}, "coordination", "exactly one"),
        ({"cluster": "prod", "bootstrap_servers": "c:1"}, {}, "coordination", "exactly one"),
        ({"bootstrap_servers": "c1"}, {}, "coordination.bootstrap_servers", "host:port"),
        ({"cluster": "prod", "security": {"protocol": "SSL"}}, {}, "coordination", "security goes with"),
        ({"cluster": "prod", "topic": "a b"}, {}, "coordination.topic", "pattern"),
        ({"cluster": "prod", "session_timeout_s": 0.5}, {}, "coordination.session_timeout_s", "greater than"),
        ({"cluster": "prod", "heartbeat_interval_s": 20}, {}, "coordination", "a third"),
        ({"cluster": "prod", "partitions": 0}, {}, "coordination.partitions", "greater than"),
        ({"cluster": "prod", "group": "x"}, {}, "coordination.group", "unknown option"),
        ({"cluster": "prod"}, {"scrape": {"shard": "0/2"}}, "coordination", "scrape.shard"),
    ],
    ids=["unknown cluster", "neither", "both", "bad server", "security with cluster", "bad topic",
         "session too short", "heartbeat too long", "no partitions", "typo", "with static shards"],
)
def test_each_problem_names_its_field(section, rest, path, words):
    found = problems(section, **rest)
    assert any(p == path and words in m for p, m in found), found


def test_the_coordination_password_is_a_secret():
    cfg = parse({"bootstrap_servers": "c:9093", "security": {
        "protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "username": "lw", "password": "hunter2-coord"}})
    assert "hunter2-coord" in config.secret_values(cfg)
    assert "hunter2-coord" not in repr(config.redacted(cfg))


@pytest.mark.parametrize("report_group, reported", [(False, False), (True, True)])
def test_lagwatchs_own_coordination_group_is_not_reported_unless_asked(report_group, reported):
    cfg = config.parse(
        {"clusters": CLUSTERS, "groups": {"allow": [".*"]},
         "coordination": {"cluster": "prod", "group_id": "ops-lw", "report_group": report_group}},
        environ={},
    )
    coordinator = Coordinator(cfg, dict)  # builds no client: the member connects only once started
    coordinator.ownership.set_count(1)
    coordinator.ownership.assign([0])
    select = app.selection(cfg, cfg.clusters[0], coordinator.reports)
    assert select.group("ops-lw") is reported
    assert select.group("billing")
