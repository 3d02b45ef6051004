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


# --- state keys: any group id a broker accepts -------------------------------------------------

import json  # noqa: E402

from exporter.lag import report as lag  # noqa: E402
from exporter.alerts.engine import Alerting  # noqa: E402
from exporter.evaluator.rules import ThresholdRule  # noqa: E402
from exporter.evaluator.status import StatusConfig  # noqa: E402
from exporter.lag.model import ClusterSnapshot, GroupObservation, PartitionOffsets, TopicInfo  # noqa: E402

# A group id is any string a client sends: the old state format joined keys with \x1f and split them again.
ODD_GROUPS = ["a\x1fb", "a\x1f", "\x1f", "line\nbreak", 'quo"te\'s\\', "ünï💥", "a/b", "x" * 300]


def _report(at: float, committed: int = 5):
    snap = ClusterSnapshot(
        cluster="prod",
        taken_at=at,
        topics={"orders": TopicInfo("orders", 1)},
        partitions={("orders", 0): PartitionOffsets("orders", 0, 100, log_start_offset=0, leader=1)},
        groups=tuple(GroupObservation(g, "Empty", committed={("orders", 0): committed}) for g in ODD_GROUPS),
    )
    return lag.build_report(snap, None, lag.update_histories({}, snap, None), records_per_message=lambda t: 1)


def scrape(alerting, rep) -> None:
    """What the pipeline does with each report: statuses once, then the rules on both."""
    alerting.alert(rep, alerting.evaluate(rep))


def _alerting(path) -> Alerting:
    return Alerting(
        "prod",
        status_config=StatusConfig(window=3, stop_after_s=600),
        threshold_rules=[ThresholdRule("lag", warn=10)],
        store=StateStore(path),
    )


def test_alert_state_of_odd_group_ids_round_trips_and_survives_a_restart(tmp_path):
    path = tmp_path / "alerts.json"
    first = _alerting(path)
    scrape(first, _report(1000.0))
    scrape(first, _report(1030.0))
    assert {k[0] for k, w in first.windows.items() if w.stuck_since == 1000.0} == set(ODD_GROUPS)
    assert len(first.alerts) == len(ODD_GROUPS) and all(s.firing_since == 1000.0 for s in first.alerts.values())

    restarted = _alerting(path)  # crashed here before: "a\x1fb" split into four parts
    assert {k: (w.stuck_since, w.stuck_offset) for k, w in restarted.windows.items()} == {
        k: (w.stuck_since, w.stuck_offset) for k, w in first.windows.items()
    }
    assert restarted.alerts == first.alerts
    scrape(restarted, _report(1060.0))  # still firing: no new transition, same stuck clocks
    assert restarted.outbox == []
    assert {k[0] for k, w in restarted.windows.items() if w.stuck_since == 1000.0} == set(ODD_GROUPS)


def test_a_state_file_written_in_the_old_format_still_loads(tmp_path):
    # Version 1 wrote stuck clocks as {"group\x1ftopic\x1fpartition": [offset, since]}; topics and
    # partitions hold no \x1f, so even a group id with \x1f (which crashed the old reader) is recovered.
    path = tmp_path / "alerts.json"
    first = _alerting(path)
    scrape(first, _report(1000.0))
    alerts = json.loads(path.read_text())["clusters"]["prod"]["alerts"]
    old = {
        "version": 1,
        "clusters": {"prod": {
            "alerts": alerts,
            "stuck": {f"{g}\x1forders\x1f0": [5, 1000.0] for g in ODD_GROUPS},
            "outbox": [],
        }},
    }
    path.write_text(json.dumps(old))
    restored = _alerting(path)
    assert {k: (w.stuck_offset, w.stuck_since) for k, w in restored.windows.items()} == {
        (g, "orders", 0): (5, 1000.0) for g in ODD_GROUPS
    }
    assert restored.alerts == first.alerts
    assert not list(tmp_path.glob("*.unreadable-*"))


def _listing(at: float, groups: list[str], complete: bool):
    """A scrape that reports `groups` only; `complete` false: a broker did not answer ListGroups."""
    snap = ClusterSnapshot(
        cluster="prod",
        taken_at=at,
        topics={"orders": TopicInfo("orders", 1)},
        partitions={("orders", 0): PartitionOffsets("orders", 0, 100, log_start_offset=0, leader=1)},
        groups=tuple(GroupObservation(g, "Empty", committed={("orders", 0): 5}) for g in groups),
        groups_complete=complete,
    )
    return lag.build_report(snap, None, lag.update_histories({}, snap, None), records_per_message=lambda t: 1)


def test_a_restarted_process_keeps_an_alert_of_a_group_a_failed_broker_did_not_list(tmp_path):
    # Issue #26's soak: lagwatch SIGKILLed and restarted; its first scrape met a broker that did not answer
    # ListGroups, so the groups it coordinates were not in the report (the process had never seen them), and
    # both restored alerts of one resolved as "no longer reported" while the group was there, lagging.
    path = tmp_path / "alerts.json"
    first = _alerting(path)
    scrape(first, _report(1000.0))
    firing = {k for k, s in first.alerts.items() if s.firing_since is not None}
    assert firing

    restarted = _alerting(path)
    scrape(restarted, _listing(1060.0, ODD_GROUPS[:2], complete=False))
    assert {k for k, s in restarted.alerts.items() if s.firing_since} == firing

    scrape(restarted, _listing(1090.0, ODD_GROUPS[:2], complete=True))  # every broker listed: the rest are gone
    assert {k for k, s in restarted.alerts.items() if s.firing_since} == {f"lag/prod/{g}" for g in ODD_GROUPS[:2]}
