"""The collector's view of Kafka: requests described as plain data, answers decoded to plain data.

A request is one of the family objects in exporter/kafka/protocol/ (Metadata, ListGroups, FindCoordinators,
DescribeGroups, FetchOffsets, ListOffsets, DescribeTopicConfigs): each builds its kafka-python request and
decodes the response. `Client` is all the collector needs; KafkaClient implements it over a KafkaWire, and a
unit test implements it with scripted plain answers (tests/unit/test_kafka_collector.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from exporter.kafka.protocol.metadata import Metadata
from exporter.kafka.wire import KafkaWire

ANY_BROKER = None  # as a node: any broker can answer (FindCoordinator, DescribeConfigs)


class Request(Protocol):
    def request(self) -> Any: ...

    def decode(self, response: Any) -> Any: ...


class Client(Protocol):
    def new_scrape(self) -> None:
        """A scrape starts: request counts start from zero; brokers silent in the last one are avoided."""

    def send_all(self, calls: Sequence[tuple[Request, int | None]]) -> list[Any]:
        """(request, node id or ANY_BROKER) pairs, all sent at once. Returns, in order, each decoded answer
        or the exception that request ended with (never raised)."""

    def send_any(self, request: Request) -> Any:
        """A request any broker can answer, tried on a few; raises when none answered."""

    def take_request_counts(self) -> dict[str, int]:
        """Requests sent since the last call, by API."""

    def supports(self, node: int | None, api_key: int, version: int) -> bool:
        """Whether a broker (ANY_BROKER: the one lagwatch bootstrapped from) answers `version` of an API, as its
        ApiVersions answer said; True while that is not known yet."""

    def broker_release(self, node: int | None = ANY_BROKER) -> tuple[int, ...] | None:
        """The broker's release as kafka-python infers it from ApiVersions, e.g. (2, 8); None if not known."""

    def close(self) -> None: ...


class KafkaClient:
    """Client over a KafkaWire that `connect` makes on first use: a cluster that is down at start-up is then
    reported as `up: false` and retried every interval instead of stopping the daemon."""

    def __init__(self, connect: Callable[[], KafkaWire]):
        self._connect = connect
        self._wire: KafkaWire | None = None

    @property
    def wire(self) -> KafkaWire:
        if self._wire is None:
            self._wire = self._connect()
        return self._wire

    def new_scrape(self) -> None:
        self.wire.new_scrape()
        self.wire.reset_counts()

    def send_all(self, calls: Sequence[tuple[Request, int | None]]) -> list[Any]:
        if not calls:
            return []
        wire = self.wire
        raw = [(r.request(), wire.least_loaded_node() if node is ANY_BROKER else node) for r, node in calls]
        return wire.send_all(raw, [r.decode for r, _ in calls])  # each answer decoded as it arrives

    def send_any(self, request: Request) -> Any:
        response = self.wire.send_any(request.request())
        decoded = request.decode(response)
        if isinstance(request, Metadata):
            self.wire.use_metadata(response, decoded.brokers)
        return decoded

    def take_request_counts(self) -> dict[str, int]:
        return self.wire.reset_counts()

    def supports(self, node: int | None, api_key: int, version: int) -> bool:
        _, versions = self.wire.api_versions(node)
        if versions is None:
            return True
        lowest, highest = versions.get(api_key, (0, -1))
        return lowest <= version <= highest

    def broker_release(self, node: int | None = ANY_BROKER) -> tuple[int, ...] | None:
        return self.wire.api_versions(node)[0]

    def close(self) -> None:
        if self._wire is not None:
            self._wire.close()
