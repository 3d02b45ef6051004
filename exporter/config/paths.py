"""Where lagwatch keeps its state (the spool, the alert state file), worked out in this one place.

$LAGWATCH_STATE_DIR (a `~` in it is expanded), else $XDG_STATE_HOME/lagwatch, else ~/.local/state/lagwatch.
The container image sets LAGWATCH_STATE_DIR=/var/lib/lagwatch (a volume). `spool.dir` and
`alerts.state_path` in the config override the defaults below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("LAGWATCH_STATE_DIR")
    if base:
        return Path(base).expanduser()
    xdg = env.get("XDG_STATE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "state") / "lagwatch"


def spool_dir(environ: Mapping[str, str] | None = None) -> Path:
    return state_dir(environ) / "spool"


def alerts_state_file(environ: Mapping[str, str] | None = None) -> Path:
    return state_dir(environ) / "alerts.json"
