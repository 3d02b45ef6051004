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
