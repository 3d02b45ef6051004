"""The schema: defaults, the name filters, and errors that name their field (each section validates itself).

The other jobs of exporter/config have their own tests: test_config_env.py (LAGWATCH_* overrides),
test_config_secrets.py (secret files, redaction), test_config_load.py (YAML files), test_config_paths.py."""

import pytest

from exporter.config import ConfigError, Granularity, NameFilter, parse

def minimal():
    return {"clusters": [{"name": "prod", "bootstrap_servers": ["kafka-1:9092"]}]}


def problems(raw, environ=None):
    with pytest.raises(ConfigError) as info:
        parse(raw, environ or {})
    return info.value.problems


def paths(raw, environ=None):
    return [path for path, _ in problems(raw, environ)]


def sasl(**security):
    return {"clusters": [{"name": "prod", "bootstrap_servers": "k:9092",
                          "security": {"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", **security}}]}


# --- valid configs and defaults ---------------------------------------------------------------


def test_minimal_config_is_valid():
    config = parse(minimal(), {})
    (cluster,) = config.clusters
    assert (cluster.name, cluster.bootstrap_servers) == ("prod", ("kafka-1:9092",))


def test_defaults():
    config = parse(minimal(), {})
    assert config.scrape.interval_s == 30
    assert config.scrape.effective_timeout_s == pytest.approx(24.0)
    assert config.scrape.granularity is Granularity.PARTITION
    assert str(config.elasticsearch.hosts[0]).startswith("http://127.0.0.1:9200")


@pytest.mark.parametrize(
    "topic, selected",
    [("orders", True), ("__consumer_offsets", False), ("__transaction_state", False), ("_schemas", True)],
)
def test_internal_topics_are_denied_by_default(topic, selected):
    assert parse(minimal(), {}).topics.matches(topic) is selected


@pytest.mark.parametrize("group_name, selected", [("billing", True), ("lagwatch", False), ("lagwatch-probe", False)])
def test_lagwatch_own_groups_are_denied_by_default(group_name, selected):
    assert parse(minimal(), {}).groups.matches(group_name) is selected


# A group id is any string a client sends (Kafka checks nothing but that it is not empty): newlines,
# control bytes, quotes, unicode. `.*` without DOTALL silently never matched one with a newline.
ODD_GROUP_IDS = ["line\nbreak", "\n", "cr\r\n", "nul\x00", "us\x1fsep", "tab\t", 'q"\'\\', "ünï💥", " "]


@pytest.mark.parametrize("group_name", ODD_GROUP_IDS, ids=repr)
def test_the_default_filters_select_any_group_id_a_broker_accepts(group_name):
    from exporter.runtime.wiring import selection

    config = parse(minimal(), {})
    assert config.groups.matches(group_name)
    assert selection(config, config.clusters[0]).group(group_name)


@pytest.mark.parametrize("group_name", ODD_GROUP_IDS, ids=repr)
def test_allow_and_deny_patterns_match_across_newlines(group_name):
    config = parse({**minimal(), "groups": {"allow": ["pay-.*"], "deny": [".*-test"]}}, {})
    assert config.groups.matches(f"pay-{group_name}")
    assert not config.groups.matches(f"pay-{group_name}-test")
    assert not config.groups.matches(f"{group_name}pay-")


@pytest.mark.parametrize("group_name", ODD_GROUP_IDS, ids=repr)
def test_alert_rule_group_regex_matches_any_group_id(group_name):
    from exporter.evaluator.rules import Match

    assert Match(group_regex=".*").group_matches(group_name)
    assert Match(group_regex="pay-.*").group_matches(f"pay-{group_name}")


# --- errors name their field ------------------------------------------------------------------


def with_(section, value):
    raw = minimal()
    raw[section] = value
    return raw


def with_cluster(**fields):
    return {"clusters": [{"name": "prod", "bootstrap_servers": ["k:9092"], **fields}]}


@pytest.mark.parametrize(
    "raw, path, message",
    [
        (with_("scrape", {"intervall_s": 10}), "scrape.intervall_s", "unknown option"),
        (with_("frobnicate", True), "frobnicate", "unknown option"),
        (with_("scrape", {"interval_s": "often"}), "scrape.interval_s", "valid number"),
        (with_("scrape", {"granularity": "cluster"}), "scrape.granularity", "partition"),
        (with_("scrape", 5), "scrape", "dictionary"),
        (with_("groups", {"allow": ["billing-("]}), "groups.allow", "invalid regular expression"),
        (with_("topics", {"deny": ["ok", "*bad"]}), "topics.deny", "item 1"),
        (with_("records_per_message", [{"topic": "[", "items": 10}]), "records_per_message[0].topic",
         "invalid regular expression"),
        ({"clusters": []}, "clusters", "at least 1"),
        ({}, "clusters", "required"),
        (with_cluster(bootstrap_servers=["kafka-1"]), "clusters[0].bootstrap_servers", "not host:port"),
        (with_cluster(bootstrap_servers=["kafka-1:http"]), "clusters[0].bootstrap_servers", "not host:port"),
        (with_cluster(bootstrap_servers=["kafka-1:70000"]), "clusters[0].bootstrap_servers", "not host:port"),
        (with_cluster(bootstrap_servers=[":9092"]), "clusters[0].bootstrap_servers", "not host:port"),
        (with_cluster(name="has space"), "clusters[0].name", "pattern"),
        (sasl(), "clusters[0].security", "username and password"),
        (sasl(username="svc"), "clusters[0].security", "username and password"),
        (with_cluster(security={"protocol": "SASL_PLAINTEXT", "username": "u", "password": "p"}),
         "clusters[0].security", "sasl_mechanism is required"),
        (with_cluster(security={"protocol": "TLS"}), "clusters[0].security.protocol", "SASL_SSL"),
        (with_("elasticsearch", {"hosts": ["es:9200"]}), "elasticsearch.hosts[0]", "URL"),
        (with_("elasticsearch", {"hosts": ["ftp://es:9200"]}), "elasticsearch.hosts[0]", "URL scheme"),
        (with_("elasticsearch", {"username": "elastic"}), "elasticsearch", "go together"),
        (with_("elasticsearch", {"api_key": "k", "username": "u", "password": "p"}), "elasticsearch", "either api_key"),
        ({"clusters": [{"name": "a", "bootstrap_servers": "k:1"}, {"name": "a", "bootstrap_servers": "k:2"}]},
         "clusters", "unique"),
        (with_("scrape", {"interval_s": 10, "timeout_s": 20}), "scrape", "timeout_s must not exceed interval_s"),
        (with_("scrape", {"timeout_s": 31}), "scrape", "timeout_s must not exceed interval_s"),
        (with_("time_lag", {"clock_skew_tolerance_s": -1}), "time_lag.clock_skew_tolerance_s", "greater than or equal"),
        (with_("time_lag", {"clock_skew_tolerance_s": "a bit"}), "time_lag.clock_skew_tolerance_s", "valid number"),
    ],
    ids=["unknown-key", "unknown-section", "wrong-type", "bad-enum", "section-not-mapping", "invalid-regex",
         "invalid-regex-item", "invalid-topic-regex", "empty-clusters", "no-clusters", "no-port", "port-not-number",
         "port-out-of-range", "no-host", "bad-cluster-name", "sasl-no-credentials", "sasl-no-password",
         "sasl-no-mechanism", "bad-protocol", "url-no-scheme", "url-bad-scheme", "es-user-no-password",
         "es-two-auths", "duplicate-cluster-names", "timeout-over-interval", "timeout-over-default-interval",
         "negative-skew-tolerance", "skew-tolerance-not-a-number"],
)
def test_every_error_names_its_field(raw, path, message):
    found = problems(raw)
    assert any(p == path and message in m for p, m in found), found


def test_timeout_equal_to_interval_is_fine():
    assert parse(with_("scrape", {"interval_s": 10, "timeout_s": 10}), {}).scrape.effective_timeout_s == 10


def test_several_problems_are_reported_at_once():
    raw = {
        "clusters": [{"name": "prod", "bootstrap_servers": ["kafka-1"]}],
        "scrape": {"interval_s": "often", "colour": "blue"},
        "groups": {"allow": ["("]},
        "elasticsearch": {"hosts": ["nope"]},
    }
    assert set(paths(raw)) == {
        "clusters[0].bootstrap_servers", "scrape.interval_s", "scrape.colour", "groups.allow", "elasticsearch.hosts[0]",
    }


def test_top_level_must_be_a_mapping():
    assert problems(["a", "b"]) == [("(top level)", "expected a mapping of options, got list")]


FILTER_PATTERNS = [".*", "lagwatch.*", "__.*", "pay-.*", "(?i)orders.*", "x\\.y", "[a-z]+", "o.*s", ".*-test"]
FILTER_NAMES = ["lagwatch", "lagwatch-x", "__consumer_offsets", "_x", "pay-1", "ORDERS-eu", "x.y", "xzy", "orders",
                "", "a-test", *ODD_GROUP_IDS]


@pytest.mark.parametrize("allow", [(".*",), ("pay-.*",), ("pay-.*", "[a-z]+"), ("(?i)orders.*", "__.*"), ()], ids=repr)
@pytest.mark.parametrize("deny", [(), ("lagwatch.*",), ("lagwatch.*", "__.*"), ("o.*s",), (".*",), ("x\\.y", "pay-.*")],
                         ids=repr)
def test_name_filters_select_exactly_what_the_regexes_fullmatch(allow, deny):
    # The matcher takes shortcuts (no regex for `.*`, startswith for `<literal>.*`): same answers as the regexes.
    import re

    f = NameFilter(allow=allow, deny=deny)
    for name in FILTER_NAMES:
        want = (any(re.fullmatch(p, name, re.DOTALL) for p in allow)
                and not any(re.fullmatch(p, name, re.DOTALL) for p in deny))
        assert f.matches(name) is want, name
