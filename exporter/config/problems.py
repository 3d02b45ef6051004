"""Config problems as (field path, message) pairs: the one error lagwatch raises for a bad config, and the
translation of pydantic's errors into paths an operator types (`clusters[0].bootstrap_servers`)."""

from __future__ import annotations

import re

from pydantic import ValidationError

Problem = tuple[str, str]  # (field path, message)


class ConfigError(Exception):
    """Every problem found in a config, each as (field path, message)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(f"{path}: {message}" for path, message in problems))


def field_path(loc: tuple) -> str:
    """pydantic's error location as a field path: ('clusters', 0, 'name') -> clusters[0].name."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif isinstance(item, str) and not item.startswith("function-") and item not in {"enum", "literal"}:
            name = item if re.fullmatch(r"[A-Za-z0-9_-]+", item) else repr(item)  # odd keys stay visible
            parts.append(f".{name}" if parts else name)
    return "".join(parts) or "(top level)"


def from_validation_error(error: ValidationError) -> list[Problem]:
    problems = []
    items = error.errors(include_url=False, include_input=False)
    failed_paths = {field_path(i["loc"]) for i in items}
    for item in items:
        path = field_path(item["loc"])
        if item["type"] == "too_short" and any(p.startswith(path + "[") for p in failed_paths):
            continue  # a list whose only items were invalid: those items' errors say it all
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown option"
        message = message.removeprefix("Value error, ")
        problems.append((path, message))
    return problems
