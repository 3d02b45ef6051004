"""nginx in front of the secure Elasticsearch node, checking one API key (what the integ-test-zip cannot do
itself)."""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import ssl
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devstack.common import StackError, free_port, log_tail, stop_process, wait_until
from tests.security.common import USER, new_password
from tests.security.pki import Certificates
from tests.security.secure_es import SecureElasticsearchNode


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None  # not on a user's PATH


_NGINX_CONF = """daemon off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    client_max_body_size 100m;
    client_body_buffer_size 16m;
    map_hash_bucket_size 256;  # the key is one long string
    map $http_authorization $lagwatch_key_ok {{
        "ApiKey {api_key}" 1;
        default 0;
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        default_type application/json;
        location / {{
            if ($lagwatch_key_ok = 0) {{
                add_header X-Elastic-Product Elasticsearch always;
                add_header WWW-Authenticate ApiKey always;
                return 401 '{{"error":{{"type":"security_exception","reason":"unable to authenticate with the provided API key"}},"status":401}}';
            }}
            proxy_pass https://127.0.0.1:{es_port};
            proxy_ssl_trusted_certificate {ca};
            proxy_ssl_verify on;
            proxy_ssl_name localhost;
            proxy_set_header Authorization "Basic {upstream_auth}";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"""


@dataclass
class ApiKeyGateway:
    """nginx (Debian package) terminating TLS with the test CA's certificate and accepting one API key
    (`Authorization: ApiKey <base64 id:key>`, what lagwatch sends), then forwarding to the secure node as
    its least-privileged writer user. The integ-test-zip cannot create API keys itself (see
    SecureElasticsearchNode.api_keys_supported), so this proves lagwatch's side of API-key auth over TLS
    against a real HTTPS server that checks the header."""

    certs: Certificates
    upstream: SecureElasticsearchNode
    api_key: str = field(
        default_factory=lambda: base64.b64encode(
            f"gw{secrets.token_hex(8)}:{new_password('apikey')}".encode()
        ).decode()
    )
    port: int = 0
    workdir: Path | None = None
    _process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> ApiKeyGateway:
        nginx = nginx_binary()
        if nginx is None:
            raise StackError("nginx not found (Debian package nginx; scripts/bootstrap installs it as root)")
        self.workdir = Path(tempfile.mkdtemp(prefix="lagwatch-nginx-"))
        (self.workdir / "tmp").mkdir()
        os.chmod(self.workdir / "tmp", 0o777)  # workers run as nobody when we are root
        self.port = self.port or free_port()
        upstream_auth = base64.b64encode(f"{USER}:{self.upstream.user_password}".encode()).decode()
        conf = self.workdir / "nginx.conf"
        conf.write_text(_NGINX_CONF.format(
            d=self.workdir, api_key=self.api_key, port=self.port, cert=self.certs.server_cert,
            key=self.certs.server_key, ca=self.certs.ca, es_port=self.upstream.port, upstream_auth=upstream_auth,
        ))
        os.chmod(conf, 0o600)
        log = self.workdir / "error.log"
        log.touch()
        self._process = subprocess.Popen(
            [nginx, "-p", str(self.workdir), "-c", str(conf), "-e", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        context = ssl.create_default_context(cafile=str(self.certs.ca))

        def answers() -> bool:
            try:
                urllib.request.urlopen(f"{self.url}/", timeout=2, context=context)
            except urllib.error.HTTPError as exc:
                return exc.code == 401
            return False

        try:
            wait_until(answers, timeout=20, interval=0.1, what=f"nginx on {self.url}", process=self._process, log=log)
        except BaseException:
            self.stop()
            raise
        return self

    def log_tail(self, lines: int = 60) -> str:
        return log_tail(self.workdir / "error.log", lines) if self.workdir else "(nginx not started)"

    def stop(self) -> None:
        stop_process(self._process)
        self._process = None
        if self.workdir and not os.environ.get("LAGWATCH_KEEP_DATA"):
            shutil.rmtree(self.workdir, ignore_errors=True)
