"""The `alerts` config section: defaults, conversion to rules, and errors with their field paths."""

from __future__ import annotations

import pytest

from exporter import config
from exporter.evaluator.rules import Match, StatusRule, ThresholdRule, rules_from

BASE = {"clusters": [{"name": "a", "bootstrap_servers": "k:9092"}]}


def parse(alerts):
    return config.parse({**BASE, "alerts": alerts}, environ={}).alerts


def test_defaults_mean_statuses_on_no_rules_no_notifiers():
    alerts = config.parse(dict(BASE), environ={}).alerts
    assert alerts.status and alerts.rules == () and alerts.status_rules == () and alerts.notifiers == ()


def test_rules_convert_to_evaluator_rules():
    alerts = parse({"rules": [{"name": "r", "groups": ["g"], "topic_regex": "o.*", "metric": "lag_seconds",
                               "warn": 60, "for_s": 30}],
                    "status_rules": [{"name": "s", "statuses": ["STOP"]}]})
    (rule,), (status_rule,) = rules_from(alerts)
    assert rule == ThresholdRule("r", Match(groups=("g",), topic_regex="o.*"), "lag_seconds", warn=60, for_s=30)
    assert rule.match.per_topic and rule.clear_below == 60
    assert status_rule == StatusRule("s", Match(), ("STOP",))


@pytest.mark.parametrize(
    "alerts, path, message",
    [
        ({"rules": [{"name": "r"}]}, "alerts.rules[0]", "set warn, critical or both"),
        ({"rules": [{"name": "r", "warn": 10, "critical": 5}]}, "alerts.rules[0]", "warn must not exceed critical"),
        ({"rules": [{"name": "r", "warn": 1, "metric": "bytes"}]}, "alerts.rules[0].metric", "lag"),
        ({"rules": [{"name": "r", "warn": 1}], "status_rules": [{"name": "r"}]}, "alerts", "unique"),
        ({"status_rules": [{"name": "s", "statuses": ["BAD"]}]}, "alerts.status_rules[0].statuses[0]", "STALL"),
        ({"notifiers": [{"name": "n", "url": "ftp://x"}]}, "alerts.notifiers[0].url", "http"),
        ({"status": False, "status_rules": [{"name": "s"}]}, "alerts", "status: true"),
    ],
)
def test_invalid_alert_options_name_their_field(alerts, path, message):
    with pytest.raises(config.ConfigError) as error:
        parse(alerts)
    assert any(p == path and message in m for p, m in error.value.problems), error.value.problems


def test_webhook_url_is_a_secret_in_the_effective_config():
    alerts = parse({"notifiers": [{"name": "n", "url": "https://hooks.example/T/s3cr3t"}]})
    assert "s3cr3t" not in str(config.redacted(config.parse({**BASE, "alerts": {"notifiers": [{"name": "n", "url": "https://hooks.example/T/s3cr3t"}]}}, environ={})))
    assert alerts.notifiers[0].url.get_secret_value().endswith("s3cr3t")
