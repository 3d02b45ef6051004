"""A damaged alert state file never stops the exporter: it is set aside and state starts afresh."""

import pytest

from exporter.alerts.state import StateStore


@pytest.mark.parametrize("content", ["", "{", "[1, 2]", '{"version": 999}'], ids=["empty", "truncated", "list", "version"])
def test_an_unreadable_state_file_is_moved_aside_and_state_starts_empty(tmp_path, content):
    path = tmp_path / "alerts.json"
    path.write_text(content)
    store = StateStore(path)
    assert store.load("prod") == {}
    aside = list(tmp_path.glob("alerts.json.unreadable-*"))
    assert len(aside) == 1 and aside[0].read_text() == content
