"""A Kafka broker as production runs it: KRaft with StandardAuthorizer, SASL SCRAM-SHA-512 and
`allow.everyone.if.no.acl.found=false`, for tests/integration/test_authorizer.py (started once per session by
the `authorizer_kafka` fixture of tests/conftest.py).

Listeners (one broker, all on 127.0.0.1):
  PLAINTEXT       the harness (topics, producing, live members, Kafka's own tool as a super user): the broker
                  reaches its controller as User:ANONYMOUS (the CONTROLLER listener cannot use SCRAM), so
                  ANONYMOUS must be a super user, and this listener is one
  SASL_PLAINTEXT  SCRAM-SHA-512: the principals under test, with exactly the ACLs each test grants

Principals: `lagwatch` (each test grants it ACLs on its own, uniquely named topics and groups) and
`lagwatch-none` (never granted anything). The broker logs every authorization decision
(`kafka.authorizer.logger` at DEBUG): `decisions()` reads them back, so a test can say which operations a
principal asked for.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from devstack import KafkaBroker
from devstack.common import StackError, free_port, stderr_progress
from tests.security.common import add_scram_users, new_password

USER = "lagwatch"
NOBODY = "lagwatch-none"  # a principal with no ACL at all
# A name that cannot resolve, refused by the C library itself (a label may not start with "-"): no DNS query
# ever leaves the machine for it, unlike a made-up name under .invalid.
UNRESOLVABLE_HOST = "-kafka-0.kafka-headless.invalid"
ADVERTISED = {"UNRESOLVABLE": UNRESOLVABLE_HOST}

_AUTHORIZER_LOG = """
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = DEBUG
"""

# "Principal = User:lagwatch is Denied operation = DESCRIBE from host = 127.0.0.1 on resource =
# Topic:LITERAL:orders for request = Metadata with resourceRefCount = 1 based on rule ..."
_DECISION = re.compile(
    r"Principal = User:(?P<principal>\S+) is (?P<decision>Allowed|Denied) [oO]peration = (?P<operation>\S+) "
    r"from host = \S+ on resource = (?P<type>\w+):(?P<pattern>\w+):(?P<name>\S+) for request = (?P<request>\w+)"
)


@dataclass(frozen=True)
class Decision:
    principal: str
    allowed: bool
    operation: str  # DESCRIBE, DESCRIBE_CONFIGS, READ, ...
    resource_type: str  # Topic, Group, Cluster
    resource: str
    request: str  # Metadata, OffsetFetch, ...


class _AuthorizedBroker(KafkaBroker):
    def _prepare(self) -> None:
        super()._prepare()
        assert self.workdir is not None
        with open(self.workdir / "log4j2.properties", "a") as config:
            config.write(_AUTHORIZER_LOG)


@dataclass
class AuthorizerKafka:
    passwords: dict[str, str] = field(default_factory=lambda: {USER: new_password("acl"), NOBODY: new_password("none")})
    sasl_port: int = 0
    # Two more listeners that answer a bootstrap but advertise an address a client cannot use (the most common
    # Kafka connection mistake): a name that does not resolve, and a port nothing listens on.
    misadvertised: dict[str, int] = field(default_factory=dict)
    unbound_port: int = 0
    broker: KafkaBroker | None = None
    started_s: float | None = None

    def _properties(self, port: int, controller_port: int) -> dict[str, str]:
        ports = {"PLAINTEXT": port, "SASL_PLAINTEXT": self.sasl_port, **self.misadvertised}
        listeners = ",".join(f"{name}://127.0.0.1:{p}" for name, p in ports.items())
        advertised = ",".join(
            f"{name}://{ADVERTISED.get(name, '127.0.0.1')}:{self.unbound_port if name == 'CLOSED' else p}"
            for name, p in ports.items()
        )
        return {
            "listeners": f"{listeners},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": advertised,
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,"
                                              "UNRESOLVABLE:PLAINTEXT,CLOSED:PLAINTEXT",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": "User:ANONYMOUS",
            # KIP-848 groups are the default on 4.x; the live members of the tests join over PLAINTEXT.
        }

    @property
    def bootstrap(self) -> str:
        """The PLAINTEXT listener: a super user, for the harness only."""
        assert self.broker is not None
        return self.broker.bootstrap

    @property
    def sasl_address(self) -> str:
        return f"127.0.0.1:{self.sasl_port}"

    def misadvertised_address(self, listener: str) -> str:
        """The bootstrap address of a listener that advertises what a client cannot reach ("UNRESOLVABLE",
        "CLOSED")."""
        return f"127.0.0.1:{self.misadvertised[listener]}"

    def security(self, principal: str = USER) -> dict[str, str]:
        """lagwatch's `clusters[].security` for a principal."""
        return {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512", "username": principal,
                "password": self.passwords[principal]}

    def cluster(self, name: str = "acl", principal: str = USER, **extra) -> dict:
        """lagwatch's `clusters[]` entry for a principal on the SASL listener."""
        return {"name": name, "bootstrap_servers": self.sasl_address, "security": self.security(principal), **extra}

    def start(self) -> AuthorizerKafka:
        started = time.monotonic()
        self.sasl_port = free_port()
        self.misadvertised = {"UNRESOLVABLE": free_port(), "CLOSED": free_port()}
        self.unbound_port = free_port()  # never bound: connections to it are refused
        port, controller_port = free_port(), free_port()
        self.broker = _AuthorizedBroker(
            port=port, controller_port=controller_port, extra_properties=self._properties(port, controller_port),
            jvm_options=["-XX:+UseSerialGC"], heap="512m",
        )
        self.broker.start()
        self._add_users()
        self.started_s = time.monotonic() - started
        stderr_progress(f"Kafka with an authorizer ready in {self.started_s:.1f}s (SASL on {self.sasl_address})")
        return self

    def admin(self):
        from kafka import KafkaAdminClient

        return KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="lagwatch-test-acl-admin")

    def _add_users(self) -> None:
        add_scram_users(self.bootstrap, self.sasl_address, self.passwords)

    # --- ACLs ---------------------------------------------------------------------------------------

    def grant(self, *grants: tuple[str, str, str] | tuple[str, str, str, str], principal: str = USER) -> None:
        """ACLs allowing `principal` (resource type "topic"/"group"/"cluster", name, operation[, "prefixed"]),
        e.g. grant(("group", g, "describe"), ("topic", "orders-", "describe", "prefixed")); returns once the
        broker enforces them."""
        from kafka.admin import (
            ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern,
            ResourcePatternFilter, ResourceType,
        )

        acls = []
        for grant in grants:
            kind, name, operation = grant[:3]
            pattern = ACLResourcePatternType[(grant[3] if len(grant) > 3 else "literal").upper()]
            acls.append(ACL(f"User:{principal}", "*", ACLOperation[operation.upper()], ACLPermissionType.ALLOW,
                            ResourcePattern(ResourceType[kind.upper()], name, pattern)))
        admin = self.admin()
        try:
            result = admin.create_acls(acls)
            if result.get("failed"):
                raise StackError(f"could not create ACLs: {result['failed']}")
            # DescribeAcls is answered from the broker's own authorizer: once it lists them, they are enforced.
            from tests.harness import wait_for

            def visible() -> bool:
                found, _ = admin.describe_acls(ACLFilter(
                    f"User:{principal}", None, ACLOperation.ANY, ACLPermissionType.ANY,
                    ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY)))
                return all(acl in found for acl in acls)

            wait_for(visible, timeout=30, interval=0.2, what="ACLs to take effect")
        finally:
            admin.close()

    def revoke(self, kind: str, name: str, operation: str, principal: str = USER) -> None:
        """Delete the literal ACL allowing `principal` `operation` on a resource; returns once enforced."""
        from kafka.admin import ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePatternFilter, ResourceType

        from tests.harness import wait_for

        acl_filter = ACLFilter(f"User:{principal}", None, ACLOperation[operation.upper()], ACLPermissionType.ALLOW,
                               ResourcePatternFilter(ResourceType[kind.upper()], name, ACLResourcePatternType.LITERAL))
        admin = self.admin()
        try:
            admin.delete_acls([acl_filter])
            wait_for(lambda: not admin.describe_acls(acl_filter)[0], timeout=30, interval=0.2, what="ACL removal")
        finally:
            admin.close()

    # --- what the broker decided ----------------------------------------------------------------------

    def log_position(self) -> int:
        return self.broker.log_path.stat().st_size if self.broker else 0

    def decisions(self, since: int = 0, principal: str | None = None) -> list[Decision]:
        """The authorizer's decisions logged after byte `since` of the broker log (for `principal`)."""
        assert self.broker is not None
        with open(self.broker.log_path, "rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        found = []
        for match in _DECISION.finditer(text):
            if principal is None or match["principal"] == principal:
                found.append(Decision(match["principal"], match["decision"] == "Allowed", match["operation"].upper(),
                                      match["type"], match["name"], match["request"]))
        return found

    def log_tail(self, lines: int = 60) -> str:
        return self.broker.log_tail(lines) if self.broker and self.broker.workdir else "(authorizer Kafka not started)"

    def stop(self) -> None:
        if self.broker is not None:
            self.broker.stop()

