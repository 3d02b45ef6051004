"""Write generated files, or (--check) say which committed ones differ from what their generator writes now:
the one loop behind scripts/reference.py (docs/reference/) and kibana/build.py (kibana/)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def write_or_check(outputs: Callable[[], dict[Path, str]], doc: str | None, command: str, root: Path,
                   argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        elif not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(root)}")
    for path in stale:
        print(f"{path.relative_to(root)} is out of date: run {command}", file=sys.stderr)
    return 1 if stale else 0
