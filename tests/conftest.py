"""Session fixtures for the real Kafka broker and Elasticsearch node (started once, cleaned up)."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from tests import harness

_services: dict[str, object] = {}


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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item, call):
    # A failing integration test shows what the services said, not just what the client saw.
    if call.when == "call" and call.excinfo is not None and _services:
        for name, service in _services.items():
            item.add_report_section("call", f"{name} log (tail)", service.log_tail(40))
