"""An Elasticsearch node with security on: HTTPS with the test CA, a file-realm superuser and a writer with
the least privileges lagwatch needs."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

from devstack import ElasticsearchNode
from devstack.common import StackError, java_home, stderr_progress
from tests.security.common import ES_ADMIN, USER, basic_auth_request, new_password, run_tool
from tests.security.pki import Certificates

WRITER_ROLE = "lagwatch_writer"
# The role the docs gave before issue #30 (more than lagwatch uses: `manage` covers create_index,
# view_index_metadata and delete_index, and much more): the writer USER's, still working.
WRITER_ROLE_BODY = {
    "cluster": ["monitor", "manage_index_templates"],
    "indices": [{"names": ["lagwatch*"], "privileges": ["create_index", "write", "view_index_metadata", "delete_index", "manage"]}],
}
# The role cut to what lagwatch uses (docs/access.md; exporter/sinks/privileges.py), and one user per privilege
# it leaves out: tests/integration/test_authorizer_es.py.
CUT_CLUSTER = ("manage_index_templates", "monitor")
CUT_INDICES = ("auto_configure", "index", "view_index_metadata", "delete_index")
CUT_USER = "lagwatch-cut"


def cut_role(without: str | None = None, names: tuple[str, ...] = ("lagwatch*",)) -> dict:
    return {"cluster": [p for p in CUT_CLUSTER if p != without],
            "indices": [{"names": list(names), "privileges": [p for p in CUT_INDICES if p != without]}]}


def without_user(privilege: str) -> str:
    return f"lagwatch-no-{privilege.replace('_', '-')}"


ROLE_USERS = {CUT_USER: cut_role(), **{without_user(p): cut_role(p) for p in CUT_CLUSTER + CUT_INDICES}}



def role_of(user: str) -> str:
    return f"role_{user}"


@dataclass
class SecureElasticsearchNode(ElasticsearchNode):
    """xpack.security on: HTTPS with the test CA, a file-realm superuser and writer, and an API key."""

    certs: Certificates | None = None
    admin_password: str = field(default_factory=lambda: new_password("esadmin"))
    user_password: str = field(default_factory=lambda: new_password("esuser"))
    started_s: float | None = None
    # More file-realm users, each with a role of its own (user name -> role body), sharing user_password:
    # one run of elasticsearch-users (a JVM start) serves them all.
    more_users: dict[str, dict] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.settings = {
            "xpack.security.enabled": "true",
            "xpack.security.http.ssl.enabled": "true",
            "xpack.security.http.ssl.key": "certs/localhost.key",
            "xpack.security.http.ssl.certificate": "certs/localhost.pem",
            "xpack.security.http.ssl.certificate_authorities": "certs/ca.pem",
            # One node on loopback: there is no transport traffic to protect.
            "xpack.security.transport.ssl.enabled": "false",
            **self.settings,
        }

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def configure_home(self, home: Path) -> None:
        assert self.certs is not None
        config = home / "config"
        (config / "certs").mkdir(exist_ok=True)
        shutil.copy(self.certs.server_cert, config / "certs" / "localhost.pem")
        shutil.copy(self.certs.server_key, config / "certs" / "localhost.key")
        shutil.copy(self.certs.ca, config / "certs" / "ca.pem")
        roles = {WRITER_ROLE: WRITER_ROLE_BODY, **{role_of(user): body for user, body in self.more_users.items()}}
        (config / "roles.yml").write_text("".join(f"{name}: {json.dumps(body)}\n" for name, body in roles.items()))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ES_JAVA_HOME": str(java_home()),
               "ES_JAVA_OPTS": "-Xms64m -Xmx128m", "LANG": "C.UTF-8"}
        users = str(home / "bin" / "elasticsearch-users")
        for name, password, role in ((ES_ADMIN, self.admin_password, "superuser"), (USER, self.user_password, WRITER_ROLE)):
            # The password goes in on stdin (the tool prompts twice), not on a command line others can read.
            run_tool([users, "useradd", name, "-r", role], f"elasticsearch-users useradd {name}", env=env,
                     input=f"{password}\n{password}\n")
        if self.more_users:
            # The file realm's own files: the writer's password hash again for each, a role mapping each.
            hashed = dict(line.split(":", 1) for line in (config / "users").read_text().splitlines() if ":" in line)
            with open(config / "users", "a") as found:
                found.writelines(f"{user}:{hashed[USER]}\n" for user in self.more_users)
            with open(config / "users_roles", "a") as mapping:
                mapping.writelines(f"{role_of(user)}:{user}\n" for user in self.more_users)

    def ssl_context(self) -> ssl.SSLContext:
        assert self.certs is not None
        return ssl.create_default_context(cafile=str(self.certs.ca))

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        return basic_auth_request(f"{self.url}{path}", method, body, ES_ADMIN, self.admin_password,
                                  self.ssl_context())

    def _healthy(self) -> bool:
        return self._request("GET", "/_cluster/health").get("status") in ("yellow", "green")

    def start(self, timeout: float = 300) -> SecureElasticsearchNode:
        started = time.monotonic()
        super().start(timeout)
        self.started_s = time.monotonic() - started
        stderr_progress(f"secure Elasticsearch ready in {self.started_s:.1f}s on {self.url}")
        return self

    def api_keys_supported(self) -> str | None:
        """None when the node can create API keys, else why not (the integ-test-zip cannot: API keys live
        in the .security index, whose mapping needs the analysis-common module that distribution lacks)."""
        try:
            self._request("POST", "/_security/api_key", {"name": "lagwatch-probe"})
            return None
        except StackError as exc:
            return str(exc)

    def admin_client(self):
        from elasticsearch import Elasticsearch

        assert self.certs is not None
        return Elasticsearch(self.url, basic_auth=(ES_ADMIN, self.admin_password), ca_certs=str(self.certs.ca),
                             request_timeout=30)
