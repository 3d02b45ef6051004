"""A small HTTP proxy on 127.0.0.1 between lagwatch and the real Elasticsearch node, for the faults the node
itself will not make on demand: `_bulk` answered 429 (the whole request, or every item the way a node whose
write queue is full answers), and slow answers. Everything else is passed through as it is; a node that is
down or frozen shows through unchanged (no answer, the connection closed).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}
_REJECTION = {"type": "es_rejected_execution_exception", "reason": "rejected execution (soak proxy)"}


class Proxy:
    def __init__(self, upstream: str, seed: int = 0):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        self.mode = "pass"  # pass | reject | slow
        self.delay_s = 0.0
        self.rng = random.Random(seed)
        self.counts = {"requests": 0, "rejected_requests": 0, "rejected_items": 0, "delayed": 0, "upstream_failed": 0}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _any(self):
                proxy._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # lagwatch timed out and hung up: nothing to say
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="soak-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Proxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set(self, mode: str, delay_s: float = 0.0) -> None:
        with self._lock:
            self.mode, self.delay_s = mode, delay_s

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counts[key] += n

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        self._count("requests")
        with self._lock:
            mode, delay_s, whole = self.mode, self.delay_s, self.rng.random() < 0.5
        bulk = "/_bulk" in h.path
        if mode == "reject" and bulk:
            if whole:
                self._count("rejected_requests")
                return self._answer(h, 429, {"error": _REJECTION, "status": 429})
            actions = _actions(body)
            self._count("rejected_items", len(actions))
            items = [{op: {"status": 429, "error": _REJECTION}} for op in actions]
            return self._answer(h, 200, {"took": 1, "errors": True, "items": items})
        if mode == "slow":
            self._count("delayed")
            time.sleep(delay_s)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP}
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            connection.request(h.command, h.path, body=body or None, headers=headers)
            answer = connection.getresponse()
            payload = answer.read()
        except OSError:
            self._count("upstream_failed")
            h.close_connection = True  # as the node itself: no answer at all
            return None
        finally:
            connection.close()
        h.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in _HOP and key.lower() != "content-length":
                h.send_header(key, value)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(payload)
        return None

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("X-Elastic-Product", "Elasticsearch")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)


def _actions(body: bytes) -> list[str]:
    """The operation of each action line of a `_bulk` body (index/create lines are followed by a source)."""
    ops, lines, i = [], [line for line in body.split(b"\n") if line.strip()], 0
    while i < len(lines):
        (op,) = json.loads(lines[i])
        ops.append(op)
        i += 1 if op == "delete" else 2
    return ops
