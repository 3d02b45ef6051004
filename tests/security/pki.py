"""A fresh test CA (and one that signed nothing), a server certificate for 127.0.0.1/localhost and a client
certificate with an encrypted key, made with openssl."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devstack.common import require_tool
from tests.security.common import new_password, run_tool


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
        run_tool([openssl, *args], f"openssl {args[0]}")

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
    client_key_password = new_password("keypass")
    client_key = d / "lagwatch-client.encrypted.key"
    run("pkcs8", "-topk8", "-in", str(plain_client_key), "-out", str(client_key), "-v2", "aes-256-cbc",
        "-passout", f"pass:{client_key_password}")
    plain_client_key.unlink()
    keystore = d / "localhost.keystore.pem"
    keystore.write_text(server_key.read_text() + server_cert.read_text())
    return Certificates(d, ca, server_cert, server_key, keystore, client_cert, client_key, client_key_password, other_ca)
