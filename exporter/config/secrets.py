"""Secrets in a config: `<name>_file: PATH` options read into `<name>` before validation, and the list of
every secret value of a validated config (for exporter.logs to mask wherever it would be printed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AnyUrl, BaseModel, SecretStr

from exporter.config.problems import Problem
from exporter.config.redact import URL_PASSWORD

_NOT_A_SECRET_FILE = {"ssl_keyfile"}  # a path kafka-python opens itself, not a secret to read


def read_secret_files(tree: Any, path: str = "") -> list[Problem]:
    """Replace every `<name>_file: PATH` with `<name>: <file contents>` (in place); return problems."""
    problems: list[Problem] = []
    if isinstance(tree, list):
        for index, item in enumerate(tree):
            problems += read_secret_files(item, f"{path}[{index}]")
    elif isinstance(tree, dict):
        for key in list(tree):
            here = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and key.endswith("_file") and key not in _NOT_A_SECRET_FILE:
                target = key[: -len("_file")]
                if target in tree:
                    problems.append((here, f"set either {target} or {key}, not both"))
                    tree.pop(key)
                    continue
                try:
                    tree[target] = Path(str(tree.pop(key))).read_text().strip()
                except OSError as exc:
                    problems.append((here, f"cannot read secret file: {exc.strerror}"))
            else:
                problems += read_secret_files(tree[key], here)
    return problems


def secret_values(config: BaseModel) -> list[str]:
    """Every secret in the config, for masking in logs (exporter.logs.register_secret): each secret option,
    the password of each URL, and whole webhook URLs (their token is in the path)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            found.append(secret)
            found.extend(m.group(2) for m in [URL_PASSWORD.match(secret)] if m and m.group(2))
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, (tuple, list)):
            for item in value:
                walk(item)
        elif isinstance(value, AnyUrl) and value.password:
            found.append(value.password)

    walk(config)
    return [s for s in dict.fromkeys(found) if s]
