"""The Kibana alerting rule lagwatch installs: an Elasticsearch query rule on the group documents' time lag
(pure, no I/O). `lagwatch setup` creates or updates it (exporter/kibana/client.py); kibana/build.py writes
the committed kibana/lagwatch-rule.json from it."""

from __future__ import annotations

import json
from typing import Any

from exporter.output import fields
from exporter.output.fields import DocType

RULE_ID = "lagwatch-time-lag"


def rule(
    prefix: str = "lagwatch",
    time_lag_seconds: float = 300,
    interval: str = "1m",
    window_minutes: int = 5,
) -> dict[str, Any]:
    """An Elasticsearch query rule (POST /api/alerting/rule/<id>): one alert per consumer group whose group
    document reported a time lag of at least `time_lag_seconds` within the last `window_minutes`.

    While a group's time lag cannot be read (its coordinator or a leader down: `lag.partial`, `lag.seconds`
    null), its documents carry the last known one (`lag.seconds_last_known`) and the query matches that too:
    an outage neither fires the alert (nothing known crossed the threshold) nor resolves it (nothing known
    fell below)."""
    at_least = {"gte": time_lag_seconds}
    query = {
        "query": {
            "bool": {
                "filter": [
                    {"term": {fields.DOC_TYPE: DocType.GROUP}},
                    {"bool": {
                        "should": [
                            {"range": {fields.LAG_SECONDS: at_least}},
                            {"range": {fields.LAG_SECONDS_LAST_KNOWN: at_least}},
                        ],
                        "minimum_should_match": 1,
                    }},
                ]
            }
        }
    }
    return {
        "name": f"lagwatch: consumer group time lag >= {time_lag_seconds:g}s",
        "rule_type_id": ".es-query",
        "consumer": "stackAlerts",
        "schedule": {"interval": interval},
        "enabled": True,
        "tags": ["lagwatch", "kafka"],
        "actions": [],  # add a connector (Slack, PagerDuty, ...) in Stack Management > Rules
        "params": {
            "searchType": "esQuery",
            "index": [f"{prefix}-lag*"],
            "timeField": fields.TIMESTAMP,
            "esQuery": json.dumps(query, indent=2, sort_keys=True),
            "size": 10,
            "aggType": "count",
            "groupBy": "top",
            "termField": fields.GROUP_ID,
            "termSize": 100,
            "threshold": [0],
            "thresholdComparator": ">",
            "timeWindowSize": window_minutes,
            "timeWindowUnit": "m",
            "excludeHitsFromPreviousRun": False,
        },
    }


def rule_json(rule_body: dict[str, Any]) -> str:
    return json.dumps(rule_body, indent=2, sort_keys=True) + "\n"
