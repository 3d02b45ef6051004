"""Webhook and Slack notifiers against a real local HTTP server that records requests."""

from __future__ import annotations

import pytest

from exporter.alerts.lifecycle import Evaluation, Transition
from exporter.alerts.notifiers import NotifyFailed, WebhookNotifier, slack_payload
from exporter.evaluator.rules import Condition
from tests.webhook_recorder import Recorder


@pytest.fixture
def recorder_factory():
    made = []

    def make(**kwargs):
        made.append(Recorder(**kwargs))
        return made[-1]

    yield make
    for r in made:
        r.close()


TRANSITION = Transition(
    "fired", 1_700_000_060.0, 1_700_000_000.0, "critical",
    Evaluation("lag/prod/billing", "lag", "prod", "billing", None, "lag", 5000.0, 1000.0, None,
               Condition(0.0, True, "critical"), "lag of billing is 5000 messages (threshold 1000 messages)"),
)
NO_WAIT = dict(backoff_s=0.01)


def test_webhook_posts_the_transition_as_json(recorder_factory):
    server = recorder_factory()
    WebhookNotifier("ops", server.url, **NO_WAIT).send(TRANSITION)
    (request,) = server.requests
    assert request["headers"]["Content-Type"] == "application/json"
    body = request["body"]
    assert (body["transition"], body["severity"], body["group"], body["value"]) == ("fired", "critical", "billing", 5000.0)


def test_server_errors_are_retried_with_backoff(recorder_factory):
    server = recorder_factory(statuses=[500, 503])
    sleeps = []
    WebhookNotifier("ops", server.url, retries=3, backoff_s=0.5, sleep=sleeps.append).send(TRANSITION)
    assert len(server.requests) == 3 and sleeps == [0.5, 1.0]


def test_client_errors_are_not_retried(recorder_factory):
    server = recorder_factory(statuses=[404])
    with pytest.raises(NotifyFailed, match="HTTP 404"):
        WebhookNotifier("ops", server.url, retries=3, **NO_WAIT).send(TRANSITION)
    assert len(server.requests) == 1


def test_a_slow_endpoint_times_out_and_fails_after_the_retries(recorder_factory):
    server = recorder_factory(delay_s=1.0)
    with pytest.raises(NotifyFailed, match="after 2 attempts"):
        WebhookNotifier("ops", server.url, retries=1, timeout_s=0.2, **NO_WAIT).send(TRANSITION)
    assert len(server.requests) == 2


def test_unreachable_endpoint_error_does_not_show_the_url_token(recorder_factory):
    server = recorder_factory()
    url = server.url
    server.close()
    with pytest.raises(NotifyFailed) as failure:
        WebhookNotifier("ops", url, retries=0).send(TRANSITION)
    assert "s3cr3t-token" not in str(failure.value)


def test_slack_payload_is_an_incoming_webhook_message(recorder_factory):
    server = recorder_factory()
    WebhookNotifier("slack", server.url, payload=slack_payload, **NO_WAIT).send(TRANSITION)
    body = server.requests[0]["body"]
    assert "FIRING CRITICAL" in body["text"] and "billing" in body["text"]
    (attachment,) = body["attachments"]
    assert attachment["color"] and {f["title"] for f in attachment["fields"]} >= {"value", "threshold"}
