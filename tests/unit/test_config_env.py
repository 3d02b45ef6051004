"""LAGWATCH_* environment variables over the YAML tree (exporter/config/env.py)."""

import time

import pytest

from exporter.config import ConfigError, Granularity, parse
from tests.unit.test_config import minimal, problems


def test_empty_file_means_environment_only():
    env = {"LAGWATCH_CLUSTERS__0__NAME": "prod", "LAGWATCH_CLUSTERS__0__BOOTSTRAP_SERVERS": "a:9092"}
    assert parse(None, env).clusters[0].bootstrap_servers == ("a:9092",)


@pytest.mark.parametrize(
    "environ, read, expected",
    [
        ({"LAGWATCH_SCRAPE__INTERVAL_S": "10"}, lambda c: c.scrape.interval_s, 10.0),
        ({"LAGWATCH_SCRAPE__GRANULARITY": "group"}, lambda c: c.scrape.granularity, Granularity.GROUP),
        ({"LAGWATCH_CLUSTERS__0__NAME": "other"}, lambda c: c.clusters[0].name, "other"),
        ({"LAGWATCH_CLUSTERS__0__BOOTSTRAP_SERVERS": "a:1, b:2,,c:3"},
         lambda c: c.clusters[0].bootstrap_servers, ("a:1", "b:2", "c:3")),
        ({"LAGWATCH_ELASTICSEARCH__HOSTS": "http://es1:9200,https://es2:9243"},
         lambda c: [str(h) for h in c.elasticsearch.hosts], ["http://es1:9200/", "https://es2:9243/"]),
        ({"LAGWATCH_CLUSTERS__0__SECURITY__PROTOCOL": "SSL"}, lambda c: c.clusters[0].security.protocol.value, "SSL"),
        ({"LAGWATCH_CONFIG": "/etc/lagwatch.yaml", "LAGWATCH_LOG_LEVEL": "debug", "LAGWATCH_CACHE": "/tmp/x"},
         lambda c: c.log.level, "info"),
        ({"OTHER_SCRAPE__INTERVAL_S": "10"}, lambda c: c.scrape.interval_s, 30.0),
    ],
    ids=["float", "enum", "cluster-index", "bootstrap-list", "hosts-list", "nested", "not-overrides", "other-prefix"],
)
def test_environment_overrides(environ, read, expected):
    assert read(parse(minimal(), environ)) == expected


def test_environment_adds_a_second_cluster_by_index():
    env = {"LAGWATCH_CLUSTERS__1__NAME": "dr", "LAGWATCH_CLUSTERS__1__BOOTSTRAP_SERVERS": "dr-1:9092"}
    assert [c.name for c in parse(minimal(), env).clusters] == ["prod", "dr"]


def test_environment_override_errors_name_the_field():
    assert problems(minimal(), {"LAGWATCH_SCRAPE__INTERVAL_S": "often"})[0][0] == "scrape.interval_s"


def test_other_lagwatch_variables_are_not_config_overrides():
    env = {"LAGWATCH_KEEP_DATA": "1", "LAGWATCH_JAVA_HOME": "/opt/jdk", "LAGWATCH_KAFKA_VERSION": "4.1.1",
           "LAGWATCH_TEST_BOOTSTRAP": "k:9092"}
    parse(minimal(), env)


def test_environment_override_with_a_name_where_an_index_belongs_is_a_config_error():
    with pytest.raises(ConfigError) as info:
        parse(minimal(), {"LAGWATCH_CLUSTERS__NAME": "x"})
    assert info.value.problems[0][0].startswith("clusters")


def test_list_options_from_the_environment_by_index_or_comma():
    config = parse(minimal(), {"LAGWATCH_GROUPS__DENY__0": "test-.*", "LAGWATCH_GROUPS__DENY__1": "tmp-.*", "LAGWATCH_TIME_LAG__PROBE_AGES_S": "60,600"})
    assert config.groups.deny == ("test-.*", "tmp-.*")
    assert config.time_lag.probe_ages_s == (60.0, 600.0)


def test_a_huge_list_index_in_the_environment_is_an_error_not_a_hang():
    began = time.monotonic()
    with pytest.raises(ConfigError) as info:
        parse(minimal(), {"LAGWATCH_CLUSTERS__99999999__NAME": "x"})
    assert time.monotonic() - began < 2
    ((where, message),) = info.value.problems
    assert where == "clusters" and "LAGWATCH_CLUSTERS__99999999__NAME" in message and "next index is 1" in message


def test_list_indices_from_the_environment_count_as_numbers_not_text():
    env = {}
    for i in range(12):
        env[f"LAGWATCH_CLUSTERS__{i}__NAME"] = f"c{i}"
        env[f"LAGWATCH_CLUSTERS__{i}__BOOTSTRAP_SERVERS"] = f"k{i}:9092"
    config = parse({}, env)
    assert [c.name for c in config.clusters] == [f"c{i}" for i in range(12)]


@pytest.mark.parametrize("variable, field", [("LAGWATCH_SCRAPE", "scrape"), ("LAGWATCH_CLUSTERS", "clusters"),
                                             ("LAGWATCH_ELASTICSEARCH", "elasticsearch")])
def test_a_single_value_for_a_whole_section_is_an_error_not_ignored(variable, field):
    with pytest.raises(ConfigError) as info:
        parse(minimal(), {variable: "5"})
    ((where, message),) = info.value.problems
    assert where == field and variable in message
