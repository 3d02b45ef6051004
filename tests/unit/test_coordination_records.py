"""One compacted record per group: the alert engine's state split by group and joined back, keys for any id."""

import pytest

from exporter.coordination import records

ODD = ["a\x1fb", "line\nbreak", 'quo"te\'s\\', "ünï💥", "[\"x\",\"y\"]", ""]


def alert(group: str, value: float = 50.0, severity: str = "warn") -> dict:
    return {
        "evaluation": {
            "alert_id": f"lag/prod/{group}", "rule": "lag", "cluster": "prod", "group": group, "topic": None,
            "metric": "lag", "value": value, "threshold": 10.0, "status_code": None,
            "condition": {"pending_since": 1.0, "active": True, "severity": severity, "clear_since": None},
            "message": f"lag of {group} is {value:g} messages (threshold 10 messages)",
        },
        "firing_since": 1.0, "severity": severity, "last_sent": 1.0,
    }


def section(groups) -> dict:
    return {
        "alerts": {f"lag/prod/{g}": alert(g) for g in groups},
        "stuck": [[g, "orders", 0, 5, 1000.0] for g in groups],
        "outbox": [{"target": "ops", "transition": {"kind": "fired", "evaluation": alert(g)["evaluation"]}} for g in groups],
    }


def test_a_section_split_by_group_and_joined_back_is_the_same_state():
    whole = section(["billing", "audit"] + ODD)
    parts = records.split(whole)
    assert set(parts) == {"billing", "audit", *ODD}
    assert parts["billing"]["stuck"] == [["orders", 0, 5, 1000.0]]  # the group is the record's key
    joined = records.join(parts)
    assert joined["alerts"] == whole["alerts"]
    assert sorted(map(repr, joined["stuck"])) == sorted(map(repr, whole["stuck"]))
    assert sorted(map(repr, joined["outbox"])) == sorted(map(repr, whole["outbox"]))


@pytest.mark.parametrize("group", ODD)
def test_keys_and_values_round_trip_for_any_group_id(group):
    part = records.split(section([group]))[group]
    assert records.parse_key(records.key("prod", group)) == ("prod", group)
    assert records.parse_value(records.value(part)) == part


def test_a_group_without_state_is_a_tombstone():
    assert records.value(None) is None
    assert records.value({"alerts": {}, "stuck": [], "outbox": []}) is None
    assert records.parse_value(None) is None


@pytest.mark.parametrize("raw", [b"{", b"[]", b'{"version": 99, "alerts": {}}', b'{"version": 1, "alerts": []}'])
def test_a_value_lagwatch_did_not_write_is_refused(raw):
    with pytest.raises(ValueError):
        records.parse_value(raw)


@pytest.mark.parametrize("raw", [None, b"not json", b'["only-one"]', b'[1, 2]'])
def test_a_key_lagwatch_did_not_write_is_none(raw):
    assert records.parse_key(raw) is None


def test_only_a_change_that_matters_rewrites_the_record():
    base = records.split({"alerts": {"a": alert("billing", value=50.0)}})["billing"]
    new_value = records.split({"alerts": {"a": alert("billing", value=70.0)}})["billing"]
    new_severity = records.split({"alerts": {"a": alert("billing", severity="critical")}})["billing"]
    assert records.fingerprint(base) == records.fingerprint(new_value)  # the lag moved: same alert state
    assert records.fingerprint(base) != records.fingerprint(new_severity)
    assert records.value(new_value) != records.value(base)  # what is written carries the latest value
