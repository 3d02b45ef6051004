"""exporter/runtime/secrets.py: the strings registered for masking never reach a log line — a password inside
an Elasticsearch URL, and a webhook URL's token."""

import io

from exporter import logs
from exporter.config import parse
from exporter.runtime.secrets import register_secrets, register_webhook_url
from tests.unit.test_config import minimal


def logged(event: str, **context) -> str:
    stream = io.StringIO()
    logs.configure("info", "json", stream)
    logs.get().error(event, **context)
    return stream.getvalue()


def test_a_password_inside_an_elasticsearch_url_is_masked_in_logs():
    config = parse(minimal() | {"elasticsearch": {"hosts": ["https://writer:Url-Pa55word@es:9200"]}}, {})
    register_secrets(config)
    line = logged("sink_unavailable", error="cannot reach https://writer:Url-Pa55word@es:9200/_bulk")
    assert "Url-Pa55word" not in line and logs.MASK in line


def test_registered_webhook_url_is_masked_in_logs():
    register_webhook_url("https://hooks.slack.com/services/T1/B2/zzTOKENzz")
    line = logged("oops", detail="POST /services/T1/B2/zzTOKENzz failed")
    assert "zzTOKENzz" not in line and logs.MASK in line
