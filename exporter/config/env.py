"""LAGWATCH_* environment variables over the YAML tree, before validation.

LAGWATCH_SCRAPE__INTERVAL_S=10 sets scrape.interval_s; LAGWATCH_CLUSTERS__0__NAME sets clusters[0].name.
Every option lives in a section, so an override always has a `__`; LAGWATCH_CONFIG, LAGWATCH_STATE_DIR,
LAGWATCH_KEEP_DATA and the like are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.config.problems import ConfigError
from exporter.config.schema import Config

ENV_PREFIX = "LAGWATCH_"
ENV_NESTING = "__"


def _list_index(key: str, variable: str, where: list[str], items: list) -> int:
    if not key.isdigit():
        raise ConfigError(
            [(".".join(where), f"{variable}: {key!r} stands where a list index belongs, e.g. LAGWATCH_CLUSTERS__0__NAME")]
        )
    # An existing item or the next one: LAGWATCH_CLUSTERS__99999999__NAME must not make 10^8 empty items.
    if len(key) > 6 or int(key) > len(items):
        raise ConfigError([(".".join(where) or "(top level)",
                            f"{variable}: index {int(key) if len(key) < 20 else key[:20] + '...'} skips items: "
                            f"the list has {len(items)}, so the next index is {len(items)}")])
    return int(key)


def _set_path(tree: dict, path: list[str], value: str, variable: str) -> None:
    node: Any = tree
    for index, key in enumerate(path[:-1]):
        nxt = path[index + 1]
        if isinstance(node, list):
            pos = _list_index(key, variable, path[:index], node)
            while len(node) <= pos:
                node.append({})
            node = node[pos]
            continue
        if key not in node or not isinstance(node[key], (dict, list)):
            node[key] = [] if nxt.isdigit() else {}
        node = node[key]
    last = path[-1]
    if not isinstance(node, (dict, list)):
        raise ConfigError([(".".join(path[:-1]), f"{variable}: overrides a single value as if it were a section")])
    if isinstance(node, list):
        pos = _list_index(last, variable, path[:-1], node)
        while len(node) <= pos:
            node.append({})
        node[pos] = value
    else:
        node[last] = value


def apply_env(tree: dict, environ: Mapping[str, str]) -> dict:
    """Set each LAGWATCH_<SECTION>__<OPTION> in the tree (in place; returned). Comma-separated values fill
    list fields (hosts, bootstrap_servers)."""
    sections = set(Config.model_fields)
    overrides = []
    for key in environ:
        if not key.startswith(ENV_PREFIX):
            continue
        if ENV_NESTING not in key:
            name = key[len(ENV_PREFIX):].lower()
            if name in sections:  # LAGWATCH_SCRAPE=5: a section is not one value (other LAGWATCH_* are not config)
                raise ConfigError([(name, f"{key}: {name} is a section, not one value; set its options, "
                                          f"e.g. {key}{ENV_NESTING}<OPTION>")])
            continue
        path = [part.lower() for part in key[len(ENV_PREFIX):].split(ENV_NESTING) if part]
        if path:
            overrides.append((path, key))
    # Numbers as numbers: LAGWATCH_CLUSTERS__10__... comes after __2__, so lists fill in order.
    overrides.sort(key=lambda item: [(0, int(p), "") if p.isdigit() and len(p) < 20 else (1, 0, p) for p in item[0]])
    for path, key in overrides:
        _set_path(tree, path, environ[key], key)
    return tree
