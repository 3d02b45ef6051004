"""Batched Kafka protocol requests, sent concurrently to chosen brokers, each one counted.

kafka-python's admin client sends one request at a time and fails a whole call on one bad group; the
collector needs many groups per request, all brokers at once, and per-item errors. This is the one module
that reaches into kafka-python's connection manager (`admin._manager`): if a kafka-python upgrade moves it,
only this file changes (tests/integration/test_collector.py exercises every request through it).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Sequence
from typing import Any

import kafka.errors as Errors
from kafka import KafkaAdminClient



class KafkaWire:
    """Send requests to brokers through an admin client that the caller built and owns."""

    def __init__(self, admin: KafkaAdminClient, timeout_s: float):
        self._admin = admin
        self._manager = admin._manager
        self.timeout_ms = int(timeout_s * 1000)
        # kafka-python rejects (does not queue) requests past this many in flight on one connection.
        self.max_in_flight = int(admin.config.get("max_in_flight_requests_per_connection", 5))
        self._lock = threading.Lock()
        self.requests: collections.Counter[str] = collections.Counter()

    @property
    def cluster(self):
        """kafka-python's cluster metadata (brokers, topics) as of the last Metadata response."""
        return self._manager.cluster

    def reset_counts(self) -> dict[str, int]:
        with self._lock:
            counts = dict(self.requests)
            self.requests.clear()
        return counts

    def close(self) -> None:
        self._admin.close()

    def least_loaded_node(self) -> Any:
        return self._manager.least_loaded_node()

    def send_all(self, calls: Sequence[tuple[Any, Any]]) -> list[Any]:
        """Send (request, node_id) pairs, at most `max_in_flight` in flight per broker, all brokers
        at once. Returns, in order, each response or the exception that request ended with."""
        if not calls:
            return []
        return self._manager.run(self._send_all, list(calls))

    async def _send_all(self, calls: list[tuple[Any, Any]]) -> list[Any]:
        results: list[Any] = [None] * len(calls)
        pending = list(range(len(calls)))
        while pending:
            in_flight: dict[Any, int] = collections.Counter()
            wave, rest = [], []
            for index in pending:
                node = calls[index][1]
                if in_flight[node] < self.max_in_flight:
                    in_flight[node] += 1
                    wave.append(index)
                else:
                    rest.append(index)
            futures = {}
            for index in wave:
                request, node = calls[index]
                with self._lock:
                    self.requests[request.name.removesuffix("Request")] += 1
                futures[index] = self._manager.send(request, node_id=node)
            # One deadline for the whole wave: k hung requests cost one timeout, not k.
            wave_deadline = time.monotonic() + self.timeout_ms / 1000
            for index, future in futures.items():
                remaining_ms = max(1, int((wave_deadline - time.monotonic()) * 1000))
                try:
                    results[index] = await self._manager.wait_for(future, remaining_ms)
                except Errors.KafkaError as exc:
                    results[index] = exc
                except Exception as exc:  # noqa: BLE001 - one failed request must not sink the scrape
                    results[index] = exc
            pending = rest
        return results

    def send(self, request: Any, node: Any = None) -> Any:
        """One request; raises what it failed with."""
        node = node if node is not None else self.least_loaded_node()
        if node is None:
            # kafka-python would say "NodeNotReadyError: No node_id provided"; say what it means.
            servers = self._admin.config.get("bootstrap_servers") or ""
            servers = servers if isinstance(servers, str) else ",".join(servers)
            raise Errors.KafkaConnectionError(f"no broker reachable (bootstrap {servers})")
        result = self.send_all([(request, node)])[0]
        if isinstance(result, BaseException):
            raise result
        return result


def error_name(code: int) -> str | None:
    """None for success, else Kafka's name for the error code (e.g. 'UnknownTopicOrPartitionError')."""
    if not code:
        return None
    return Errors.for_code(code).__name__
