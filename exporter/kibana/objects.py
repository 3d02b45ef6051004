"""Every Kibana 8.11+ saved object lagwatch ships, assembled from exporter/kibana/ (lens.py: primitives,
panels.py: the Lens panels, dashboards.py: data views, saved search, controls and dashboards), so that ids
and references are always consistent (pure, no I/O).

`kibana/build.py` writes the committed files from this module and rule.py; `lagwatch setup` imports the same
objects, generated for the configured index prefix.
"""

from __future__ import annotations

import json
from typing import Any

from exporter.kibana.dashboards import alerts_search, dashboards, data_view
from exporter.kibana.lens import ALERTS_VIEW, LAG_VIEW
from exporter.kibana.panels import lens_objects

CORE_MIGRATION_VERSION = "8.8.0"
# The newest migration of each type in Kibana 8.11: Kibana migrates forward from these on import.
TYPE_MIGRATION_VERSION = {
    "index-pattern": "8.0.0",
    "lens": "8.9.0",
    "dashboard": "8.9.0",
    "search": "8.0.0",
}


def saved_objects(prefix: str = "lagwatch") -> list[dict[str, Any]]:
    """Every saved object, data views first (Kibana resolves references within one import in any order,
    but a reader of the file should meet a data view before what uses it)."""
    objects = [
        data_view(LAG_VIEW, f"{prefix}-lag*", f"{prefix} lag"),
        data_view(ALERTS_VIEW, f"{prefix}-alerts*", f"{prefix} alerts"),
        *lens_objects(),
        alerts_search(),
        *dashboards(),
    ]
    for obj in objects:
        obj["coreMigrationVersion"] = CORE_MIGRATION_VERSION
        obj["typeMigrationVersion"] = TYPE_MIGRATION_VERSION[obj["type"]]
        obj["managed"] = False
    return objects


def to_ndjson(objects: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n" for obj in objects)
