"""The secure Kafka broker and Elasticsearch node of one session, on one set of certificates."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devstack.common import free_port
from tests.security.pki import Certificates, make_certificates
from tests.security.secure_es import ROLE_USERS, SecureElasticsearchNode
from tests.security.secure_kafka import SecureKafka


@dataclass
class SecureStack:
    certs: Certificates
    kafka: SecureKafka
    elasticsearch: SecureElasticsearchNode

    @classmethod
    def create(cls) -> SecureStack:
        certs = make_certificates(Path(tempfile.mkdtemp(prefix="lagwatch-certs-")))
        return cls(certs, SecureKafka(certs),
                   SecureElasticsearchNode(certs=certs, port=free_port(), more_users=dict(ROLE_USERS)))

    def secrets(self) -> list[str]:
        """Every secret of the session, for the leak test."""
        found = [self.kafka.plain_password, self.kafka.scram_password, self.certs.client_key_password,
                 self.elasticsearch.admin_password, self.elasticsearch.user_password]
        return found

    def stop(self) -> None:
        for service in (self.kafka, self.elasticsearch):
            try:
                service.stop()
            except Exception:  # noqa: BLE001 - stop the other one anyway
                pass
        if not os.environ.get("LAGWATCH_KEEP_DATA"):
            shutil.rmtree(self.certs.directory, ignore_errors=True)
