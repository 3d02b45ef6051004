"""The most common Kafka connection mistake, on a real broker: the bootstrap answers, but the address a broker
advertises (`advertised.listeners`) cannot be used from where lagwatch runs. The error names the broker, what
it advertises and the setting to fix, once per exception name (tests/security/authorizer.py's listeners)."""

from __future__ import annotations

import pytest

from exporter import config as config_module
from exporter.runtime import wiring
from exporter.runtime.pipeline import ClusterPipeline
from tests.harness import logged_cycle
from tests.security.authorizer import UNRESOLVABLE_HOST

pytestmark = pytest.mark.integration


def scrape_failed(address: str) -> str:
    config = config_module.parse(
        {"clusters": [{"name": "k8s", "bootstrap_servers": address, "request_timeout_s": 3}]}, environ={})
    result, events = logged_cycle(ClusterPipeline(wiring.collector(config, config.clusters[0]), None))
    assert not result.report.snapshot.up
    (failed,) = [e for e in events if e["event"] == "scrape_failed"]
    return failed["error"]


@pytest.mark.parametrize("listener, address, why", [
    ("UNRESOLVABLE", UNRESOLVABLE_HOST, "does not resolve from here (KafkaConnectionError: DNS Resolution failure)"),
    ("CLOSED", "127.0.0.1", "refuses connections (KafkaConnectionError: 111 ECONNREFUSED)"),
])
def test_a_broker_advertising_an_address_lagwatch_cannot_use_is_named_with_the_setting_to_fix(
    authorizer_kafka, listener, address, why
):
    bootstrap = authorizer_kafka.misadvertised_address(listener)
    port = authorizer_kafka.unbound_port if listener == "CLOSED" else authorizer_kafka.misadvertised[listener]
    error = scrape_failed(bootstrap)
    assert error == (
        f"KafkaConnectionError: the bootstrap {bootstrap} answered, but broker 1 at {address}:{port} as the brokers "
        f"advertise themselves {why}: check the brokers' advertised.listeners (the address each listener tells "
        "clients to connect to must be reachable from lagwatch)"
    )
    assert error.count("KafkaConnectionError") == 2  # the error's own name, and the cause's: never doubled
