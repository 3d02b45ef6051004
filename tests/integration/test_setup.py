"""`lagwatch setup`: index templates in the real Elasticsearch node, and the Kibana half against a local HTTP
server standing in for Kibana's endpoints (there is no Kibana on this machine). The stand-in records every
request, parses the multipart body like Kibana does, and validates rule updates as strictly as Kibana."""

from __future__ import annotations

import copy
import json
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from exporter import cli

from exporter.kibana import objects as kibana_objects
from exporter.kibana.rule import RULE_ID
from tests import harness
from tests.harness import daemon_config, unique

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-kibana-pw"
RULE_PATH = "/api/alerting/rule/" + RULE_ID
# What PUT /api/alerting/rule/<id> accepts (Kibana rejects other keys with 400), and per action
# (x-pack/plugins/alerting common/routes/rule/apis/update schema; connector_type_id is response-only).
UPDATE_KEYS = {"name", "tags", "schedule", "params", "actions", "throttle", "notify_when", "alert_delay"}
UPDATE_ACTION_KEYS = {"group", "id", "params", "frequency", "uuid", "alerts_filter", "use_alert_data_for_template"}


class FakeKibana:
    """Kibana's status, saved-objects import and alerting rule endpoints, in a thread."""

    def __init__(self, version: str = "8.11.3", status: int | None = None):
        self.version = version
        self.forced_status = status  # answer every request with this status (e.g. 401)
        self.requests: list[dict] = []
        self.imports: list[dict] = []
        self.rules: dict[str, dict] = {}  # path -> stored rule
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append(
                    {"method": self.command, "path": self.path, "headers": self.headers, "body": body}
                )
                if fake.forced_status:
                    return self._reply(fake.forced_status, {"message": "Unauthorized"})
                if self.headers.get("kbn-xsrf") != "true" and self.command != "GET":
                    return self._reply(400, {"message": 'Request must contain a kbn-xsrf header.'})
                path, _, query = self.path.partition("?")
                space = "default"
                if path.startswith("/s/"):
                    _, _, space, path = path.split("/", 3)
                    path = "/" + path
                if self.command == "GET" and path == "/api/status":
                    return self._reply(200, {"version": {"number": fake.version}})
                if self.command == "POST" and path == "/api/saved_objects/_import":
                    message = BytesParser(policy=HTTP).parsebytes(
                        f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
                    )
                    parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
                    ndjson = parts["file"].get_payload(decode=True).decode()
                    objects = [json.loads(line) for line in ndjson.splitlines() if line]
                    fake.imports.append({"space": space, "query": query, "ndjson": ndjson,
                                         "filename": parts["file"].get_filename()})
                    return self._reply(200, {"success": True, "successCount": len(objects),
                                             "successResults": [{"type": o["type"], "id": o["id"]} for o in objects]})
                if path == RULE_PATH:
                    key = f"{space}:{path}"
                    if self.command == "GET":
                        if key not in fake.rules:
                            return self._reply(404, {"message": "Not Found"})
                        return self._reply(200, fake.rules[key])
                    sent = json.loads(body)
                    if self.command == "POST":
                        if key in fake.rules:
                            return self._reply(409, {"message": "already exists"})
                        stored = copy.deepcopy(sent)
                        stored["params"]["aggField"] = None  # Kibana fills defaults into stored params
                        stored["id"] = RULE_ID
                        fake.rules[key] = stored
                        return self._reply(200, stored)
                    if self.command == "PUT":
                        if key not in fake.rules or set(sent) - UPDATE_KEYS:
                            return self._reply(400, {"message": f"bad update: {sorted(set(sent) - UPDATE_KEYS)}"})
                        extra = {k for a in sent.get("actions", []) for k in a} - UPDATE_ACTION_KEYS
                        if extra:
                            return self._reply(400, {"message": f"bad action keys: {sorted(extra)}"})
                        fake.rules[key].update(sent)
                        return self._reply(200, fake.rules[key])
                return self._reply(404, {"message": f"no route {self.command} {path}"})

            do_GET = do_POST = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeKibana:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def prefix(es):
    name = unique("setup")
    yield name
    for kind in ("lag", "alerts"):
        es.options(ignore_status=404).indices.delete_index_template(name=f"{name}-{kind}")


def write_config(tmp_path, es_url: str, prefix: str, kibana: dict | None) -> str:
    config = daemon_config("local", "127.0.0.1:9", es_url, prefix, elasticsearch={"storage": "daily_indices"},
                           log={"format": "console", "level": "warning"})
    if kibana is not None:
        config["kibana"] = kibana
    return harness.write_config(tmp_path / "lagwatch.yaml", config)


def run_setup(capsys, config_path: str) -> tuple[int, str, str]:
    code = cli.main(["setup", "-c", config_path])
    out, err = capsys.readouterr()
    return code, out, err


def test_setup_imports_one_multipart_ndjson_into_the_space_and_creates_the_rule(tmp_path, capsys, es, es_url, prefix):
    with FakeKibana() as kibana:
        config = write_config(tmp_path, es_url, prefix, {"url": kibana.url, "space": "ops",
                                                          "username": "elastic", "password": PASSWORD})
        code, out, err = run_setup(capsys, config)

    assert code == 0, err
    (imported,) = kibana.imports
    assert imported["space"] == "ops" and imported["query"] == "overwrite=true"
    assert imported["filename"].endswith(".ndjson")
    # The file is the committed NDJSON, with only the data views renamed for this index prefix.
    assert imported["ndjson"] == kibana_objects.to_ndjson(kibana_objects.saved_objects(prefix))
    committed = (ROOT / "kibana" / "lagwatch-saved-objects.ndjson").read_text().splitlines()
    sent = imported["ndjson"].splitlines()
    assert [line for line in sent if '"index-pattern"' not in line] == [
        line for line in committed if '"index-pattern"' not in line
    ]
    import_request = next(r for r in kibana.requests if r["method"] == "POST" and "_import" in r["path"])
    assert import_request["path"] == "/s/ops/api/saved_objects/_import?overwrite=true"
    assert import_request["headers"]["kbn-xsrf"] == "true"
    assert import_request["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert import_request["headers"]["Authorization"].startswith("Basic ")
    created = kibana.rules[f"ops:{RULE_PATH}"]
    assert created["rule_type_id"] == ".es-query" and created["params"]["index"] == [f"{prefix}-lag*"]
    assert [r["method"] for r in kibana.requests if RULE_PATH in r["path"]] == ["GET", "POST"]

    assert f"imported {len(kibana_objects.saved_objects(prefix))} saved objects into space 'ops'" in out
    assert len(kibana_objects.saved_objects(prefix)) == 24  # 2 data views, 18 Lens panels, a search, 3 dashboards
    assert f"rule {RULE_ID} created" in out
    assert f"index template {prefix}-lag installed" in out and f"index template {prefix}-alerts installed" in out
    assert PASSWORD not in out + err
    templates = es.indices.get_index_template(name=f"{prefix}-*")["index_templates"]
    assert sorted(t["name"] for t in templates) == [f"{prefix}-alerts", f"{prefix}-lag"]


def test_setup_twice_converges_and_changes_nothing_the_second_time(tmp_path, capsys, es, es_url, prefix):
    with FakeKibana() as kibana:
        config = write_config(tmp_path, es_url, prefix, {"url": kibana.url})
        first = run_setup(capsys, config)
        rules_after_first = copy.deepcopy(kibana.rules)
        second = run_setup(capsys, config)

    assert first[0] == second[0] == 0, second[2]
    assert "created" in first[1] and f"rule {RULE_ID} unchanged" in second[1]
    assert kibana.rules == rules_after_first  # no PUT: the stored rule already matched
    assert [i["ndjson"] for i in kibana.imports][0] == kibana.imports[1]["ndjson"]  # same ids: overwritten
    assert all(r["path"].startswith("/api/") for r in kibana.requests)  # default space: no /s/ prefix
    templates = es.indices.get_index_template(name=f"{prefix}-lag")["index_templates"]
    assert len(templates) == 1 and templates[0]["index_template"]["_meta"]["managed_by"] == "lagwatch"


def test_setup_restores_a_changed_rule_and_keeps_the_connectors_an_operator_added(tmp_path, capsys, es_url, prefix):
    with FakeKibana() as kibana:
        config = write_config(tmp_path, es_url, prefix, {"url": kibana.url, "rule_time_lag_s": 120})
        run_setup(capsys, config)
        stored = kibana.rules[f"default:{RULE_PATH}"]
        stored["params"]["timeWindowSize"] = 60
        action = {"group": "query matched", "id": "slack-connector", "params": {"message": "lag!"},
                  "connector_type_id": ".slack", "uuid": "a-1"}
        stored["actions"] = [action]
        code, out, err = run_setup(capsys, config)

    assert code == 0, err
    assert f"rule {RULE_ID} updated" in out
    put = [r for r in kibana.requests if r["method"] == "PUT"]
    assert len(put) == 1
    sent = json.loads(put[0]["body"])
    assert sent["params"]["timeWindowSize"] == 5 and '"gte": 120' in sent["params"]["esQuery"]
    assert sent["actions"] == [{k: v for k, v in action.items() if k != "connector_type_id"}]


def test_setup_keeps_every_setting_an_operator_gave_the_connectors_and_the_rules_alert_delay(
    tmp_path, capsys, es_url, prefix
):
    with FakeKibana() as kibana:
        config = write_config(tmp_path, es_url, prefix, {"url": kibana.url, "rule_time_lag_s": 120})
        run_setup(capsys, config)
        stored = kibana.rules[f"default:{RULE_PATH}"]
        stored["params"]["threshold"] = [1]  # drifted: setup must update the rule
        actions = [
            {"group": "query matched", "id": "slack-connector", "params": {"message": "{{alert.id}} lags"},
             "connector_type_id": ".slack", "uuid": "a-1", "use_alert_data_for_template": True,
             "frequency": {"summary": False, "notify_when": "onActionGroupChange", "throttle": None},
             "alerts_filter": {"query": {"kql": "kibana.alert.severity: critical", "filters": []}}},
            {"group": "recovered", "id": "pager", "params": {}, "connector_type_id": ".pagerduty", "uuid": "a-2",
             "use_alert_data_for_template": False},
        ]
        stored["actions"] = copy.deepcopy(actions)
        stored["alert_delay"] = {"active": 3}
        code, out, err = run_setup(capsys, config)
        assert code == 0, err
        assert f"rule {RULE_ID} updated" in out
        sent = json.loads([r for r in kibana.requests if r["method"] == "PUT"][-1]["body"])
        assert sent["actions"] == [{k: v for k, v in a.items() if k != "connector_type_id"} for a in actions]
        assert sent["alert_delay"] == {"active": 3}
        assert sent["params"]["threshold"] != [1]  # the condition is setup's


def test_setup_without_kibana_url_installs_the_templates_and_says_kibana_was_skipped(tmp_path, capsys, es, es_url, prefix):
    code, out, err = run_setup(capsys, write_config(tmp_path, es_url, prefix, None))
    assert code == 0, err
    assert "kibana: skipped (kibana.url is not set)" in out
    assert es.indices.exists_index_template(name=f"{prefix}-lag")


def test_setup_reports_refused_credentials_without_printing_them(tmp_path, capsys, es_url, prefix):
    with FakeKibana(status=401) as kibana:
        config = write_config(tmp_path, es_url, prefix, {"url": kibana.url, "username": "elastic", "password": PASSWORD})
        code, out, err = run_setup(capsys, config)
    assert code == 1
    assert "answered 401" in err and "kibana.username/password" in err
    assert PASSWORD not in out + err


def test_setup_refuses_a_kibana_older_than_the_saved_objects(tmp_path, capsys, es_url, prefix):
    with FakeKibana(version="8.10.4") as kibana:
        code, _, err = run_setup(capsys, write_config(tmp_path, es_url, prefix, {"url": kibana.url}))
    assert code == 1 and "Kibana 8.10.4 is too old" in err
    assert not kibana.imports


def test_setup_says_when_kibana_cannot_be_reached(tmp_path, capsys, es_url, prefix):
    with FakeKibana() as kibana:
        url = kibana.url  # closed when the block ends: nothing listens there afterwards
    code, _, err = run_setup(capsys, write_config(tmp_path, es_url, prefix, {"url": url}))
    assert code == 1 and "cannot reach Kibana at" in err
