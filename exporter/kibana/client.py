"""`lagwatch setup`: install the index templates in Elasticsearch or OpenSearch (exporter/sinks/elasticsearch.py),
import the Kibana saved objects and create or update the Kibana alerting rule (with OpenSearch: say where the
OpenSearch Dashboards objects are). Idempotent: every step converges to the
same state when run again.

Kibana is spoken to over its HTTP API with the standard library (no Kibana client exists for Python):
- saved objects: `POST [/s/<space>]/api/saved_objects/_import?overwrite=true`, multipart field `file`;
- rule: `GET [/s/<space>]/api/alerting/rule/<id>`, then `POST` (create) or `PUT` (update) the same path.
Nothing here prints: `setup()` returns what it did, one line per step, for the CLI to print.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

from exporter import logs

from exporter.config import Config, KibanaConfig
from exporter.kibana import objects, rule as kibana_rule
from exporter.sinks.elasticsearch import install_templates

MIN_VERSION = (8, 11)
# Rule fields `PUT /api/alerting/rule/<id>` accepts; everything else (type, consumer, enabled) is fixed at
# creation, and `enabled` stays whatever the operator chose in Kibana.
_UPDATABLE = ("name", "tags", "schedule", "params")
# What Kibana's rule update accepts per action (its update schema; connector_type_id is response-only and
# refused in a PUT). Every one of them may have been set by an operator in Kibana: all are kept.
_ACTION_KEYS = ("group", "id", "params", "frequency", "uuid", "alerts_filter", "use_alert_data_for_template")
# Rule-level notification settings an operator may set in Kibana (not the condition, which setup owns).
_KEPT_RULE_KEYS = ("notify_when", "throttle", "alert_delay")


class KibanaError(Exception):
    """Kibana unreachable, refused the request, or answered something setup cannot accept."""


def multipart(field_name: str, filename: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    """A multipart/form-data body with one file field, and its Content-Type header."""
    boundary = f"lagwatch-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field_name}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def display_url(url: str) -> str:
    """The URL without user:password@, for messages."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


@dataclass
class Kibana:
    config: KibanaConfig
    log: Any = field(default_factory=lambda: logs.get())

    def __post_init__(self) -> None:
        if self.config.url is None:
            raise ValueError("kibana.url is not set")
        self.base = str(self.config.url).rstrip("/")
        space = self.config.space
        self.prefix = "" if space == "default" else f"/s/{space}"
        self.headers = {"kbn-xsrf": "true", "Accept": "application/json", "User-Agent": "lagwatch-setup"}
        if self.config.api_key is not None:
            self.headers["Authorization"] = f"ApiKey {self.config.api_key.get_secret_value()}"
        elif self.config.username is not None and self.config.password is not None:
            token = f"{self.config.username}:{self.config.password.get_secret_value()}".encode()
            self.headers["Authorization"] = f"Basic {base64.b64encode(token).decode()}"
        self.ssl_context = None
        if self.base.startswith("https:"):
            self.ssl_context = ssl.create_default_context(
                cafile=str(self.config.ca_certs) if self.config.ca_certs else None
            )
            if not self.config.verify_certs:
                self.ssl_context.check_hostname = False
                self.ssl_context.verify_mode = ssl.CERT_NONE

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None, space: bool = True
    ) -> tuple[int, Any]:
        """(status, parsed JSON body) for 2xx and 404; KibanaError for anything else."""
        url = self.base + (self.prefix if space else "") + path
        headers = dict(self.headers)
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.config.request_timeout_s, context=self.ssl_context) as resp:
                return resp.status, _json(resp.read())
        except urllib.error.HTTPError as exc:
            payload = _json(exc.read())
            if exc.code == 404:
                return 404, payload
            message = payload.get("message") if isinstance(payload, dict) else None
            hint = {401: " (check kibana.username/password or api_key)", 403: " (the user lacks a privilege)"}
            raise KibanaError(
                f"{method} {display_url(url)} answered {exc.code}: {message or exc.reason}{hint.get(exc.code, '')}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise KibanaError(f"cannot reach Kibana at {display_url(self.base)}: {reason}") from None

    def version(self) -> str:
        status, body = self.request("GET", "/api/status", space=False)
        number = (body.get("version") or {}).get("number") if isinstance(body, dict) else None
        if status != 200 or not number:
            raise KibanaError(f"{display_url(self.base)} does not look like Kibana (GET /api/status: {status})")
        major_minor = tuple(int(p) for p in number.split("-")[0].split(".")[:2])
        if major_minor < MIN_VERSION:
            raise KibanaError(
                f"Kibana {number} is too old: the saved objects need {MIN_VERSION[0]}.{MIN_VERSION[1]} or newer"
            )
        return number

    def import_saved_objects(self, ndjson: str, filename: str = "lagwatch-saved-objects.ndjson") -> dict:
        body, content_type = multipart("file", filename, ndjson.encode(), "application/ndjson")
        status, result = self.request("POST", "/api/saved_objects/_import?overwrite=true", body, content_type)
        if status == 404:
            raise KibanaError(f"Kibana answered 404 to the import: does the space {self.config.space!r} exist?")
        if not isinstance(result, dict) or not result.get("success"):
            errors = result.get("errors", []) if isinstance(result, dict) else []
            detail = "; ".join(
                f"{e.get('type')}/{e.get('id')}: {(e.get('error') or {}).get('type', 'error')}" for e in errors
            )
            raise KibanaError(f"saved-objects import failed: {detail or result!r}")
        return result

    def ensure_rule(self, rule_id: str, rule: dict[str, Any]) -> str:
        """Create the rule, or update it when it differs; returns created, updated or unchanged."""
        path = f"/api/alerting/rule/{urllib.parse.quote(rule_id)}"
        status, current = self.request("GET", path)
        if status == 404:
            self.request("POST", path, json.dumps(rule).encode(), "application/json")
            return "created"
        if current.get("rule_type_id") != rule["rule_type_id"]:
            raise KibanaError(
                f"rule {rule_id} exists with type {current.get('rule_type_id')}, not {rule['rule_type_id']}: "
                "delete it in Stack Management > Rules, then run setup again"
            )
        if _rule_matches(current, rule):
            return "unchanged"
        update = {key: rule[key] for key in _UPDATABLE}
        # Keep the connectors an operator attached in Kibana: setup owns the condition, not the routing.
        update["actions"] = [
            {k: a[k] for k in _ACTION_KEYS if k in a} for a in current.get("actions", [])
        ]
        update.update({k: current[k] for k in _KEPT_RULE_KEYS if current.get(k) is not None})
        self.request("PUT", path, json.dumps(update).encode(), "application/json")
        return "updated"


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {"message": raw[:200].decode(errors="replace")}


def _rule_matches(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Kibana adds defaults to stored params: compare only what lagwatch sets."""
    if current.get("name") != wanted["name"] or sorted(current.get("tags", [])) != sorted(wanted["tags"]):
        return False
    if current.get("schedule") != wanted["schedule"]:
        return False
    params = current.get("params", {})
    return all(params.get(key) == value for key, value in wanted["params"].items())


def _count_by_type(objects: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for obj in objects:
        counts[obj["type"]] = counts.get(obj["type"], 0) + 1
    names = {"index-pattern": "data views", "lens": "Lens panels", "dashboard": "dashboards", "search": "saved searches"}
    return ", ".join(f"{n} {names.get(t, t)}" for t, n in counts.items())


def setup(config: Config, sinks: list) -> list[str]:
    """Install what lagwatch needs; returns one human-readable line per step. `sinks` are ElasticsearchSinks
    (lag documents, alert documents): their index templates come first, then the Kibana objects and rule."""
    log = logs.get()
    done = install_templates(sinks)
    if config.opensearch is not None:  # Kibana cannot read OpenSearch (the config refuses kibana.url with it)
        prefix = config.store.index_prefix
        renamed = "" if prefix == "lagwatch" else f"; then set the index patterns' titles to {prefix}-lag* and {prefix}-alerts*"
        done.append("opensearch-dashboards: import kibana/opensearch-dashboards/lagwatch-saved-objects.ndjson in "
                    f"Dashboards Management > Saved objects > Import (docs/opensearch.md){renamed}")
        return done

    kc = config.kibana
    if kc.url is None:
        done.append("kibana: skipped (kibana.url is not set); import kibana/lagwatch-saved-objects.ndjson by hand")
        return done
    kibana = Kibana(kc)
    version = kibana.version()
    prefix = config.store.index_prefix
    saved = objects.saved_objects(prefix)
    result = kibana.import_saved_objects(objects.to_ndjson(saved))
    where = f"space {kc.space!r} of Kibana {version} at {display_url(kibana.base)}"
    done.append(
        f"kibana: imported {result.get('successCount', len(saved))} saved objects into {where}, "
        f"overwriting earlier copies ({_count_by_type(saved)})"
    )
    log.info("setup_saved_objects_imported", count=result.get("successCount"), space=kc.space)
    if kc.rule:
        rule = kibana_rule.rule(prefix, kc.rule_time_lag_s, kc.rule_interval)
        outcome = kibana.ensure_rule(kibana_rule.RULE_ID, rule)
        done.append(f"kibana: rule {kibana_rule.RULE_ID} {outcome} ({rule['name']}, every {kc.rule_interval})")
        log.info("setup_rule", rule=kibana_rule.RULE_ID, outcome=outcome)
    else:
        done.append("kibana: rule not created (kibana.rule: false)")
    return done
