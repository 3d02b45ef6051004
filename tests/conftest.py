"""Session fixtures for the real Kafka broker, Elasticsearch node and OpenSearch nodes (started once, cleaned up)."""

from __future__ import annotations

import os

import pytest
from elasticsearch import Elasticsearch

from tests import harness

_services: dict[str, object] = {}


def _session_service(name: str, service):
    """Start a session's service, its log shown with any failing test while it runs; stopped after."""
    _services[name] = service
    try:
        yield service.start()
    finally:
        service.stop()
        _services.pop(name, None)


@pytest.fixture(scope="session", autouse=True)
def _private_state_dir(tmp_path_factory):
    """Daemons started by tests (in-process or as subprocesses) spool under a throw-away state dir, never
    into the user's ~/.local/state/lagwatch."""
    previous = os.environ.get("LAGWATCH_STATE_DIR")
    os.environ["LAGWATCH_STATE_DIR"] = str(tmp_path_factory.mktemp("lagwatch-state"))
    yield
    if previous is None:
        os.environ.pop("LAGWATCH_STATE_DIR", None)
    else:
        os.environ["LAGWATCH_STATE_DIR"] = previous


@pytest.fixture(scope="session")
def _stack():
    """Start Kafka and Elasticsearch together the first time any test asks for either."""
    kafka, es = harness.kafka_service(), harness.elasticsearch_service()
    _services.update(kafka=kafka, elasticsearch=es)
    try:
        harness.start_all([kafka, es])
        yield kafka, es
    finally:
        for service in (kafka, es):
            service.stop()
        _services.clear()


@pytest.fixture(scope="session")
def kafka_service(_stack):
    return _stack[0]


@pytest.fixture(scope="session")
def es_service(_stack):
    return _stack[1]


@pytest.fixture(scope="session")
def bootstrap(kafka_service) -> str:
    return kafka_service.bootstrap


@pytest.fixture(scope="session")
def es_url(es_service) -> str:
    return es_service.url


@pytest.fixture(scope="session")
def es(es_url):
    client = Elasticsearch(es_url, request_timeout=30)
    yield client
    client.close()


@pytest.fixture
def kafka(bootstrap):
    """A driver that plays the applications: create topics, produce, consume and commit."""
    driver = harness.KafkaDriver(bootstrap)
    yield driver
    driver.close()


@pytest.fixture(scope="module")
def own_kafka():
    """A broker of the module's own, which its tests may stop, restart or freeze (never the shared one)."""
    from devstack import KafkaBroker

    broker = KafkaBroker().start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def own_es():
    """An Elasticsearch node of the module's own, which its tests may stop and restart."""
    from devstack import ElasticsearchNode

    node = ElasticsearchNode().start()
    yield node
    node.stop()


def _missing_tool(name: str, why: str) -> None:
    """Skip, with the reason, only where bootstrap could not have installed the tool (not root);
    as root (CI) or with LAGWATCH_REQUIRE_ALL=1 a missing tool is a failure."""
    if os.geteuid() != 0 and not os.environ.get("LAGWATCH_REQUIRE_ALL"):
        pytest.skip(f"{name} not installed ({why}); `apt-get install {name}` or run scripts/bootstrap as root")
    pytest.fail(f"{name} not installed ({why}): scripts/bootstrap installs it when run as root")


@pytest.fixture(scope="session")
def tmux_binary() -> str:
    """tmux, for the tests that drive `lagwatch top` in a real terminal."""
    import shutil

    path = shutil.which("tmux")
    if path is None:
        _missing_tool("tmux", "the `lagwatch top` terminal tests run the view inside it")
    return path


@pytest.fixture(scope="session")
def kafka_of_version():
    """`kafka_of_version("4.4.0")`: a one-node broker of that Apache Kafka release (jars from Maven Central;
    2.x with a ZooKeeper of its own),
    started on first use and kept for the session (one per version), for the version matrix and the group
    types only newer brokers have (share groups). Kafka's tools and Java clients that tests run against it
    come from the same release (harness.BROKER_VERSIONS)."""
    from devstack import KafkaBroker
    from devstack.kafka_zk import ZooKeeperKafka

    brokers: dict[str, KafkaBroker] = {}

    def get(version: str) -> KafkaBroker:
        if version not in brokers:
            # 3.x serves KIP-848 `consumer` groups only when told to (4.0 made it the default; 3.9 has no
            # group.version feature to finalize): without it a group.protocol=consumer member never joins.
            extra = {"group.coordinator.rebalance.protocols": "classic,consumer"} if version.startswith("3.") else {}
            kind = ZooKeeperKafka if version.startswith(("1.", "2.")) else KafkaBroker  # 2.x: with its ZooKeeper
            broker = kind(version=version, jvm_options=["-XX:+UseSerialGC"], heap="512m", extra_properties=extra)
            brokers[version] = broker.start()
            _services[f"kafka_{version}"] = broker
            harness.BROKER_VERSIONS[broker.bootstrap] = version
        return brokers[version]

    try:
        yield get
    finally:
        for version, broker in brokers.items():
            broker.stop()
            _services.pop(f"kafka_{version}", None)
            harness.BROKER_VERSIONS.pop(broker.bootstrap, None)


@pytest.fixture(scope="session")
def es_of_version():
    """`es_of_version("9.5.4")`: an Elasticsearch node of that release (integ-test-zip from Maven Central),
    started on first use and kept for the session, for the version matrix. Each node runs on the first JDK
    of this machine that can run it (9.x needs Java 21+ with the full module set; see docs/versions.md)."""
    from devstack import ElasticsearchNode
    from devstack.common import StackError
    from devstack.elasticsearch import jdk_for

    nodes: dict[str, ElasticsearchNode] = {}

    def get(version: str) -> ElasticsearchNode:
        if version not in nodes:
            try:
                jdk = jdk_for(version)
            except StackError as exc:  # no registry package has a JDK that runs 9.x (docs/versions.md)
                message = f"no JDK on this machine runs Elasticsearch {version}: {exc}"
                if os.environ.get("LAGWATCH_REQUIRE_ALL"):
                    pytest.fail(message)
                pytest.skip(message)
            node = ElasticsearchNode(version=version, java_home=jdk)
            nodes[version] = node.start()
            _services[f"elasticsearch_{version}"] = node
        return nodes[version]

    try:
        yield get
    finally:
        for version, node in nodes.items():
            node.stop()
            _services.pop(f"elasticsearch_{version}", None)


class OpenSearchNodes:
    """`nodes("3.3.0")`: an OpenSearch node of that release (integ-test-zip from Maven Central), started on first
    use on the first JDK of this machine that runs it (3.x needs Java 21+), kept for the session.
    LAGWATCH_TEST_OS_URL names a node somebody else runs, used for the main release."""

    def __init__(self):
        from devstack.versions import OPENSEARCH_VERSION

        self.main = OPENSEARCH_VERSION
        self.nodes: dict[str, object] = {}

    def __call__(self, version: str | None = None):
        from devstack import ExternalOpenSearch, OpenSearchNode
        from devstack.common import StackError

        version = version or self.main
        if version not in self.nodes:
            external = os.environ.get("LAGWATCH_TEST_OS_URL")
            if version == self.main and external:
                self.nodes[version] = ExternalOpenSearch(external)
                return self.nodes[version]
            try:
                self.nodes[version] = OpenSearchNode(version=version, heap="512m").start()
            except StackError as exc:
                if "no fitting JDK" not in str(exc) or os.environ.get("LAGWATCH_REQUIRE_ALL"):
                    raise
                pytest.skip(f"no JDK on this machine runs OpenSearch {version}: {exc}")
            _services[f"opensearch_{version}"] = self.nodes[version]
        return self.nodes[version]

    def stop(self) -> None:
        for version, node in self.nodes.items():
            node.stop()
            _services.pop(f"opensearch_{version}", None)


@pytest.fixture(scope="session")
def opensearch_of_version():
    nodes = OpenSearchNodes()
    try:
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture(scope="session")
def os_node(opensearch_of_version):
    """The OpenSearch node of the main release (devstack.versions.OPENSEARCH_VERSION)."""
    return opensearch_of_version()


@pytest.fixture(scope="session")
def os_url(os_node) -> str:
    return os_node.url


@pytest.fixture(scope="session")
def opensearch(os_url):
    """An opensearch-py client of the main OpenSearch node, for what the tests check there."""
    from tests.harness import opensearch_reader

    with opensearch_reader(os_url) as client:
        yield client


@pytest.fixture(scope="session")
def kafka_cluster():
    """Three Kafka brokers (KRaft, three voters, replication factor 3), started once per session, only when
    a multi-broker test asks; fault helpers kill / freeze / resume / restart / add_broker."""
    from devstack.kafka_cluster import KafkaCluster

    yield from _session_service("kafka_cluster", KafkaCluster(size=3))


@pytest.fixture(scope="session")
def secure_stack():
    """A second Kafka broker (SASL_PLAINTEXT, SASL_SSL, SSL, mutual-TLS listeners) and a second
    Elasticsearch node (security on, HTTPS), started side by side only when a security test asks."""
    import shutil

    from tests.security.stack import SecureStack

    if not shutil.which("openssl"):
        _missing_tool("openssl", "the security tests make their CA and certificates with it")
    stack = SecureStack.create()
    _services.update(secure_kafka=stack.kafka, secure_elasticsearch=stack.elasticsearch)
    try:
        harness.start_all([stack.kafka, stack.elasticsearch])
        yield stack
    finally:
        stack.stop()
        _services.pop("secure_kafka", None)
        _services.pop("secure_elasticsearch", None)


@pytest.fixture(scope="session")
def authorizer_kafka():
    """A Kafka broker as production runs it (StandardAuthorizer, SCRAM-SHA-512, allow.everyone.if.no.acl.found
    false; tests/security/authorizer.py), started once, only when an authorizer test asks."""
    from tests.security.authorizer import AuthorizerKafka

    yield from _session_service("authorizer_kafka", AuthorizerKafka())


@pytest.fixture(scope="session")
def api_key_gateway(secure_stack):
    """nginx terminating TLS and checking an API key in front of the secure node (the integ-test-zip
    cannot create API keys itself)."""
    from tests.security.gateway import ApiKeyGateway, nginx_binary

    if nginx_binary() is None:
        _missing_tool("nginx", "the API-key tests run through it")
    yield from _session_service("api_key_gateway", ApiKeyGateway(secure_stack.certs, secure_stack.elasticsearch))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item, call):
    # A failing integration test shows what the services said, not just what the client saw.
    if call.when == "call" and call.excinfo is not None and _services:
        for name, service in _services.items():
            item.add_report_section("call", f"{name} log (tail)", service.log_tail(40))
