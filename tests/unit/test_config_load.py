"""load(): a YAML file (exporter/config/load.py, yaml_input.py), and hostile input: every one a ConfigError
naming its field, quickly."""

import time

import pytest

from exporter.config import ConfigError, Granularity, load

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


# --- hostile input ----------------------------------------------------------------------------


def load_problem(tmp_path, content: bytes | str, environ=None) -> tuple[str, str]:
    path = tmp_path / "lagwatch.yaml"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    began = time.process_time()  # CPU, not wall: a hang guard that a loaded machine cannot trip
    with pytest.raises(ConfigError) as info:
        load(path, environ or {})
    assert time.process_time() - began < 2
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
