"""The reference pages (docs/reference/) are generated from the code by scripts/reference.py and must be what it
writes now; every config key has a description, every mapped document field a meaning, every /metrics series
its entry, and two runs (whatever the environment) write the same bytes."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = ".venv/bin/python scripts/reference.py"


@pytest.fixture(scope="module")
def reference() -> dict:
    return runpy.run_path(str(ROOT / "scripts" / "reference.py"))


def test_every_committed_reference_page_is_what_the_generator_writes(reference):
    stale = [str(path.relative_to(ROOT)) for path, text in reference["outputs"]().items()
             if not path.exists() or path.read_text() != text]
    assert not stale, f"stale: {', '.join(stale)}. The code changed: run {REGENERATE} and commit docs/reference/"


def test_every_config_key_has_a_description(reference):
    missing = reference["undescribed_keys"]()
    assert not missing, (
        f"config keys without a description: {', '.join(missing)}. Give each a Field(description=...) beside it in "
        f"exporter/config/, then run {REGENERATE}")


def test_the_pages_do_not_depend_on_the_environment(reference, monkeypatch):
    first = reference["outputs"]()
    monkeypatch.setenv("LAGWATCH_CONFIG", "/etc/elsewhere.yaml")  # the -c default reads it
    monkeypatch.setenv("COLUMNS", "37")
    monkeypatch.setenv("LAGWATCH_STATE_DIR", "/var/elsewhere")
    assert reference["outputs"]() == first


def test_the_configuration_page_names_every_key_with_its_default_and_environment_variable(reference):
    page = reference["configuration_page"]()
    assert "| `interval_s` | number (≥ 1, ≤ 3600) | `30` | `LAGWATCH_SCRAPE__INTERVAL_S` |" in page
    assert "`LAGWATCH_CLUSTERS__<N>__SECURITY__PASSWORD` | SASL password" in page
    assert "`LAGWATCH_ALERTS__RULES__<N>__GROUPS__<M>`" in page  # a list within a list item
    assert "`LAGWATCH_ELASTICSEARCH__HOSTS` |" in page  # takes one comma-separated value
    rows = sum(len(r) for _, _, r in reference["config_sections"]())
    assert page.count("\n| `") == rows


def test_every_mapped_field_has_a_meaning_and_type(reference):
    page = reference["fields_page"]()  # raises SystemExit naming a mapped field without a meaning
    assert "| `lagwatch.lag.messages` | long | partition, topic, group |" in page
    assert "| `lagwatch.alert.since` | date | alert |" in page
    assert "| `lagwatch.self.requests.<API>` | long | self |" in page


class _Coordinator:
    def metrics(self):
        return {"owned": 2, "evaluating": 2, "total": 12, "member": True, "rebalances": 1, "rejoins": 0, "records_written": 3}


def test_the_table_of_series_is_what_the_collector_serves(reference):
    from exporter.output.metrics import SERIES, LagCollector
    from exporter.runtime.pipeline import PipelineStatus
    from exporter.sinks.ledger import SinkHealth
    from tests.unit.runtime_stubs import Pipeline, Sink
    from tests.unit.test_documents import make_report

    status = PipelineStatus("prod", 30.0, last_report=make_report(), last_success=1.0, scrapes_ok=1)
    health = SinkHealth(reachable=True, spool_bytes=0, spool_documents=0, spool_max_bytes=1024,
                        dropped_documents=0, dropping=False, last_error=None)
    collector = LagCollector(lambda: [Pipeline(status)], lambda: Sink(health), lambda: _Coordinator())
    served = {family.name: family for family in collector.collect()}
    assert set(served) == set(SERIES)
    assert all(family.documentation == SERIES[name].help for name, family in served.items())
    assert "| `lagwatch_scrapes_total` | counter | `cluster`, `result` |" in reference["metrics_page"]()


def test_every_command_and_flag_of_the_parser_is_on_the_cli_page(reference):
    import argparse

    page = reference["cli_page"]()
    parser = reference["_parser"]()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        assert f"## `lagwatch {name}`" in page
        for action in command._actions:
            for option in action.option_strings if not isinstance(action, argparse._HelpAction) else ():
                assert f"`{option}`" in page, (name, option)
