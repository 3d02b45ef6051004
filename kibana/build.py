#!/usr/bin/env python3
"""Write the committed Kibana files from exporter/kibana/ (objects.py and rule.py: the single source of both).

    python kibana/build.py           # regenerate kibana/lagwatch-saved-objects.ndjson and kibana/lagwatch-rule.json
    python kibana/build.py --check   # exit 1 when the committed files differ from what the generator writes

Edit the generator, not the files: tests/unit/test_kibana_objects.py fails when they drift apart.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # runnable from a checkout without installing

from exporter.kibana import objects, rule  # noqa: E402

SAVED_OBJECTS = HERE / "lagwatch-saved-objects.ndjson"
RULE = HERE / "lagwatch-rule.json"


def outputs() -> dict[Path, str]:
    return {
        SAVED_OBJECTS: objects.to_ndjson(objects.saved_objects()),
        RULE: rule.rule_json(rule.rule()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for path, text in outputs().items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(HERE.parent)}")
    for path in stale:
        print(f"{path.relative_to(HERE.parent)} is out of date: run python kibana/build.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
