"""Alert lifecycle (exporter.alerts.lifecycle) and the state file (exporter.alerts.state)."""

from __future__ import annotations

import json

from exporter.alerts.lifecycle import AlertState, Evaluation, advance, key, transition_doc
from exporter.alerts.state import StateStore
from exporter.evaluator.rules import Condition
from exporter.sinks.elasticsearch import mappings

FIRING = Condition(pending_since=0.0, active=True, severity="warn")


def ev(cond: Condition, value=150.0, group="billing", rule="lag") -> Evaluation:
    return Evaluation(key(rule, "prod", group), rule, "prod", group, None, "lag", value, 100.0, None, cond, "msg")


def kinds(transitions):
    return [t.kind for t in transitions]


def test_l01_fires_once_then_stays_quiet_then_resolves():
    states, t1 = advance({}, [ev(FIRING)], 10.0)
    states, t2 = advance(states, [ev(FIRING)], 40.0)
    states, t3 = advance(states, [ev(Condition())], 70.0)
    assert (kinds(t1), kinds(t2), kinds(t3)) == (["fired"], [], ["resolved"])
    assert t3[0].since == 10.0 and states == {}


def test_l02_pending_condition_is_kept_without_transition():
    states, transitions = advance({}, [ev(Condition(pending_since=5.0))], 10.0)
    assert transitions == [] and states[key("lag", "prod", "billing")].firing_since is None


def test_l03_severity_change_and_reminders_are_still_firing():
    states, _ = advance({}, [ev(FIRING)], 0.0, repeat_s=3600)
    states, t = advance(states, [ev(Condition(0.0, True, "critical"))], 30.0, repeat_s=3600)
    assert kinds(t) == ["still_firing"] and t[0].severity == "critical"
    states, t = advance(states, [ev(Condition(0.0, True, "critical"))], 3000.0, repeat_s=3600)
    assert t == []
    states, t = advance(states, [ev(Condition(0.0, True, "critical"))], 3630.0, repeat_s=3600)
    assert kinds(t) == ["still_firing"]


def test_l04_state_round_trips_through_json_so_a_restart_does_not_fire_again(tmp_path):
    store = StateStore(tmp_path / "alerts.json")
    states, _ = advance({}, [ev(FIRING)], 0.0)
    store.save("prod", {"alerts": {k: v.to_json() for k, v in states.items()}})
    restored = {k: AlertState.from_json(v) for k, v in StateStore(store.path).load("prod")["alerts"].items()}
    assert restored == states
    _, transitions = advance(restored, [ev(FIRING)], 30.0)
    assert transitions == []


def test_l05_vanished_subject_resolves_only_after_a_complete_scrape():
    states, _ = advance({}, [ev(FIRING)], 0.0)
    kept, t = advance(states, [], 30.0, complete=False)
    assert t == [] and kept == states
    gone, t = advance(states, [], 60.0, complete=True)
    assert kinds(t) == ["resolved"] and gone == {} and "no longer reported" in t[0].evaluation.message


def test_l06_transition_documents_fit_the_alert_mapping_and_have_stable_ids():
    _, (fired,) = advance({}, [ev(FIRING)], 1_700_000_000.0)
    doc = transition_doc(fired)
    assert doc["_id"] == transition_doc(fired)["_id"]
    assert doc["lagwatch.alert.state"] == "firing" and doc["lagwatch.alert.transition"] == "fired"

    def fields(props, prefix=""):
        out = set()
        for name, spec in props.items():
            out |= fields(spec["properties"], f"{prefix}{name}.") if "properties" in spec else {prefix + name}
        return out

    mapped = fields(mappings("alert-mappings.json")["properties"])
    assert set(doc) - {"_id"} <= mapped
    for name in ("id", "rule", "state", "transition", "severity", "metric", "value", "threshold", "since",
                 "status_code", "message"):
        assert f"lagwatch.alert.{name}" in mapped


def test_l07_state_file_is_replaced_atomically_and_keeps_other_clusters(tmp_path):
    store = StateStore(tmp_path / "sub" / "alerts.json")
    store.save("a", {"alerts": {}, "outbox": [1]})
    store.save("b", {"alerts": {}, "outbox": [2]})
    data = json.loads(store.path.read_text())
    assert data["clusters"]["a"]["outbox"] == [1] and data["clusters"]["b"]["outbox"] == [2]
    assert [p.name for p in store.path.parent.iterdir()] == ["alerts.json"]  # no temporary files left
