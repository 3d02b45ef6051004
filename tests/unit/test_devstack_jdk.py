"""Choosing the JDK a local Elasticsearch node runs on (devstack/jdk.py): Java version from the
`release` file, the modules jvm.options adds, and one error naming every refused JDK."""

from pathlib import Path

import pytest

from devstack.common import StackError
from devstack.elasticsearch import jdk_problem
from devstack.jdk import _applies, first_fitting, jdk_major, jvm_options_modules


def fake_jdk(root: Path, name: str, version: str | None) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("")
    if version is not None:
        (home / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\nMODULES="java.base"\n')
    return home


@pytest.mark.parametrize("version, major", [("17.0.15", 17), ("25.0.2", 25), ("21", 21), (None, None), ("x", None)])
def test_the_java_version_comes_from_the_release_file(tmp_path, version, major):
    assert jdk_major(fake_jdk(tmp_path, "jdk", version)) == major


@pytest.mark.parametrize("java_range, major, applies", [
    ("20-", 25, True), ("20-", 17, False), ("17", 17, True), ("17", 21, False),
    ("17-21", 21, True), ("17-21", 25, False), ("x-", 25, False),
])
def test_jvm_options_version_ranges(java_range, major, applies):
    assert _applies(java_range, major) is applies


def test_the_modules_jvm_options_adds_for_that_java(tmp_path):
    options = tmp_path / "jvm.options"
    options.write_text("## comment\n-Xss1m\n20-:--add-modules=jdk.incubator.vector\n"
                       "--add-modules=a,b\n17:--add-modules=only17\n23:-XX:CompileCommand=x\n")
    assert jvm_options_modules(options, 25) == ["jdk.incubator.vector", "a", "b"]
    assert jvm_options_modules(options, 17) == ["a", "b", "only17"]


def test_a_java_17_is_refused_for_elasticsearch_9_and_taken_for_8(tmp_path):
    jdk17 = fake_jdk(tmp_path, "jdk17", "17.0.15")
    assert jdk_problem(jdk17, "9.5.4") == "Elasticsearch 9.5.4 needs Java 21+, this is Java 17"
    assert jdk_problem(jdk17, "8.19.21") is None
    assert jdk_problem(tmp_path / "nothing", "8.19.21") == f"no bin/java under {tmp_path / 'nothing'}"


def test_the_first_fitting_jdk_is_taken_and_none_fitting_names_each_refusal(tmp_path):
    a, b = fake_jdk(tmp_path, "a", "17"), fake_jdk(tmp_path, "b", "25")
    assert first_fitting([a, b], lambda jdk: None if jdk == b else "too old") == b
    with pytest.raises(StackError) as refused:
        first_fitting([a, b], lambda jdk: f"{jdk.name} lacks jdk.jdi")
    assert f"{a}: a lacks jdk.jdi" in str(refused.value) and f"{b}: b lacks jdk.jdi" in str(refused.value)
    with pytest.raises(StackError, match="no JDK found"):
        first_fitting([], lambda jdk: None)
