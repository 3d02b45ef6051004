"""The state directory (spool, alert state) is worked out in one place: exporter/config/paths.py."""

from pathlib import Path

import pytest

from exporter import config
from exporter.config import paths

BASE = {"clusters": [{"name": "a", "bootstrap_servers": "k:9092"}]}


@pytest.mark.parametrize("environ, state_dir", [
    ({"LAGWATCH_STATE_DIR": "/var/lib/lagwatch"}, "/var/lib/lagwatch"),
    ({"LAGWATCH_STATE_DIR": "~/lw"}, str(Path.home() / "lw")),
    ({"LAGWATCH_STATE_DIR": "", "XDG_STATE_HOME": "/xdg"}, "/xdg/lagwatch"),
    ({"XDG_STATE_HOME": "/xdg"}, "/xdg/lagwatch"),
    ({}, str(Path.home() / ".local" / "state" / "lagwatch")),
])
def test_the_state_dir_is_lagwatch_state_dir_else_the_xdg_state_home(environ, state_dir):
    assert paths.state_dir(environ) == Path(state_dir)


@pytest.mark.parametrize("state_dir", ["/var/lib/lagwatch", "~/lw", ""])
def test_the_spool_and_the_alert_state_default_to_the_same_state_dir(monkeypatch, state_dir):
    # They were worked out twice, and only the spool expanded a `~` in LAGWATCH_STATE_DIR.
    monkeypatch.setenv("LAGWATCH_STATE_DIR", state_dir)
    monkeypatch.setenv("XDG_STATE_HOME", "/xdg")
    loaded = config.parse(dict(BASE), {})
    expected = paths.state_dir()
    assert loaded.spool.path == expected / "spool"
    assert loaded.alerts.state_location == expected / "alerts.json"
    assert "~" not in str(expected)


def test_spool_dir_and_state_path_set_in_the_config_win(monkeypatch, tmp_path):
    monkeypatch.setenv("LAGWATCH_STATE_DIR", str(tmp_path / "state"))
    loaded = config.parse(dict(BASE) | {"spool": {"dir": "~/spool"}, "alerts": {"state_path": "/x/a.json"}}, {})
    assert loaded.spool.path == Path.home() / "spool"
    assert loaded.alerts.state_location == Path("/x/a.json")
