"""The Elasticsearch privileges lagwatch uses, and whether its user has them (`_security/user/_has_privileges`,
which every user may ask about itself), asked before `setup` installs anything and by `lagwatch check-access`.

What lagwatch does on Elasticsearch, and the privilege each needs (measured on a node with security on, one
role per missing privilege: tests/integration/test_authorizer_es.py; docs/access.md has the role):

  install its index templates              cluster manage_index_templates
  detect data streams (`storage: auto`)    cluster monitor (nodes info)
  create its daily indices on first write  indices auto_configure (also lets the write add dynamic fields to
                                           the mapping; create_index does the first part only, and on
                                           Elasticsearch 8 `index` does the second, deprecated)
  index documents (deterministic ids)      indices index (create_doc cannot overwrite an id)
  find and delete old daily indices        indices view_index_metadata, delete_index

`manage` is not needed (it covers auto_configure, view_index_metadata and delete_index and much more).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from elasticsearch import ApiError, Elasticsearch

WRITE = ("auto_configure", "index")
RETENTION = ("view_index_metadata", "delete_index")


@dataclass(frozen=True)
class Privileges:
    """What the user may do on `names` (index patterns), for one sink and storage mode."""

    names: tuple[str, ...]
    granted: dict[str, bool] = field(default_factory=dict)  # "cluster:<p>" and "indices:<p>" -> granted
    user: str | None = None

    def missing_write(self) -> list[str]:
        """Without these nothing is written: setup and every delivery fail."""
        return [p for p, ok in self.granted.items() if not ok and p.split(":", 1)[1] not in RETENTION]

    def missing_retention(self) -> list[str]:
        """Without these old daily indices are never deleted."""
        return [p for p, ok in self.granted.items() if not ok and p.split(":", 1)[1] in RETENTION]

    def describe(self, missing: list[str]) -> str:
        cluster = [p.split(":", 1)[1] for p in missing if p.startswith("cluster:")]
        indices = [p.split(":", 1)[1] for p in missing if p.startswith("indices:")]
        parts = ([f"cluster privileges {cluster}"] if cluster else []) + (
            [f"index privileges {indices} on {list(self.names)}"] if indices else [])
        who = f"user {self.user!r}" if self.user else "the user"
        return f"{who} lacks {' and '.join(parts)} (docs/access.md: the role lagwatch needs)"


def wanted(names: tuple[str, ...], storage: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(cluster privileges, index privileges) lagwatch uses for sinks writing to `names` with `storage` (auto,
    daily_indices, data_stream): data streams delete their own old data; only `auto` asks for node info."""
    cluster = ("manage_index_templates",) + (("monitor",) if storage == "auto" else ())
    indices = WRITE + (RETENTION if storage != "data_stream" else ())
    return cluster, indices


def check(client: Elasticsearch, names: tuple[str, ...], storage: str) -> Privileges | None:
    """The user's privileges on `names`, or None where Elasticsearch has no security to ask (a node without
    xpack.security: every request is allowed). Raises ApiError for anything else (401: credentials)."""
    cluster, indices = wanted(names, storage)
    try:
        answer = client.security.has_privileges(
            cluster=list(cluster), index=[{"names": list(names), "privileges": [*indices, "create_index"]}]).body
    except ApiError as exc:
        if exc.meta.status in (400, 404, 500) and "security" in str(exc).lower():
            return None
        raise
    granted = {f"cluster:{p}": bool(answer.get("cluster", {}).get(p)) for p in cluster}
    by_name = answer.get("index", {})
    for p in indices:
        granted[f"indices:{p}"] = all(by_name.get(n, {}).get(p) for n in names)
    if not granted["indices:auto_configure"]:
        # create_index also lets the first write create the index; on 8.x `index` then adds the dynamic fields
        # (deprecated: Elasticsearch says so in a warning header). Accepted, never recommended (docs/access.md).
        granted["indices:auto_configure"] = all(by_name.get(n, {}).get("create_index") for n in names)
    return Privileges(names, granted, answer.get("username"))
