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
from collections.abc import Callable, Sequence
from typing import Any

import kafka.errors as Errors
from kafka import KafkaAdminClient

from exporter import logs
from exporter.kafka.protocol.raw import RawAnswer



class BrokerSkipped(Errors.KafkaTimeoutError):
    """Not sent: the broker already failed to answer in time during this scrape (a frozen broker costs
    one request timeout per scrape, not one per request wave)."""


class KafkaWire:
    """Send requests to brokers through an admin client that the caller built and owns.

    Failure policy: every request ends with its response or an exception, returned in its place, never
    raised (a broker kafka-python does not know, a closed connection, a timeout). Within one scrape
    (`new_scrape()` starts one) a broker that timed out gets no more requests: they fail at once."""

    def __init__(self, admin: KafkaAdminClient, timeout_s: float):
        self._admin = admin
        self._manager = admin._manager
        self.timeout_ms = int(timeout_s * 1000)
        # kafka-python rejects (does not queue) requests past this many in flight on one connection.
        self.max_in_flight = int(admin.config.get("max_in_flight_requests_per_connection", 5))
        self._lock = threading.Lock()
        self.requests: collections.Counter[str] = collections.Counter()
        self._silent: set[Any] = set()  # brokers that timed out in this scrape
        self._silent_before: set[Any] = set()  # ... and in the previous one: avoided for any-broker requests

    @property
    def cluster(self):
        """kafka-python's cluster metadata (brokers, topics) as of the last Metadata response."""
        return self._manager.cluster

    def new_scrape(self) -> None:
        with self._lock:
            self._silent_before, self._silent = self._silent, set()

    def silent_brokers(self) -> set[Any]:
        with self._lock:
            return set(self._silent)

    def use_metadata(self, response, brokers: dict[int, str]) -> None:
        """Route by the Metadata we just read (`brokers`: node id -> host:port, from `response`): kafka-python's
        own table is refreshed only every metadata_max_age_ms (5 min), so a broker that rejoined or was added
        would be unknown until then. A table that already holds exactly these brokers is left as it is (the
        usual scrape: no decode of the whole answer into kafka-python's objects for it)."""
        cluster = self._manager.cluster
        if {b.node_id: f"{b.host}:{b.port}" for b in cluster.brokers()} == brokers:
            return
        cluster.update_metadata(response.decoded() if isinstance(response, RawAnswer) else response)

    def api_versions(self, node: Any = None) -> tuple[tuple[int, int] | None, dict[int, tuple[int, int]] | None]:
        """(release, {api key: (min, max version)}) as a broker's ApiVersions answer told kafka-python: that
        node's when it is connected, else the bootstrap broker's; (None, None) before any answer."""
        conn = self._manager._conns.get(node) if node is not None else None
        data = getattr(conn, "broker_version_data", None) or self._manager.broker_version_data
        return (data.broker_version, data.api_versions) if data is not None else (None, None)

    def reset_counts(self) -> dict[str, int]:
        with self._lock:
            counts = dict(self.requests)
            self.requests.clear()
        return counts

    def close(self) -> None:
        self._admin.close()

    def least_loaded_node(self, exclude: set | frozenset = frozenset()) -> Any:
        """A broker for requests any broker can answer: connected, idle and answering ones first."""
        with self._lock:
            avoid = self._silent | self._silent_before | set(exclude)
        brokers = [b.node_id for b in self._manager.cluster.brokers()]
        candidates = [n for n in brokers if n not in avoid] or [n for n in brokers if n not in self._silent]
        conns = self._manager._conns
        for node in candidates:
            conn = conns.get(node)
            if conn is not None and conn.connected and not conn.in_flight_requests:
                return node
        for node in candidates:
            if self._manager.connection_delay(node) <= 0:
                return node
        return self._manager.least_loaded_node() if not candidates else candidates[0]

    def send_all(
        self, calls: Sequence[tuple[Any, Any]], decoders: Sequence[Callable[[Any], Any]] | None = None
    ) -> list[Any]:
        """Send (request, node_id) pairs, at most `max_in_flight` in flight per broker, all brokers
        at once. Returns, in order, each response or the exception that request ended with. With `decoders`
        (one per call), each response is decoded as it arrives and its decoded form returned instead: the
        protocol objects of a large answer are freed at once, not held until the last response is in (on
        65,000 groups, tens of MB of peak memory); a decoder that raises is that request's exception."""
        if not calls:
            return []
        try:
            return self._manager.run(self._send_all, list(calls), decoders)
        except Exception as exc:  # noqa: BLE001 - the event loop itself failed: every request failed with it
            return [exc] * len(calls)

    async def _send_all(self, calls: list[tuple[Any, Any]], decoders=None) -> list[Any]:
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
                if node in self._silent:
                    results[index] = BrokerSkipped(f"broker {node} did not answer earlier in this scrape")
                    continue
                with self._lock:
                    self.requests[request.name.removesuffix("Request")] += 1
                try:
                    futures[index] = self._manager.send(request, node_id=node, request_timeout_ms=self.timeout_ms)
                except Exception as exc:  # noqa: BLE001 - e.g. UnknownBrokerIdError, raised synchronously
                    results[index] = exc
            # One deadline for the whole wave: k hung requests cost one timeout, not k.
            wave_deadline = time.monotonic() + self.timeout_ms / 1000
            for index, future in futures.items():
                remaining_ms = max(1, int((wave_deadline - time.monotonic()) * 1000))
                try:
                    response = await self._manager.wait_for(future, remaining_ms)
                except Exception as exc:  # noqa: BLE001 - one failed request must not sink the scrape
                    results[index] = exc
                    if isinstance(exc, (Errors.KafkaTimeoutError, Errors.RequestTimedOutError)):
                        with self._lock:
                            self._silent.add(calls[index][1])
                    continue
                if decoders is None:
                    results[index] = response
                    continue
                try:
                    results[index] = decoders[index](response)
                except Exception as exc:  # noqa: BLE001 - an answer we cannot read fails its request only
                    results[index] = exc
                del response
            pending = rest
        return results

    def send(self, request: Any, node: Any = None) -> Any:
        """One request; raises what it failed with."""
        node = node if node is not None else self.least_loaded_node()
        if node is None:
            raise Errors.KafkaConnectionError(f"no broker reachable (bootstrap {self._bootstrap_text()})")
        result = self.send_all([(request, node)])[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def call(self, request: Any, node: Any, timeout_ms: int) -> Any:
        """One request with a timeout of its own, outside a scrape's accounting; raises what it failed with.
        For the coordination member's group requests (a JoinGroup is held by the broker until the rebalance
        completes, longer than any scrape request)."""

        async def one():
            future = self._manager.send(request, node_id=node, request_timeout_ms=timeout_ms)
            return await self._manager.wait_for(future, timeout_ms)

        with self._lock:
            self.requests[request.name.removesuffix("Request")] += 1
        return self._manager.run(one)

    def send_any(self, request: Any, attempts: int = 3) -> Any:
        """A request any broker can answer (Metadata): on failure, the next broker, up to `attempts`."""
        tried: set[Any] = set()
        last: BaseException | None = None
        for _ in range(attempts):
            node = self.least_loaded_node(exclude=tried)
            if node is None or node in tried:
                break
            tried.add(node)
            try:
                return self.send(request, node)
            except Exception as exc:  # noqa: BLE001 - try the next broker
                last = exc
        if last is None or isinstance(last, (Errors.NodeNotReadyError, Errors.KafkaConnectionError,
                                             Errors.KafkaTimeoutError)):
            raise self._unreachable(tried, last)
        raise last

    def _unreachable(self, tried: set[Any], last: BaseException | None) -> Errors.KafkaConnectionError:
        """Why no broker answered. The bootstrap did (the admin client exists): the brokers' own addresses,
        as they advertise them, are what failed; name them and the setting behind them."""
        bootstrap = self._bootstrap_text()
        advertised = {b.node_id: f"{b.host}:{b.port}" for b in self._manager.cluster.brokers()}
        named = {node: advertised[node] for node in sorted(tried) if node in advertised}
        cause = logs.failure_text(last) if last is not None else None
        if named and not set(named.values()) <= set(bootstrap.split(",")):
            which = ", ".join(f"broker {node} at {address}" for node, address in named.items())
            return Errors.KafkaConnectionError(
                f"the bootstrap {bootstrap} answered, but {which} as the brokers advertise themselves "
                f"{_why(cause)}: check the brokers' advertised.listeners (the address each listener tells "
                "clients to connect to must be reachable from lagwatch)"
            )
        # kafka-python would say "NodeNotReadyError: 1"; say what it means.
        return Errors.KafkaConnectionError(
            f"no broker reachable (bootstrap {bootstrap}; tried {sorted(tried)})" + (f" (last: {cause})" if cause else "")
        )

    def _bootstrap_text(self) -> str:
        # kafka-python would say "NodeNotReadyError: No node_id provided"; say what it means.
        servers = self._admin.config.get("bootstrap_servers") or ""
        return servers if isinstance(servers, str) else ",".join(servers)


def broker_hint(exc: BaseException, node: Any, advertised: str | None) -> str:
    """What to check when a request to one broker could not even connect: the address it advertises."""
    if advertised is None or not isinstance(exc, (Errors.KafkaConnectionError, Errors.NodeNotReadyError)):
        return ""
    if "dns resolution" in str(exc).lower():
        return f"; broker {node} advertises {advertised}, which does not resolve from here: check its advertised.listeners"
    return f"; broker {node} advertises {advertised}: is it up, and do its advertised.listeners name an address reachable from here?"


def _why(cause: str | None) -> str:
    text = (cause or "").lower()
    if "dns resolution" in text or "name or service" in text:
        return f"does not resolve from here ({cause})"
    if "refused" in text:
        return f"refuses connections ({cause})"
    if "timed out" in text or "timeout" in text:
        return f"does not answer ({cause})"
    return f"cannot be reached ({cause})" if cause else "cannot be reached"


def error_name(code: int) -> str | None:
    """None for success, else Kafka's name for the error code (e.g. 'UnknownTopicOrPartitionError')."""
    if not code:
        return None
    return Errors.for_code(code).__name__
