"""Config: defaults, LAGWATCH_* overrides, *_file secrets, redaction, and errors that name their field."""

import pytest
import yaml

from exporter.config import ConfigError, Granularity, load, parse, redacted

SECRET = "s3cr3t-Do-Not-Print"


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


def test_empty_file_means_environment_only():
    env = {"LAGWATCH_CLUSTERS__0__NAME": "prod", "LAGWATCH_CLUSTERS__0__BOOTSTRAP_SERVERS": "a:9092"}
    assert parse(None, env).clusters[0].bootstrap_servers == ("a:9092",)


# --- environment overrides --------------------------------------------------------------------


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


# --- secrets ----------------------------------------------------------------------------------


def test_secret_file_is_read_and_stripped(tmp_path):
    secret = tmp_path / "password"
    secret.write_text(SECRET + "\n")
    config = parse(sasl(username="svc", password_file=str(secret)), {})
    assert config.clusters[0].security.password.get_secret_value() == SECRET


def test_secret_file_from_the_environment(tmp_path):
    secret = tmp_path / "es-password"
    secret.write_text(SECRET)
    env = {"LAGWATCH_ELASTICSEARCH__USERNAME": "elastic", "LAGWATCH_ELASTICSEARCH__PASSWORD_FILE": str(secret)}
    assert parse(minimal(), env).elasticsearch.password.get_secret_value() == SECRET


def test_secret_and_secret_file_both_set_is_an_error(tmp_path):
    secret = tmp_path / "password"
    secret.write_text(SECRET)
    found = problems(sasl(username="svc", password="inline", password_file=str(secret)))
    assert ("clusters[0].security.password_file", "set either password or password_file, not both") in found


def test_unreadable_secret_file_is_an_error(tmp_path):
    found = problems(sasl(username="svc", password_file=str(tmp_path / "missing")))
    assert found[0][0] == "clusters[0].security.password_file"
    assert "cannot read secret file" in found[0][1]


def test_redacted_never_shows_secrets():
    raw = sasl(username="svc", password=SECRET, ssl_password=SECRET)
    raw["elasticsearch"] = {"api_key": SECRET}
    config = parse(raw, {})
    dumped = yaml.safe_dump(redacted(config))
    assert SECRET not in dumped
    assert redacted(config)["clusters"][0]["security"]["password"] == "**********"
    assert redacted(config)["elasticsearch"]["api_key"] == "**********"
    assert config.clusters[0].security.client_kwargs()["sasl_plain_password"] == SECRET


def test_redacted_hides_passwords_inside_host_urls():
    raw = minimal()
    raw["elasticsearch"] = {"hosts": [f"https://elastic:{SECRET}@es:9200"]}
    assert SECRET not in yaml.safe_dump(redacted(parse(raw, {})))


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
    ],
    ids=["unknown-key", "unknown-section", "wrong-type", "bad-enum", "section-not-mapping", "invalid-regex",
         "invalid-regex-item", "invalid-topic-regex", "empty-clusters", "no-clusters", "no-port", "port-not-number",
         "port-out-of-range", "no-host", "bad-cluster-name", "sasl-no-credentials", "sasl-no-password",
         "sasl-no-mechanism", "bad-protocol", "url-no-scheme", "url-bad-scheme", "es-user-no-password",
         "es-two-auths", "duplicate-cluster-names", "timeout-over-interval", "timeout-over-default-interval"],
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


# --- load() -----------------------------------------------------------------------------------


def test_load_reads_yaml_and_applies_the_environment(tmp_path):
    path = tmp_path / "lagwatch.yaml"
    path.write_text("clusters:\n  - name: prod\n    bootstrap_servers: k:9092\nscrape:\n  interval_s: 60\n")
    config = load(path, {"LAGWATCH_SCRAPE__GRANULARITY": "topic"})
    assert (config.scrape.interval_s, config.scrape.granularity) == (60, Granularity.TOPIC)


@pytest.mark.parametrize(
    "text, line",
    [
        ("clusters:\n  - name: a\n    bootstrap_servers: [k:1\nscrape:\n  interval_s: 5\n", 4),
        ("scrape:\n  interval_s: 5\n   bad: x\n", 3),
        ("clusters: [\n", 2),
    ],
    ids=["unclosed-list", "bad-indent", "truncated"],
)
def test_malformed_yaml_is_a_config_error_naming_the_line(tmp_path, text, line):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(path, {})
    ((where, message),) = info.value.problems
    assert where == "(file)"
    assert f"line {line}," in message and "not valid YAML" in message


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "absent.yaml", {})
    assert info.value.problems[0][0] == "(file)" and "cannot read" in info.value.problems[0][1]


def test_no_file_means_environment_only():
    config = load(None, {"LAGWATCH_CLUSTERS__0__NAME": "p", "LAGWATCH_CLUSTERS__0__BOOTSTRAP_SERVERS": "k:1"})
    assert config.clusters[0].name == "p"


def test_a_password_inside_an_elasticsearch_url_is_masked_in_logs():
    import io

    from exporter import logs

    from exporter.runtime.secrets import register_secrets

    config = parse(minimal() | {"elasticsearch": {"hosts": ["https://writer:Url-Pa55word@es:9200"]}}, {})
    register_secrets(config)
    stream = io.StringIO()
    logs.configure("info", "json", stream)
    logs.get().error("sink_unavailable", error="cannot reach https://writer:Url-Pa55word@es:9200/_bulk")
    assert "Url-Pa55word" not in stream.getvalue() and "**********" in stream.getvalue()


# --- hostile input: every one a ConfigError naming its field, quickly ------------------------------------

import time  # noqa: E402

BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
clusters: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def load_problem(tmp_path, content: bytes | str, environ=None) -> tuple[str, str]:
    path = tmp_path / "lagwatch.yaml"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    began = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load(path, environ or {})
    assert time.monotonic() - began < 2
    assert len(info.value.problems) == 1, info.value.problems
    return info.value.problems[0]


def test_invalid_utf8_is_a_config_error_naming_the_line(tmp_path):
    where, message = load_problem(tmp_path, b"clusters:\n  - name: caf\xe9\n")
    assert where == "(file)" and "not UTF-8" in message and "line 2" in message


@pytest.mark.parametrize("text", ["[" * 100_000, "a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 2000)),
                                  "- " * 50_000 + "x"], ids=["flow", "block-mapping", "block-sequence"])
def test_deeply_nested_yaml_is_a_config_error(tmp_path, text):
    where, message = load_problem(tmp_path, text)
    assert where == "(file)" and "nested deeper than" in message and "line" in message


def test_a_yaml_alias_bomb_is_refused_quickly_naming_the_key(tmp_path):
    where, message = load_problem(tmp_path, BOMB)
    assert where in ("c", "d", "e", "f", "g", "h", "clusters") and "aliases" in message


def test_modest_yaml_aliases_still_work(tmp_path):
    path = tmp_path / "lagwatch.yaml"
    path.write_text("clusters:\n  - &one {name: a, bootstrap_servers: 'k:1'}\n  - {name: b, bootstrap_servers: 'k:2'}\n"
                    "groups: {allow: &all ['.*'], deny: []}\ntopics: {allow: *all}\n")
    config = load(path, {})
    assert [c.name for c in config.clusters] == ["a", "b"] and config.topics.allow == (".*",)


@pytest.mark.parametrize(
    "text, field",
    [
        ("clusters:\n  - name: a\n    bootstrap_servers: k:1\nscrape:\n  interval_s: 5\n  interval_s: 50\n",
         "scrape.interval_s"),
        ("clusters:\n  - name: a\n    name: b\n    bootstrap_servers: k:1\n", "clusters[0].name"),
        ("clusters: []\nclusters:\n  - {name: a, bootstrap_servers: 'k:1'}\n", "clusters"),
    ],
    ids=["option", "inside-a-list", "top-level"],
)
def test_a_duplicate_yaml_key_is_refused_naming_it(tmp_path, text, field):
    where, message = load_problem(tmp_path, text)
    assert where == field and "duplicate key" in message and "line" in message


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


def test_every_url_password_is_masked_in_the_effective_config_and_registered_for_logs():
    from exporter.config import secret_values

    raw = minimal() | {
        "elasticsearch": {"hosts": ["https://writer:Es-Pa55word@es:9200"]},
        "kibana": {"url": "https://admin:Kib-Pa55word@kibana:5601"},
        "alerts": {"notifiers": [{"name": "ops", "url": "https://hook:Hook-Pa55word@hooks.example/T1/B2/tok3n"}]},
    }
    config = parse(raw, {})
    shown = yaml.safe_dump(redacted(config))
    for secret in ("Es-Pa55word", "Kib-Pa55word", "Hook-Pa55word", "tok3n"):
        assert secret not in shown
    assert "https://admin:**********@kibana:5601" in shown
    values = secret_values(config)
    assert {"Es-Pa55word", "Kib-Pa55word"} <= set(values)
    assert any("tok3n" in v for v in values)
