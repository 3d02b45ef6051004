"""A Kafka broker and an Elasticsearch node with authentication and TLS on, for tests/integration/test_security.py.

Everything is made fresh per test session: a CA and certificates (openssl), random passwords, SCRAM
credentials (Kafka's admin API), file-realm users and a role (Elasticsearch's own `elasticsearch-users` tool
and roles.yml). The integ-test-zip cannot create API keys (no analysis-common for the .security index), so
ApiKeyGateway puts nginx in front of the node to check one. Nothing secret is fixed in the repository.

Kafka listeners (one broker, all on 127.0.0.1):
  PLAINTEXT       no auth: the harness itself (readiness check, producing, committing)
  SASL_PLAINTEXT  PLAIN and SCRAM-SHA-512
  SASL_SSL        PLAIN and SCRAM-SHA-512 over TLS
  SSL             TLS, server certificate only
  MTLS            TLS with a client certificate required (security protocol SSL)
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devstack import ElasticsearchNode, KafkaBroker
from devstack.common import (
    StackError,
    free_port,
    java_home,
    log_tail,
    require_tool,
    stderr_progress,
    stop_process,
    wait_until,
)

USER = "lagwatch"  # the identity lagwatch uses on both services
ES_ADMIN = "lagwatch-admin"  # superuser: sets up the API key, reads back what was indexed
WRITER_ROLE = "lagwatch_writer"
# What lagwatch needs on Elasticsearch: install its index template, create/write/prune its own indices,
# and read node info (data-stream detection). The README documents the same role.
WRITER_ROLE_BODY = {
    "cluster": ["monitor", "manage_index_templates"],
    "indices": [{"names": ["lagwatch*"], "privileges": ["create_index", "write", "view_index_metadata", "delete_index", "manage"]}],
}


def _password(kind: str) -> str:
    # Distinct, recognisable and random: the leak test greps every captured byte for them.
    return f"{kind}-{secrets.token_urlsafe(18)}"


def _run(argv: list[str], what: str, **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120, **kwargs)
    if result.returncode != 0:
        raise StackError(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


# --- certificates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    directory: Path
    ca: Path  # what clients and the servers trust
    server_cert: Path  # CN=localhost, SAN IP:127.0.0.1 and DNS:localhost
    server_key: Path  # PKCS#8, unencrypted (Kafka PEM keystores and Elasticsearch read it as is)
    server_keystore: Path  # key + certificate in one PEM file: Kafka's ssl.keystore.type=PEM
    client_cert: Path  # for mutual TLS
    client_key: Path  # encrypted with client_key_password (exercises lagwatch's ssl_password)
    client_key_password: str
    other_ca: Path  # a CA that signed nothing here: trusting it must fail


def make_certificates(directory: Path) -> Certificates:
    openssl = require_tool("openssl", "install the Debian package openssl (scripts/bootstrap does as root)")
    d = directory
    d.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        _run([openssl, *args], f"openssl {args[0]}")

    def new_key(path: Path) -> None:
        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path))

    def new_ca(name: str) -> tuple[Path, Path]:
        key, cert = d / f"{name}.key", d / f"{name}.pem"
        new_key(key)
        run("req", "-x509", "-new", "-key", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return key, cert

    def issue(name: str, ca_key: Path, ca_cert: Path, extensions: str) -> tuple[Path, Path]:
        key, csr, cert, ext = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem", d / f"{name}.ext"
        new_key(key)
        run("req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN={name}")
        ext.write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n" + extensions
        )
        run("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-CAcreateserial",
            "-out", str(cert), "-days", "2", "-sha256", "-extfile", str(ext))
        return key, cert

    ca_key, ca = new_ca("lagwatch-test-ca")
    _, other_ca = new_ca("lagwatch-other-ca")
    server_key, server_cert = issue(
        "localhost", ca_key, ca, "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    plain_client_key, client_cert = issue("lagwatch-client", ca_key, ca, "extendedKeyUsage=clientAuth\n")
    client_key_password = _password("keypass")
    client_key = d / "lagwatch-client.encrypted.key"
    run("pkcs8", "-topk8", "-in", str(plain_client_key), "-out", str(client_key), "-v2", "aes-256-cbc",
        "-passout", f"pass:{client_key_password}")
    plain_client_key.unlink()
    keystore = d / "localhost.keystore.pem"
    keystore.write_text(server_key.read_text() + server_cert.read_text())
    return Certificates(d, ca, server_cert, server_key, keystore, client_cert, client_key, client_key_password, other_ca)


# --- Kafka --------------------------------------------------------------------------------------


@dataclass
class SecureKafka:
    certs: Certificates
    plain_password: str = field(default_factory=lambda: _password("plain"))
    scram_password: str = field(default_factory=lambda: _password("scram"))
    ports: dict[str, int] = field(default_factory=dict)
    broker: KafkaBroker | None = None
    started_s: float | None = None

    LISTENERS = {"SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL", "SSL": "SSL", "MTLS": "SSL"}

    def _properties(self, port: int, controller_port: int) -> dict[str, str]:
        listeners = {"PLAINTEXT": port, **self.ports}
        advertised = ",".join(f"{name}://127.0.0.1:{p}" for name, p in listeners.items())
        plain = (
            'org.apache.kafka.common.security.plain.PlainLoginModule required '
            f'user_{USER}="{self.plain_password}";'
        )
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        props = {
            "listeners": f"{advertised},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": advertised,
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
            + ",".join(f"{name}:{proto}" for name, proto in self.LISTENERS.items()),
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.certs.server_keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.certs.ca),
            "listener.name.mtls.ssl.client.auth": "required",
        }
        for listener in ("sasl_plaintext", "sasl_ssl"):
            props[f"listener.name.{listener}.plain.sasl.jaas.config"] = plain
            props[f"listener.name.{listener}.scram-sha-512.sasl.jaas.config"] = scram
        return props

    @property
    def bootstrap(self) -> str:
        """The PLAINTEXT listener: for the harness to produce and commit, never for lagwatch under test."""
        assert self.broker is not None
        return self.broker.bootstrap

    def address(self, listener: str) -> str:
        return f"127.0.0.1:{self.ports[listener]}"

    def start(self) -> SecureKafka:
        started = time.monotonic()
        self.ports = {name: free_port() for name in self.LISTENERS}
        port, controller_port = free_port(), free_port()
        self.broker = KafkaBroker(
            port=port, controller_port=controller_port, extra_properties=self._properties(port, controller_port)
        )
        self.broker.start()
        stderr_progress(f"secure Kafka broker up after {time.monotonic() - started:.1f}s")
        self._add_scram_user()
        self.started_s = time.monotonic() - started
        stderr_progress(f"secure Kafka ready in {self.started_s:.1f}s: {self.ports}")
        return self

    def _add_scram_user(self) -> None:
        # KRaft keeps SCRAM credentials in the metadata log; the admin API writes them there.
        from kafka import KafkaAdminClient
        from kafka.admin import UserScramCredentialUpsertion

        from tests.harness import wait_for

        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="lagwatch-test-setup")
        try:
            errors = admin.alter_user_scram_credentials(
                [UserScramCredentialUpsertion(USER, "SCRAM-SHA-512", self.scram_password)]
            )
            if any(errors.values()):
                raise StackError(f"could not add the SCRAM user: {errors}")
        finally:
            admin.close()

        def scram_login_works() -> bool:
            try:
                client = KafkaAdminClient(
                    bootstrap_servers=self.address("SASL_PLAINTEXT"), client_id="lagwatch-test-setup",
                    security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                    sasl_plain_username=USER, sasl_plain_password=self.scram_password, request_timeout_ms=5000,
                )
            except Exception:  # noqa: BLE001 - credentials not applied by the broker yet
                return False
            client.close()
            return True

        wait_for(scram_login_works, timeout=30, interval=0.3, what="SCRAM credentials to take effect")

    def log_tail(self, lines: int = 60) -> str:
        return self.broker.log_tail(lines) if self.broker and self.broker.workdir else "(secure Kafka not started)"

    def stop(self) -> None:
        if self.broker is not None:
            self.broker.stop()


# --- Elasticsearch ------------------------------------------------------------------------------


@dataclass
class SecureElasticsearchNode(ElasticsearchNode):
    """xpack.security on: HTTPS with the test CA, a file-realm superuser and writer, and an API key."""

    certs: Certificates | None = None
    admin_password: str = field(default_factory=lambda: _password("esadmin"))
    user_password: str = field(default_factory=lambda: _password("esuser"))
    started_s: float | None = None

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
        (config / "roles.yml").write_text(f"{WRITER_ROLE}: {json.dumps(WRITER_ROLE_BODY)}\n")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ES_JAVA_HOME": str(java_home()),
               "ES_JAVA_OPTS": "-Xms64m -Xmx128m", "LANG": "C.UTF-8"}
        users = str(home / "bin" / "elasticsearch-users")
        for name, password, role in ((ES_ADMIN, self.admin_password, "superuser"), (USER, self.user_password, WRITER_ROLE)):
            # The password goes in on stdin (the tool prompts twice), not on a command line others can read.
            _run([users, "useradd", name, "-r", role], f"elasticsearch-users useradd {name}", env=env,
                 input=f"{password}\n{password}\n")

    def ssl_context(self) -> ssl.SSLContext:
        assert self.certs is not None
        return ssl.create_default_context(cafile=str(self.certs.ca))

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        token = base64.b64encode(f"{ES_ADMIN}:{self.admin_password}".encode()).decode()
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.ssl_context()) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raise StackError(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')[:2000]}") from None

    def _healthy(self) -> bool:
        return self._request("GET", "/_cluster/health").get("status") in ("yellow", "green")

    def start(self, timeout: float = 180) -> SecureElasticsearchNode:
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


# --- nginx in front of Elasticsearch (what the integ-test-zip cannot do itself) ---------------


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
            f"gw{secrets.token_hex(8)}:{_password('apikey')}".encode()
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


# --- both ---------------------------------------------------------------------------------------


@dataclass
class SecureStack:
    certs: Certificates
    kafka: SecureKafka
    elasticsearch: SecureElasticsearchNode

    @classmethod
    def create(cls) -> SecureStack:
        certs = make_certificates(Path(tempfile.mkdtemp(prefix="lagwatch-certs-")))
        return cls(certs, SecureKafka(certs), SecureElasticsearchNode(certs=certs, port=free_port()))

    def secrets(self) -> list[str]:
        """Every secret of the session, for the leak test."""
        found = [self.kafka.plain_password, self.kafka.scram_password, self.certs.client_key_password,
                 self.elasticsearch.admin_password, self.elasticsearch.user_password]
        return found

    def stop(self) -> None:
        for service in (self.kafka, self.elasticsearch):
            try:
                service.stop()
            except Exception:  # noqa: BLE001 - stop the other one anyway
                pass
        if not os.environ.get("LAGWATCH_KEEP_DATA"):
            shutil.rmtree(self.certs.directory, ignore_errors=True)
