#!/usr/bin/env python3
"""Write the committed Kibana and OpenSearch Dashboards files from exporter/kibana/ (objects.py and rule.py for
Kibana; osd.py, which translates the same objects, for OpenSearch Dashboards).

    python kibana/build.py           # regenerate kibana/lagwatch-saved-objects.ndjson, kibana/lagwatch-rule.json
                                     # and kibana/opensearch-dashboards/lagwatch-saved-objects.ndjson
    python kibana/build.py --check   # exit 1 when the committed files differ from what the generator writes

Edit the generator, not the files: tests/unit/test_kibana_objects.py fails when they drift apart.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # runnable from a checkout without installing
sys.path.insert(0, str(HERE.parent / "scripts"))

from exporter.kibana import objects, osd, rule  # noqa: E402
from generated import write_or_check  # noqa: E402  (scripts/generated.py)

SAVED_OBJECTS = HERE / "lagwatch-saved-objects.ndjson"
RULE = HERE / "lagwatch-rule.json"
OSD_SAVED_OBJECTS = HERE / "opensearch-dashboards" / "lagwatch-saved-objects.ndjson"


def outputs() -> dict[Path, str]:
    return {
        SAVED_OBJECTS: objects.to_ndjson(objects.saved_objects()),
        RULE: rule.rule_json(rule.rule()),
        OSD_SAVED_OBJECTS: objects.to_ndjson(osd.saved_objects()),
    }


def main(argv: list[str] | None = None) -> int:
    return write_or_check(outputs, __doc__, "python kibana/build.py", HERE.parent, argv)


if __name__ == "__main__":
    sys.exit(main())
