"""What the secure services share: the identities lagwatch and the harness use, random passwords, and running
a setup tool (openssl, elasticsearch-users) with its output in the error."""

from __future__ import annotations

import secrets
import subprocess

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
