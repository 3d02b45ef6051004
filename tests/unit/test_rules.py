"""Threshold and status rules (exporter.evaluator.rules): `for`, hysteresis, severities; numbered cases."""

from __future__ import annotations

import pytest

from exporter.evaluator.rules import Condition, Match, StatusRule, ThresholdRule, step_status, step_threshold

LAG = ThresholdRule("lag", warn=100, critical=1000, for_s=60, resolve_below=50, resolve_for_s=0)


def drive(rule, observations):
    cond = Condition()
    for at, value in observations:
        cond = step_threshold(rule, value, cond, at)
    return cond


THRESHOLD_CASES = [
    ("R01-below-warn", LAG, [(0, 10), (60, 99)], False, None),
    ("R02-for-0-fires-at-once", ThresholdRule("r", warn=100), [(0, 100)], True, "warn"),
    ("R03-breach-shorter-than-for", LAG, [(0, 150), (30, 150)], False, None),
    ("R04-breach-held-for-for", LAG, [(0, 150), (30, 150), (60, 150)], True, "warn"),
    ("R05-interrupted-breach-restarts-for", LAG, [(0, 150), (30, 10), (60, 150), (90, 150)], False, None),
    ("R06-critical-level", LAG, [(0, 5000), (60, 5000)], True, "critical"),
    ("R07-escalates-while-firing", LAG, [(0, 150), (60, 150), (90, 5000)], True, "critical"),
    ("R08-deescalates-while-firing", LAG, [(0, 5000), (60, 5000), (90, 200)], True, "warn"),
    ("R09-hysteresis-band-holds", LAG, [(0, 150), (60, 150), (90, 80)], True, "warn"),
    ("R10-band-keeps-critical", LAG, [(0, 5000), (60, 5000), (90, 80)], True, "critical"),
    ("R11-below-resolve-level-resolves", LAG, [(0, 150), (60, 150), (90, 49)], False, None),
    ("R12-unknown-value-changes-nothing", LAG, [(0, 150), (60, 150), (90, None), (120, None)], True, "warn"),
    ("R13-default-resolve-is-lowest-level", ThresholdRule("r", warn=100), [(0, 150), (30, 99)], False, None),
    ("R14-resolve-for-not-yet", ThresholdRule("r", warn=100, resolve_for_s=60), [(0, 150), (30, 10), (60, 10)], True, "warn"),
    ("R15-resolve-for-held", ThresholdRule("r", warn=100, resolve_for_s=60), [(0, 150), (30, 10), (90, 10)], False, None),
    ("R16-resolve-for-interrupted", ThresholdRule("r", warn=100, resolve_for_s=60), [(0, 150), (30, 10), (60, 150), (100, 10)], True, "warn"),
    ("R17-critical-only-rule", ThresholdRule("r", critical=10), [(0, 9), (30, 10)], True, "critical"),
]


@pytest.mark.parametrize("rule, observations, active, severity", [c[1:] for c in THRESHOLD_CASES], ids=[c[0] for c in THRESHOLD_CASES])
def test_threshold_rule(rule, observations, active, severity):
    cond = drive(rule, observations)
    assert (cond.active, cond.severity) == (active, severity)


# (time, value, lower bound?): a value known only as a lower bound of the truth (a time lag `at_least`, or one
# with a part unplaced) may fire or escalate, never resolve nor lower the severity.
BOUND_CASES = [
    ("B01-bound-above-fires", ThresholdRule("r", warn=100), [(0, 150, True)], True, "warn"),
    ("B02-bound-below-never-resolves", ThresholdRule("r", warn=100), [(0, 150, False), (30, 10, True), (60, 10, True)], True, "warn"),
    ("B03-measured-below-resolves-after", ThresholdRule("r", warn=100), [(0, 150, False), (30, 10, True), (60, 10, False)], False, None),
    ("B04-bound-escalates", LAG, [(0, 150, False), (60, 150, False), (90, 5000, True)], True, "critical"),
    ("B05-bound-never-deescalates", LAG, [(0, 5000, False), (60, 5000, False), (90, 200, True)], True, "critical"),
    ("B06-bound-below-does-not-fire", ThresholdRule("r", warn=100), [(0, 10, True)], False, None),
    ("B07-bound-interrupts-resolve-for", ThresholdRule("r", warn=100, resolve_for_s=60),
     [(0, 150, False), (30, 10, False), (60, 10, True), (100, 10, False)], True, "warn"),
]


@pytest.mark.parametrize("rule, observations, active, severity", [c[1:] for c in BOUND_CASES], ids=[c[0] for c in BOUND_CASES])
def test_a_lower_bound_may_fire_but_never_resolves(rule, observations, active, severity):
    cond = Condition()
    for at, value, bound in observations:
        cond = step_threshold(rule, value, cond, at, lower_bound=bound)
    assert (cond.active, cond.severity) == (active, severity)


STALLED = StatusRule("stalled", statuses=("STALL", "STOP"), for_s=300)
# (code, settled) per scrape, 60 s apart
STATUS_CASES = [
    ("T01-for-0-fires-at-once", StatusRule("s", for_s=0), [("STOP", True)], True),
    ("T02-not-yet-for", STALLED, [("STALL", True)] * 5, False),  # 0..240 s
    ("T03-held-for", STALLED, [("STALL", True)] * 6, True),  # 0..300 s
    ("T04-stall-then-stop-is-one-breach", STALLED, [("STALL", True)] * 3 + [("STOP", True)] * 3, True),
    ("T05-unsettled-ok-holds-firing", StatusRule("s", for_s=0), [("STOP", True), ("OK", False), ("OK", False)], True),
    ("T06-settled-ok-resolves", StatusRule("s", for_s=0), [("STOP", True), ("OK", True)], False),
    ("T07-other-status-ignored", StatusRule("s", for_s=0), [("WARN", True), ("REWIND", True)], False),
]


@pytest.mark.parametrize("rule, codes, active", [c[1:] for c in STATUS_CASES], ids=[c[0] for c in STATUS_CASES])
def test_status_rule(rule, codes, active):
    cond = Condition()
    for i, (code, settled) in enumerate(codes):
        cond = step_status(rule, code, settled, cond, i * 60.0)
    assert cond.active is active
    if active:
        assert cond.severity == rule.severity


MATCH_CASES = [
    ("M01-empty-matches-all", Match(), "anything", True),
    ("M02-exact-name", Match(groups=("billing",)), "billing", True),
    ("M03-exact-name-is-not-a-prefix", Match(groups=("billing",)), "billing-eu", False),
    ("M04-regex-whole-name", Match(group_regex=r"pay-.*"), "pay-eu", True),
    ("M05-regex-not-partial", Match(group_regex=r"pay"), "pay-eu", False),
    ("M06-name-or-regex", Match(groups=("audit",), group_regex=r"pay-.*"), "audit", True),
]


@pytest.mark.parametrize("match, group, expected", [c[1:] for c in MATCH_CASES], ids=[c[0] for c in MATCH_CASES])
def test_group_matching(match, group, expected):
    assert match.group_matches(group) is expected


def test_m07_topic_filter_makes_the_rule_per_topic():
    assert Match(topics=("orders",)).per_topic and Match(topic_regex="o.*").per_topic and not Match().per_topic
    assert Match(clusters=("prod",)).cluster_matches("prod") and not Match(clusters=("prod",)).cluster_matches("dev")
