"""With JSON logging, every stderr line is one JSON object: lagwatch's own events and those of kafka-python,
elastic_transport, urllib3 and Python's warnings, tracebacks inside a field. Run as an operator would:
`lagwatch once --index` as a subprocess against a closed Kafka port and a closed Elasticsearch port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(args: list[str], level: str, tmp_path, extra_env=None, code: str | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAGWATCH_")}
    env.update({
        "LAGWATCH_STATE_DIR": str(tmp_path / "state"),
        "LAGWATCH_CLUSTERS__0__NAME": "nowhere",
        "LAGWATCH_CLUSTERS__0__BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}",
        "LAGWATCH_CLUSTERS__0__REQUEST_TIMEOUT_S": "2",
        "LAGWATCH_ELASTICSEARCH__HOSTS": f"http://127.0.0.1:{closed_port()}",
        "LAGWATCH_ELASTICSEARCH__REQUEST_TIMEOUT_S": "1",
        "LAGWATCH_LOG__FORMAT": "json",
        "LAGWATCH_LOG__LEVEL": level,
        **(extra_env or {}),
    })
    argv = [sys.executable, "-c", code] if code else [sys.executable, "-m", "exporter.cli", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)


def json_lines(stderr: str) -> list[dict]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            pytest.fail(f"not a JSON line: {line[:200]!r}\n--- stderr ---\n{stderr[:3000]}")
        assert isinstance(event, dict) and "event" in event and "level" in event, line
        events.append(event)
    return events


@pytest.mark.parametrize("level", ["debug", "info"])
def test_once_against_closed_ports_logs_only_json_lines(tmp_path, level):
    result = run(["once", "--index"], level, tmp_path)
    assert result.returncode == 1  # nothing reachable: a runtime failure, said in JSON
    events = json_lines(result.stderr)
    loggers = {e.get("logger", "") for e in events}
    assert any(name.startswith("elastic_transport") for name in loggers), loggers  # the library did speak
    if level == "debug":
        assert any(name.startswith("kafka") for name in loggers), loggers
    assert any(e["event"] == "scrape_failed" for e in events)


def test_library_tracebacks_and_warnings_stay_inside_one_json_line(tmp_path):
    code = (
        "import logging, warnings, threading\n"
        "from exporter import logs\n"
        "logs.configure('info', 'json')\n"
        "logs.register_secret('Pa55-in-a-url')\n"
        "logging.getLogger('elastic_transport.node_pool').warning('Node http://u:Pa55-in-a-url@es:9200 failed')\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    logging.getLogger('urllib3.connectionpool').warning('Retrying\\nafter %s', 'reset', exc_info=True)\n"
        "    logs.get().exception('lagwatch_failed')\n"
        "warnings.warn('Unverified HTTPS request\\nis being made')\n"
        "t = threading.Thread(target=lambda: {}['missing'])\n"
        "t.start(); t.join()\n"
    )
    result = run([], "info", tmp_path, code=code)
    assert result.returncode == 0, result.stderr
    events = json_lines(result.stderr)
    by_event = {e["event"].split("\n")[0]: e for e in events}
    retry = by_event["Retrying"]
    assert retry["logger"] == "urllib3.connectionpool" and "ZeroDivisionError" in retry["exception"]
    assert "Traceback" in by_event["lagwatch_failed"]["exception"]
    assert any("Unverified HTTPS request" in e["event"] for e in events)
    assert "Pa55-in-a-url" not in result.stderr and any("u:**********@es" in e["event"] for e in events)
    crashed = [e for e in events if e["event"] == "thread_crashed"]
    assert crashed and "KeyError" in crashed[0]["exception"]
