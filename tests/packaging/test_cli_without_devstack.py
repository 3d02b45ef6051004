"""An installation without exporter/devstack (the container image) answers `demo` and `devstack` with what
they need, not a traceback."""

from __future__ import annotations

import sys

import pytest

from exporter import cli
from exporter.cli import commands


@pytest.mark.parametrize("command", ["demo", "devstack"])
def test_demo_and_devstack_without_the_local_stack_say_where_to_run_them(monkeypatch, capsys, command):
    # None in sys.modules makes `import exporter.devstack` fail as it does where the package is absent.
    for name in [m for m in sys.modules if m.startswith("devstack")] + ["devstack"]:
        monkeypatch.setitem(sys.modules, name, None)
    assert cli.main([command]) == cli.EXIT_FAILURE
    err = capsys.readouterr().err
    assert "not in this installation" in err and "source checkout" in err and "JDK" in err


def test_another_missing_module_is_not_mistaken_for_the_missing_local_stack():
    with pytest.raises(ModuleNotFoundError):
        commands.devstack_missing(ModuleNotFoundError("No module named 'yaml'", name="yaml"))
