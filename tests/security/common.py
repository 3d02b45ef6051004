"""What the secure services share: the identities lagwatch and the harness use, random passwords, and running
a setup tool (openssl, elasticsearch-users) with its output in the error, the admin's HTTPS requests."""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from devstack.common import StackError

USER = "lagwatch"  # the identity lagwatch uses on both services
ES_ADMIN = "lagwatch-admin"  # superuser: sets up the API key, reads back what was indexed


def new_password(kind: str) -> str:
    # Distinct, recognisable and random: the leak test greps every captured byte for them.
    return f"{kind}-{secrets.token_urlsafe(18)}"


def run_tool(argv: list[str], what: str, **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120, **kwargs)
    if result.returncode != 0:
        raise StackError(f"{what} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def basic_auth_request(url: str, method: str, body: dict | None, user: str, password: str,
                       context: ssl.SSLContext) -> dict:
    """One JSON request as `user` over HTTPS (the harness's own setup and checks, not lagwatch's client);
    an error answer is a StackError with its status and body."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(
        url, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        path = urllib.parse.urlsplit(url).path
        raise StackError(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')[:2000]}") from None


def add_scram_users(bootstrap: str, sasl_address: str, users: dict[str, str]) -> None:
    """SCRAM-SHA-512 credentials for `users` (name -> password), written through the admin API on the
    PLAINTEXT listener `bootstrap` (KRaft keeps them in the metadata log); returns once the first one logs in on
    the SASL_PLAINTEXT listener `sasl_address` (the port opens before the broker applies them)."""
    from kafka import KafkaAdminClient
    from kafka.admin import UserScramCredentialUpsertion

    from tests.harness import wait_for

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="lagwatch-test-setup")
    try:
        errors = admin.alter_user_scram_credentials(
            [UserScramCredentialUpsertion(name, "SCRAM-SHA-512", password) for name, password in users.items()])
        if any(errors.values()):
            raise StackError(f"could not add the SCRAM users: {errors}")
    finally:
        admin.close()
    name, password = next(iter(users.items()))

    def logs_in() -> bool:
        try:
            client = KafkaAdminClient(
                bootstrap_servers=sasl_address, client_id="lagwatch-test-setup", security_protocol="SASL_PLAINTEXT",
                sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=name, sasl_plain_password=password,
                request_timeout_ms=5000,
            )
        except Exception:  # noqa: BLE001 - credentials not applied by the broker yet
            return False
        client.close()
        return True

    wait_for(logs_in, timeout=30, interval=0.3, what="SCRAM credentials to take effect")
