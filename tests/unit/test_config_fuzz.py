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
    ("time_lag", "clock_skew_tolerance_s"),
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


# --- hostile files and environments (issue 10): always a ConfigError naming where, within 2 s -------------

import time  # noqa: E402
import string  # noqa: E402

VALID_TEXT = yaml.safe_dump(VALID)
SECTIONS = sorted(Config.model_fields)


def load_bytes(tmp_path, data: bytes, environ=None):
    path = tmp_path / "lagwatch.yaml"
    path.write_bytes(data)
    # This process's CPU time, not the wall clock: a hang or a blow-up shows, a busy machine does not.
    began = time.process_time()
    try:
        return load(path, environ=environ or {}), None
    except ConfigError as exc:
        assert_clean(exc.problems)
        return None, exc.problems
    finally:
        assert time.process_time() - began < 2


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(min_size=1, max_size=8), at=st.integers(0, len(VALID_TEXT)))
def test_any_bytes_in_the_file_are_a_config_or_a_field_error(tmp_path, junk, at):
    data = VALID_TEXT.encode()
    load_bytes(tmp_path, data[:at] + junk + data[at:])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.sampled_from([b"\xff", b"\xc3", b"\xe9t\xe9", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"]),
       at=st.integers(0, len(VALID_TEXT)))
def test_invalid_utf8_anywhere_names_its_line(tmp_path, bad, at):
    data = VALID_TEXT.encode()
    _, problems = load_bytes(tmp_path, data[:at] + bad + data[at:])
    ((where, message),) = problems
    assert where == "(file)" and "not UTF-8" in message
    line = data[:at].count(b"\n") + 1
    assert f"line {line} " in message


def nested(depth: int, style: str) -> str:
    if style == "flow-list":
        return "x: " + "[" * depth + "]" * depth + "\n"
    if style == "flow-map":
        return "x: " + "{a: " * depth + "1" + "}" * depth + "\n"
    if style == "block-list":
        return "x:\n" + "".join("  " * i + "-\n" for i in range(1, depth)) + "  " * depth + "- 1\n"
    return "x:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, depth)) + " " * depth + "k: 1\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(depth=st.integers(1, 20_000), style=st.sampled_from(["flow-list", "flow-map", "block-list", "block-map"]),
       truncated=st.booleans())
def test_any_nesting_depth_is_a_config_or_a_field_error(tmp_path, depth, style, truncated):
    if style.startswith("block"):
        depth = min(depth, 400)  # block nesting indents each level: text grows with depth squared
    text = nested(depth, style)
    if truncated:
        text = text[: len(text) // 2]
    _, problems = load_bytes(tmp_path, (VALID_TEXT + text).encode())
    assert problems  # x is no option, or too deep, or truncated: never accepted, never a crash
    if depth > 70 and not truncated:
        assert any(where == "(file)" and "nested deeper" in message for where, message in problems)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(width=st.integers(2, 12), levels=st.integers(1, 12), key=st.sampled_from(["surprise", "clusters", "groups"]))
def test_any_alias_fan_out_is_loaded_or_refused_quickly(tmp_path, width, levels, key):
    lines = ["l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * width) + "]")
    lines.append(f"{key}: *l{levels}")
    _, problems = load_bytes(tmp_path, ("\n".join(lines) + "\n").encode())
    assert problems
    if width ** (levels + 1) > 10 ** 6:
        assert any("aliases" in message for _, message in problems)


# (path in the YAML text, the key to repeat, its field path)
DUPLICABLE = [
    ("clusters:\n  - name: prod\n    bootstrap_servers: k1:9092\n", "    name: again\n", "clusters[0].name"),
    ("clusters:\n  - name: prod\n    bootstrap_servers: k1:9092\nscrape:\n  interval_s: 30\n", "  interval_s: 5\n",
     "scrape.interval_s"),
    ("clusters:\n  - name: prod\n    bootstrap_servers: k1:9092\nelasticsearch:\n  hosts: [http://a:9200]\n",
     "  hosts: [http://b:9200]\n", "elasticsearch.hosts"),
    ("clusters:\n  - name: prod\n    bootstrap_servers: k1:9092\n", "clusters: []\n", "clusters"),
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(DUPLICABLE), comment=st.text(alphabet=string.ascii_letters + " ", max_size=10))
def test_a_repeated_key_is_refused_naming_its_field(tmp_path, case, comment):
    text, repeat, field = case
    _, problems = load_bytes(tmp_path, (text + repeat.rstrip("\n") + f"  # {comment}\n").encode())
    assert [where for where, _ in problems] == [field] and "duplicate key" in problems[0][1]


@settings(max_examples=100, deadline=None)
@given(index=st.integers(2, 10**40), section=st.sampled_from(["CLUSTERS", "RECORDS_PER_MESSAGE", "GROUPS__DENY"]))
def test_a_huge_list_index_from_the_environment_is_an_error_quickly(index, section):
    began = time.process_time()
    try:
        parse(copy.deepcopy(VALID), environ={f"LAGWATCH_{section}__{index}__NAME": "x"})
    except ConfigError as exc:
        assert_clean(exc.problems)
        assert any("skips items" in message or "single value" in message for _, message in exc.problems)
    else:
        raise AssertionError("accepted")
    assert time.process_time() - began < 2


@settings(max_examples=100, deadline=None)
@given(section=st.sampled_from(SECTIONS), value=st.text(max_size=20))
def test_a_single_value_for_any_section_is_an_error_naming_it(section, value):
    try:
        parse(copy.deepcopy(VALID), environ={f"LAGWATCH_{section.upper()}": value})
    except ConfigError as exc:
        assert [where for where, _ in exc.problems] == [section]
    else:
        raise AssertionError("accepted")


secret_text = st.text(alphabet=string.ascii_letters + string.digits + "-._~", min_size=8, max_size=24).map(
    lambda s: f"Zq{s}"
)


@settings(max_examples=100, deadline=None)
@given(es=secret_text, kibana=secret_text, hook=secret_text, kafka=secret_text, es_user=st.sampled_from(["w", "writer"]))
def test_no_secret_of_the_config_appears_in_the_effective_config(es, kibana, hook, kafka, es_user):
    from exporter.config import redacted, secret_values

    raw = copy.deepcopy(VALID)
    raw["clusters"][0]["security"] = {"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "username": "u",
                                      "password": kafka}
    raw["elasticsearch"] = {"hosts": [f"https://{es_user}:{es}@es:9200"]}
    raw["kibana"] = {"url": f"https://admin:{kibana}@kibana:5601"}
    raw["alerts"] = {"notifiers": [{"name": "ops", "url": f"https://hooks.example/services/{hook}"}]}
    config = parse(raw, environ={})
    shown = yaml.safe_dump(redacted(config))
    for secret in (es, kibana, hook, kafka):
        assert secret not in shown
    assert {es, kibana, kafka} <= set(secret_values(config))
