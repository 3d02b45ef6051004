"""Which strings the log masks: every secret of the config, URL passwords and webhook tokens.

Registered before anything is built from a config (and again for each reloaded one), so no log line or
error text carries a secret, whichever client raised it.
"""

from __future__ import annotations

from exporter import logs
from exporter.config import Config, secret_values


def register_secrets(config: Config) -> None:
    """Mask every secret of the config in every log line and error text: each secret option, URL passwords
    (Elasticsearch hosts, Kibana, webhooks) and webhook paths (their token)."""
    for secret in secret_values(config):
        logs.register_secret(secret)
    for notifier in config.alerts.notifiers:
        register_webhook_url(notifier.url.get_secret_value())


def register_webhook_url(url: str) -> None:
    """Webhook URLs carry their token in the path or query (Slack: /services/T../B../<token>)."""
    logs.register_secret(url)
    _, _, rest = url.partition("://")
    _, slash, path = rest.partition("/")
    if slash and len(path) >= 3:
        logs.register_secret("/" + path)
