"""Notifiers: a JSON webhook and a Slack-compatible incoming webhook, over the standard library.

Each POST has a timeout and is retried with exponential backoff on network errors, timeouts, 429 and 5xx;
other 4xx answers are not retried (the payload or the URL is wrong). Webhook URLs often carry a token: the
caller registers them as secrets, and logs name a notifier by its configured name only.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from exporter.alerts.lifecycle import FIRED, RESOLVED, Transition
from exporter.output.documents import iso

USER_AGENT = "lagwatch-alerts/1"


class NotifyFailed(Exception):
    pass


def generic_payload(t: Transition) -> dict[str, Any]:
    ev = t.evaluation
    return {
        "source": "lagwatch",
        "alert_id": ev.alert_id,
        "transition": t.kind,
        "state": t.state,
        "severity": t.severity,
        "rule": ev.rule,
        "cluster": ev.cluster,
        "group": ev.group,
        "topic": ev.topic,
        "metric": ev.metric,
        "value": ev.value,
        "threshold": ev.threshold,
        "status_code": ev.status_code,
        "since": iso(t.since),
        "at": iso(t.at),
        "message": ev.message,
    }


_COLORS = {"critical": "#d63232", "warn": "#e8a317"}


def slack_payload(t: Transition) -> dict[str, Any]:
    """Slack incoming-webhook format (also accepted by Mattermost and Rocket.Chat)."""
    ev = t.evaluation
    icon = {FIRED: ":rotating_light:", RESOLVED: ":white_check_mark:"}.get(t.kind, ":warning:")
    scope = f"{ev.group}" + (f" / {ev.topic}" if ev.topic else "")
    title = f"{icon} [{t.state.upper()}{'' if t.kind == RESOLVED else ' ' + (t.severity or '').upper()}] {ev.rule}: {scope} ({ev.cluster})"
    fields = [
        {"title": "metric", "value": ev.metric, "short": True},
        {"title": "value", "value": str(ev.value), "short": True},
        {"title": "threshold", "value": str(ev.threshold), "short": True},
        {"title": "since", "value": iso(t.since), "short": True},
    ]
    return {
        "text": f"{title}\n{ev.message}",
        "attachments": [
            {
                "color": "#2eb67d" if t.kind == RESOLVED else _COLORS.get(t.severity or "", "#e8a317"),
                "fallback": title,
                "fields": fields,
            }
        ],
    }


class WebhookNotifier:
    def __init__(
        self,
        name: str,
        url: str,
        *,
        payload: Callable[[Transition], dict[str, Any]] = generic_payload,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.name = name
        self._url = url
        self.payload = payload
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.sleep = sleep

    def send(self, t: Transition) -> None:
        body = json.dumps(self.payload(t)).encode()
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1))
            request = urllib.request.Request(
                self._url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    response.read()
                return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
                if exc.code != 429 and exc.code < 500:
                    raise NotifyFailed(f"{self.name}: {last} (not retried)") from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last = f"{type(reason).__name__}: {reason}"
        raise NotifyFailed(f"{self.name}: {last} after {self.retries + 1} attempts")
