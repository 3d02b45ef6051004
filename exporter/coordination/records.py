"""The alert state of one monitored group as one record of the coordination topic (pure).

Key: the JSON array `[cluster, group]` (a group id may hold any character, so nothing is joined with a
separator). Value: the group's share of the alert engine's state section (exporter/alerts/engine.py): its
alerts, its partitions' STOP clocks and its transitions not yet delivered, as JSON with a version; no value
(a tombstone) once the group has no state left. The record goes to the partition of the group's shard, and
the topic is compacted, so each partition ends up holding the latest state of each of its shard's groups.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

VERSION = 1


def _empty() -> dict[str, Any]:
    return {"alerts": {}, "stuck": [], "outbox": []}


def split(section: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """An alert engine section ({alerts, stuck, outbox}) as one section per group that has any state."""
    groups: dict[str, dict[str, Any]] = {}
    for alert_id, state in section.get("alerts", {}).items():
        groups.setdefault(state["evaluation"]["group"], _empty())["alerts"][alert_id] = state
    for group, topic, partition, offset, since in section.get("stuck", []):
        groups.setdefault(group, _empty())["stuck"].append([topic, partition, offset, since])
    for entry in section.get("outbox", []):
        groups.setdefault(entry["transition"]["evaluation"]["group"], _empty())["outbox"].append(entry)
    return groups


def join(groups: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Per-group sections back into one alert engine section."""
    section = _empty()
    for group, part in groups.items():
        section["alerts"].update(part.get("alerts", {}))
        section["stuck"] += [[group, *record] for record in part.get("stuck", [])]
        section["outbox"] += list(part.get("outbox", []))
    return section


def key(cluster: str, group: str) -> bytes:
    return json.dumps([cluster, group], ensure_ascii=False, separators=(",", ":")).encode()


def parse_key(raw: bytes | None) -> tuple[str, str] | None:
    """(cluster, group), or None for a key lagwatch did not write."""
    try:
        cluster, group = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return (cluster, group) if isinstance(cluster, str) and isinstance(group, str) else None


def value(part: Mapping[str, Any] | None) -> bytes | None:
    """The record value, None (a tombstone) when the group has no state."""
    if not part or not any(part.get(k) for k in ("alerts", "stuck", "outbox")):
        return None
    body = {"version": VERSION, **{k: part.get(k) or _empty()[k] for k in ("alerts", "stuck", "outbox")}}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def parse_value(raw: bytes | None) -> dict[str, Any] | None:
    """The group's section, None for a tombstone; ValueError for a value lagwatch cannot read."""
    if raw is None:
        return None
    data = json.loads(raw)
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError(f"not a version {VERSION} alert state record")
    part = {k: data.get(k) for k in ("alerts", "stuck", "outbox")}
    if not isinstance(part["alerts"], dict) or not isinstance(part["stuck"], list) or not isinstance(part["outbox"], list):
        raise ValueError("alerts, stuck or outbox of the wrong type")
    return part


def fingerprint(part: Mapping[str, Any] | None) -> bytes | None:
    """What must be written again when it changes. An alert's latest value and message change every
    scrape and are only informational; leaving them out means a firing alert is not rewritten every scrape."""
    if part is None:
        return None
    alerts = {}
    for alert_id, state in part.get("alerts", {}).items():
        evaluation = {k: v for k, v in state["evaluation"].items() if k not in ("value", "message")}
        alerts[alert_id] = {**state, "evaluation": evaluation}
    return value({**part, "alerts": alerts})
