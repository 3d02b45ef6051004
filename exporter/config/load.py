"""From a YAML file (or an already-parsed tree) and the environment to a validated, frozen Config.

`load()` and `parse()` return a Config or raise ConfigError carrying every problem with its field path, so
`lagwatch check-config` can list them all at once. The steps, in order: the YAML (exporter/config/
yaml_input.py), the LAGWATCH_* overlay (env.py), secret files (secrets.py), the sections' own validation
(schema.py), then the checks across sections.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from exporter.config.env import apply_env
from exporter.config.problems import ConfigError, from_validation_error
from exporter.config.schema import Config
from exporter.config.secrets import read_secret_files
from exporter.config.yaml_input import YamlInputError, load_yaml


def parse(raw: Any, environ: Mapping[str, str] | None = None) -> Config:
    """Validate an already-parsed YAML tree (plus env overrides) into a Config."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([("(top level)", f"expected a mapping of options, got {type(raw).__name__}")])
    tree = apply_env(raw, environ if environ is not None else os.environ)
    problems = read_secret_files(tree)
    try:
        config = Config.model_validate(tree)
    except ValidationError as exc:
        problems += from_validation_error(exc)
        raise ConfigError(problems) from None
    problems += config.across_sections()
    if problems:
        raise ConfigError(problems)
    return config


def load(path: str | os.PathLike | None, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a YAML config file; with no file, only the environment configures."""
    raw: Any = {}
    if path is not None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError([("(file)", f"cannot read {path}: {exc.strerror}")]) from None
        try:
            raw = load_yaml(data)
        except YamlInputError as exc:
            raise ConfigError([(exc.where, exc.message)]) from None
    return parse(raw, environ)
