"""Kafka admin clients whose connection failures say why, within the cluster's request timeout.

kafka-python (3.0) retries a failed bootstrap until `bootstrap_timeout_ms` (30 s by default) and then
raises only "Unable to bootstrap from [...]", even when the TLS handshake failed or the broker rejected the
SASL credentials: the cause of each attempt is only logged. A scrape would hang for 30 s and report nothing
useful. Here the wait is bounded by `request_timeout_s`, and the last cause logged for that bootstrap
server (captured by a filter on kafka-python's connection-manager logger) goes into the error, with a hint.
"""

from __future__ import annotations

import logging
import threading

from kafka import KafkaAdminClient
from kafka.errors import KafkaTimeoutError

from exporter.config import Cluster, SecurityProtocol

_MANAGER_LOGGER = "kafka.net.manager"
# kafka-python's own message templates (kafka/net/manager.py). If an upgrade rewords them, errors lose
# their cause but keep the hint; tests/integration/test_security.py notices.
_ATTEMPT = "Attempting bootstrap to %s at %s:%s (rack %s)"
_FAILED = "Bootstrap connection to %s failed: %s (backoff %.2f secs)"


class KafkaConnectError(Exception):
    """The cluster could not be reached or refused us; the message says where, how, and the last cause."""


class _BootstrapCauses(logging.Filter):
    """Remembers, per bootstrap host:port, why the last connection attempt failed. The logger is lowered to
    INFO so this sees the attempts; it drops what the `kafka` logger's own level would have dropped."""

    def __init__(self) -> None:
        super().__init__()
        self._target = threading.local()  # each admin client runs its IO in its own thread
        self._lock = threading.Lock()
        self.causes: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if record.msg == _ATTEMPT and len(record.args) >= 3:
                self._target.server = f"{record.args[1]}:{record.args[2]}"
            elif record.msg == _FAILED and len(record.args) >= 2:
                server = getattr(self._target, "server", None)
                cause = str(record.args[1])
                if server:
                    with self._lock:
                        # The last attempt is often cut short by our own deadline ("Request timed out
                        # after 2 ms"): an earlier, real cause says more.
                        if server not in self.causes or "timed out" not in cause.lower():
                            self.causes[server] = cause
        except Exception:  # noqa: BLE001 - a logging filter must never raise
            pass
        # Pass on only what the parent loggers would have let through (logs.configure sets them).
        return record.levelno >= max(logging.WARNING, logging.getLogger("kafka.net").getEffectiveLevel())

    def pop(self, servers: tuple[str, ...]) -> str | None:
        with self._lock:
            found = [self.causes.pop(s) for s in servers if s in self.causes]
        return found[-1] if found else None


_causes = _BootstrapCauses()
_installed = False
_install_lock = threading.Lock()


def _install() -> None:
    global _installed
    with _install_lock:
        if not _installed:
            logger = logging.getLogger(_MANAGER_LOGGER)
            logger.addFilter(_causes)
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
            _installed = True


def _hint(cluster: Cluster, cause: str | None) -> str:
    security = cluster.security
    text = cause or ""
    if any(word in text.lower() for word in ("refused", "unreachable", "name or service", "timed out")):
        return f"is the broker up, and is this a listener with protocol {security.protocol.value}?"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "the broker's certificate is not trusted: check ssl_cafile (and ssl_check_hostname)"
    if "certificate required" in text.lower() or "alert" in text.lower():
        return "the broker rejected the TLS handshake: does it require a client certificate (ssl_certfile/ssl_keyfile)?"
    if security.protocol in (SecurityProtocol.SASL_PLAINTEXT, SecurityProtocol.SASL_SSL):
        return (
            f"SASL {security.sasl_mechanism} as {security.username!r}: the broker closes the connection when "
            "the credentials or the mechanism are wrong; check username, password and sasl_mechanism"
        )
    if security.protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL) or "SSL" in text:
        return "TLS failed: check the listener's protocol, ssl_cafile and client certificate"
    return "is the broker up and is this a listener with protocol " + security.protocol.value + "?"


def admin_client(cluster: Cluster, **kwargs) -> KafkaAdminClient:
    """A KafkaAdminClient for `cluster`, or KafkaConnectError within request_timeout_s."""
    _install()
    servers = tuple(cluster.bootstrap_servers)
    _causes.pop(servers)
    try:
        return KafkaAdminClient(
            bootstrap_servers=list(servers),
            client_id=cluster.client_id,
            bootstrap_timeout_ms=int(cluster.request_timeout_s * 1000),
            **kwargs,
            **cluster.security.client_kwargs(),
        )
    except KafkaTimeoutError as exc:
        cause = _causes.pop(servers)
        raise KafkaConnectError(
            f"cannot connect to {', '.join(servers)} with {cluster.security.protocol.value} within "
            f"{cluster.request_timeout_s:g}s (last failure: {cause or exc}); {_hint(cluster, cause)}"
        ) from None
