"""A Kafka broker with SASL_PLAINTEXT, SASL_SSL, SSL and mutual-TLS listeners beside a PLAINTEXT one for the
harness; SCRAM credentials written through the admin API."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from devstack import KafkaBroker
from devstack.common import free_port, stderr_progress
from tests.security.common import USER, add_scram_users, new_password
from tests.security.pki import Certificates


@dataclass
class SecureKafka:
    certs: Certificates
    plain_password: str = field(default_factory=lambda: new_password("plain"))
    scram_password: str = field(default_factory=lambda: new_password("scram"))
    ports: dict[str, int] = field(default_factory=dict)
    broker: KafkaBroker | None = None
    started_s: float | None = None

    LISTENERS = {"SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL", "SSL": "SSL", "MTLS": "SSL"}

    def _properties(self, port: int, controller_port: int) -> dict[str, str]:
        listeners = {"PLAINTEXT": port, **self.ports}
        advertised = ",".join(f"{name}://127.0.0.1:{p}" for name, p in listeners.items())
        plain = (
            'org.apache.kafka.common.security.plain.PlainLoginModule required '
            f'user_{USER}="{self.plain_password}";'
        )
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        props = {
            "listeners": f"{advertised},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": advertised,
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
            + ",".join(f"{name}:{proto}" for name, proto in self.LISTENERS.items()),
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.certs.server_keystore),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.certs.ca),
            "listener.name.mtls.ssl.client.auth": "required",
        }
        for listener in ("sasl_plaintext", "sasl_ssl"):
            props[f"listener.name.{listener}.plain.sasl.jaas.config"] = plain
            props[f"listener.name.{listener}.scram-sha-512.sasl.jaas.config"] = scram
        return props

    @property
    def bootstrap(self) -> str:
        """The PLAINTEXT listener: for the harness to produce and commit, never for lagwatch under test."""
        assert self.broker is not None
        return self.broker.bootstrap

    def address(self, listener: str) -> str:
        return f"127.0.0.1:{self.ports[listener]}"

    def start(self) -> SecureKafka:
        started = time.monotonic()
        self.ports = {name: free_port() for name in self.LISTENERS}
        port, controller_port = free_port(), free_port()
        self.broker = KafkaBroker(
            port=port, controller_port=controller_port, extra_properties=self._properties(port, controller_port)
        )
        self.broker.start()
        stderr_progress(f"secure Kafka broker up after {time.monotonic() - started:.1f}s")
        self._add_scram_user()
        self.started_s = time.monotonic() - started
        stderr_progress(f"secure Kafka ready in {self.started_s:.1f}s: {self.ports}")
        return self

    def _add_scram_user(self) -> None:
        add_scram_users(self.bootstrap, self.address("SASL_PLAINTEXT"), {USER: self.scram_password})

    def log_tail(self, lines: int = 60) -> str:
        return self.broker.log_tail(lines) if self.broker and self.broker.workdir else "(secure Kafka not started)"

    def stop(self) -> None:
        if self.broker is not None:
            self.broker.stop()
