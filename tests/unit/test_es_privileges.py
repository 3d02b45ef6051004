"""What lagwatch asks Elasticsearch's _has_privileges for, and how it reads the answer (a recording client;
tests/integration/test_authorizer_es.py asks a real node with security on)."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from exporter.sinks import privileges


class Security:
    def __init__(self, answer: dict):
        self.answer, self.asked = answer, []

    def has_privileges(self, **asked):
        self.asked.append(asked)
        return NS(body=self.answer)


def answer(cluster: dict, index: dict, names=("lagwatch-lag*",)) -> dict:
    return {"username": "lw", "cluster": cluster, "index": {n: index for n in names}}


ALL_INDEX = {"auto_configure": True, "index": True, "view_index_metadata": True, "delete_index": True,
             "create_index": False}


@pytest.mark.parametrize("storage, cluster, indices", [
    ("auto", ["manage_index_templates", "monitor"], ["auto_configure", "index", "view_index_metadata", "delete_index"]),
    ("daily_indices", ["manage_index_templates"], ["auto_configure", "index", "view_index_metadata", "delete_index"]),
    ("data_stream", ["manage_index_templates"], ["auto_configure", "index"]),
])
def test_lagwatch_asks_only_for_what_its_storage_uses(storage, cluster, indices):
    client = NS(security=Security(answer({p: True for p in cluster}, ALL_INDEX)))
    found = privileges.check(client, ("lagwatch-lag*",), storage)
    (asked,) = client.security.asked
    assert asked["cluster"] == cluster and asked["index"][0]["privileges"] == [*indices, "create_index"]
    assert not found.missing_write() and not found.missing_retention() and found.user == "lw"


def test_missing_privileges_are_split_into_writing_and_retention_and_named():
    index = {**ALL_INDEX, "index": False, "delete_index": False}
    client = NS(security=Security(answer({"manage_index_templates": True, "monitor": False}, index)))
    found = privileges.check(client, ("lagwatch-lag*",), "auto")
    assert found.missing_write() == ["cluster:monitor", "indices:index"]
    assert found.missing_retention() == ["indices:delete_index"]
    assert found.describe(found.missing_write()) == (
        "user 'lw' lacks cluster privileges ['monitor'] and index privileges ['index'] on ['lagwatch-lag*'] "
        "(docs/access.md: the role lagwatch needs)")


def test_create_index_stands_in_for_auto_configure():
    index = {**ALL_INDEX, "create_index": True, "auto_configure": False}
    client = NS(security=Security(answer({"manage_index_templates": True}, index)))
    assert not privileges.check(client, ("lagwatch-lag*",), "daily_indices").missing_write()
