"""An OpenSearch node with its security plugin (`org.opensearch.plugin:opensearch-security` from Maven Central,
installed into the node's private copy of the integ-test-zip): HTTPS and transport TLS with the test CA,
internal users and roles from YAML, loaded into the security index at first start
(`plugins.security.allow_default_init_securityindex`)."""

from __future__ import annotations

import json
import os
import shutil
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from devstack import OpenSearchNode
from devstack.maven import opensearch_plugin_zip
from tests.security.common import USER, basic_auth_request, new_password, run_tool
from tests.security.pki import Certificates

OS_ADMIN = "lagwatch-os-admin"  # all_access: reads back what was indexed
READER = "lagwatch-reader"  # may read lagwatch's indices, write nothing: the 403 case
# The role docs/opensearch.md ("Permissions") gives lagwatch: GET /, its index templates, and create / write
# / list / delete on its own indices; tests/integration/test_opensearch_security.py proves it is enough.
WRITER_ROLE = {
    "cluster_permissions": ["cluster:monitor/main", "indices:admin/index_template/put", "indices:data/write/bulk"],
    "index_permissions": [{
        "index_patterns": ["lagwatch*"],
        "allowed_actions": ["indices:admin/create", "indices:data/write/bulk*", "indices:data/write/index",
                            "indices:admin/mapping/put", "indices:admin/get", "indices:admin/delete"],
    }],
}
READER_ROLE = {"cluster_permissions": ["cluster:monitor/main"],
               "index_permissions": [{"index_patterns": ["lagwatch*"], "allowed_actions": ["read"]}]}


def _yaml(kind: str, entries: dict) -> str:
    return json.dumps({"_meta": {"type": kind, "config_version": 2}, **entries}, indent=1) + "\n"  # JSON is YAML


@dataclass
class SecureOpenSearchNode(OpenSearchNode):
    # The security index is made from the YAML files after the node has started: at load 25 on 2 cores that
    # came 2 s after the plain node's 180 s.
    start_timeout = 360.0

    certs: Certificates | None = None
    admin_password: str = field(default_factory=lambda: new_password("osadmin"))
    user_password: str = field(default_factory=lambda: new_password("osuser"))
    reader_password: str = field(default_factory=lambda: new_password("osreader"))

    def __post_init__(self) -> None:
        tls = {f"plugins.security.ssl.{layer}.{key}": f"certs/{name}"
               for layer in ("transport", "http")
               for key, name in (("pemcert_filepath", "localhost.pem"), ("pemkey_filepath", "localhost.key"),
                                 ("pemtrustedcas_filepath", "ca.pem"))}
        self.settings = {
            **tls,
            "plugins.security.ssl.http.enabled": "true",
            "plugins.security.ssl.transport.enforce_hostname_verification": "false",
            "plugins.security.nodes_dn": "CN=localhost",  # the node's own certificate, on the transport
            "plugins.security.allow_default_init_securityindex": "true",
            "plugins.security.check_snapshot_restore_write_privileges": "true",
            **self.settings,
        }

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return self.url

    def configure_home(self, home: Path) -> None:
        assert self.certs is not None
        jdk = self.jdk(home)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OPENSEARCH_JAVA_HOME": str(jdk),
               "JAVA_OPTS": "-Xms32m -Xmx128m", "LANG": "C.UTF-8"}
        plugin = opensearch_plugin_zip("opensearch-security", f"{self.version}.0", self.progress)
        run_tool([str(home / "bin" / "opensearch-plugin"), "install", "--batch", plugin.as_uri()],
                 "opensearch-plugin install opensearch-security", env=env)
        certs = home / "config" / "certs"
        certs.mkdir(exist_ok=True)
        shutil.copy(self.certs.server_cert, certs / "localhost.pem")
        shutil.copy(self.certs.server_key, certs / "localhost.key")
        shutil.copy(self.certs.ca, certs / "ca.pem")
        hasher = home / "plugins" / "opensearch-security" / "tools" / "hash.sh"
        hasher.chmod(0o755)

        def hashed(password: str) -> str:
            out = run_tool(["bash", str(hasher), "-env", "LAGWATCH_HASH_ME"], "hash.sh",
                           env={**env, "LAGWATCH_HASH_ME": password}).stdout
            return out.strip().splitlines()[-1]

        security = home / "config" / "opensearch-security"
        (security / "internal_users.yml").write_text(_yaml("internalusers", {
            OS_ADMIN: {"hash": hashed(self.admin_password), "backend_roles": ["admin"]},
            USER: {"hash": hashed(self.user_password)},
            READER: {"hash": hashed(self.reader_password)},
        }))
        (security / "roles.yml").write_text(_yaml("roles", {"lagwatch_writer": WRITER_ROLE, "lagwatch_reader": READER_ROLE}))
        (security / "roles_mapping.yml").write_text(_yaml("rolesmapping", {
            "all_access": {"backend_roles": ["admin"]},
            "lagwatch_writer": {"users": [USER]},
            "lagwatch_reader": {"users": [READER]},
        }))

    def ssl_context(self) -> ssl.SSLContext:
        assert self.certs is not None
        return ssl.create_default_context(cafile=str(self.certs.ca))

    def request(self, method: str, path: str, body: dict | None = None, user: str = OS_ADMIN,
                password: str | None = None) -> dict:
        return basic_auth_request(f"{self.url}{path}", method, body, user, password or self.admin_password,
                                  self.ssl_context())

    def _healthy(self) -> bool:
        return self.request("GET", "/_cluster/health").get("status") in ("yellow", "green")

    def admin_client(self):
        from opensearchpy import OpenSearch

        assert self.certs is not None
        return OpenSearch(self.url, http_auth=(OS_ADMIN, self.admin_password), ca_certs=str(self.certs.ca),
                          timeout=30)
