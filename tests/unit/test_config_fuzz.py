"""Whatever an operator (or a bad config push) feeds the loader: a Config or a ConfigError naming fields.

Property-based (hypothesis): malformed YAML, wrong types, unknown keys, invalid regexes, empty cluster
lists, bad URLs. Never any other exception, never a problem without a field path.
"""

from __future__ import annotations

import copy

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.config import Config, ConfigError, load, parse

VALID = {
    "clusters": [{"name": "prod", "bootstrap_servers": ["k1:9092"]}],
    "elasticsearch": {"hosts": ["http://es:9200"]},
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["((", "[a-", "*", "http://", "not a url", "k1", "k1:0", "k1:99999", ":9092", "", " "]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=12,
)
# Real option paths, so mutations hit the validators rather than only "unknown option".
PATHS = [
    ("clusters",),
    ("clusters", 0),
    ("clusters", 0, "name"),
    ("clusters", 0, "bootstrap_servers"),
    ("clusters", 0, "security"),
    ("clusters", 0, "security", "protocol"),
    ("clusters", 0, "security", "sasl_mechanism"),
    ("clusters", 0, "request_timeout_s"),
    ("groups", "allow"),
    ("groups", "deny"),
    ("topics",),
    ("scrape", "interval_s"),
    ("scrape", "timeout_s"),
    ("scrape", "granularity"),
    ("time_lag", "probe_ages_s"),
    ("records_per_message",),
    ("elasticsearch", "hosts"),
    ("elasticsearch", "index_prefix"),
    ("elasticsearch", "password_file"),
    ("log", "level"),
    ("surprise",),
]


def assert_clean(problems: list[tuple[str, str]]) -> None:
    assert problems, "a ConfigError must say what is wrong"
    for path, message in problems:
        assert isinstance(path, str) and path.strip(), problems
        assert isinstance(message, str) and message.strip(), problems
        assert "Traceback" not in message


def set_path(tree: dict, path: tuple, value) -> None:
    node = tree
    for key in path[:-1]:
        if isinstance(key, int):
            if not isinstance(node, list) or len(node) <= key:
                return
            node = node[key]
        else:
            if not isinstance(node, dict):
                return
            node = node.setdefault(key, {})
    last = path[-1]
    if isinstance(last, int):
        if isinstance(node, list) and len(node) > last:
            node[last] = value
    elif isinstance(node, dict):
        node[last] = value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=values)
def test_any_value_at_any_option_is_a_config_or_a_field_error(path, value):
    raw = copy.deepcopy(VALID)
    set_path(raw, path, value)
    try:
        assert isinstance(parse(raw, environ={}), Config)
    except ConfigError as exc:
        assert_clean(exc.problems)


@settings(max_examples=200, deadline=None)
@given(raw=values)
def test_any_document_shape_is_a_config_or_a_field_error(raw):
    try:
        parse(raw, environ={})
    except ConfigError as exc:
        assert_clean(exc.problems)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_any_file_text_is_a_config_or_a_field_error(tmp_path, text):
    path = tmp_path / "lagwatch.yaml"
    path.write_text(text)
    try:
        load(path, environ={})
    except ConfigError as exc:
        assert_clean(exc.problems)


@settings(max_examples=150, deadline=None)
@given(
    key=st.sampled_from(
        ["LAGWATCH_SCRAPE__INTERVAL_S", "LAGWATCH_CLUSTERS__0__BOOTSTRAP_SERVERS", "LAGWATCH_CLUSTERS__X__NAME",
         "LAGWATCH_ELASTICSEARCH__HOSTS", "LAGWATCH_GROUPS__DENY__0", "LAGWATCH_LOG__LEVEL__DEEP",
         "LAGWATCH_TIME_LAG__PROBE_AGES_S", "LAGWATCH_NEW__SECTION"]
    ),
    value=st.text(max_size=40),
)
def test_any_environment_override_is_a_config_or_a_field_error(key, value):
    try:
        parse(copy.deepcopy(VALID), environ={key: value})
    except ConfigError as exc:
        assert_clean(exc.problems)


@given(pattern=st.sampled_from(["((", "[z-a]", "*x", "(?P<", "a{2,1}"]))
def test_an_invalid_regex_names_its_list_and_item(pattern):
    raw = copy.deepcopy(VALID)
    raw["groups"] = {"deny": ["ok-.*", pattern]}
    try:
        parse(raw, environ={})
    except ConfigError as exc:
        assert any(path == "groups.deny" and "item 1" in message for path, message in exc.problems)
    else:
        raise AssertionError(f"{pattern!r} accepted")


def test_yaml_that_is_not_a_mapping_is_one_clear_error(tmp_path):
    path = tmp_path / "lagwatch.yaml"
    path.write_text(yaml.safe_dump(["a", "list"]))
    try:
        load(path, environ={})
    except ConfigError as exc:
        assert exc.problems == [("(top level)", "expected a mapping of options, got list")]
