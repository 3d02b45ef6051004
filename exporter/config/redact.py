"""The effective config as plain data with every secret shown as '**********' (`lagwatch check-config`)."""

from __future__ import annotations

import re
from typing import Any

# scheme://user:PASSWORD@ : group 2 is the password.
URL_PASSWORD = re.compile(r"^([a-z][a-z0-9+.-]*://[^:/@\s]*):([^@/\s]*)@", re.I)
MASK = "**********"


def mask_url_password(url: str) -> str:
    return URL_PASSWORD.sub(rf"\1:{MASK}@", url)


def _mask_urls(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _mask_urls(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_mask_urls(v) for v in data]
    return mask_url_password(data) if isinstance(data, str) else data


def redacted(config: Any) -> dict[str, Any]:
    """The effective config (a Config) as plain data, secrets shown as '**********': every secret option
    (SecretStr dumps masked), and the password of every URL (Elasticsearch hosts, Kibana, anything else). Of the
    two stores only the one in use is shown (opensearch when set, else elasticsearch)."""
    data = config.model_dump(mode="json", exclude_none=False)
    data.pop("elasticsearch" if data.get("opensearch") is not None else "opensearch", None)
    return _mask_urls(data)
