"""A small HTTP/1.1 server for the daemon's GET endpoints: the standard library's socketserver and
http.server, with the settings a probe target needs instead of their defaults:

- `request_queue_size` (the listen backlog) is `backlog` (1024, capped by net.core.somaxconn), not 5: a burst
  of probes is queued by the kernel instead of waiting on SYN retransmits, seconds each;
- the handler's `timeout` is `idle_timeout_s`: a connection that sends nothing for that long is closed and its
  thread ends, instead of holding a thread forever;
- `handle_error` makes a client that hangs up mid-answer one debug line (`http_client_gone`), never a
  traceback on stderr; any other error of a connection is one `http_error` line.

One thread per connection (daemon threads, so a stopping daemon never waits for a client), one request per
connection (`Connection: close`), so a slow /metrics never delays /healthz.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from exporter import logs


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes


Handler = Callable[[str], Response]  # path (without the query string) -> response


class _Connection(BaseHTTPRequestHandler):
    """One connection: one GET or HEAD, answered by the server's handler."""

    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # a garbled request line still gets a status line (0.9 has none)
    server_version = "lagwatch"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        self.timeout = self.server.idle_timeout_s  # StreamRequestHandler sets it on the socket
        super().setup()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(head_only=False)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(head_only=True)

    def _not_allowed(self) -> None:
        self._send(Response(405, "text/plain; charset=utf-8", b"only GET\n"))

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed  # noqa: N815

    def _answer(self, head_only: bool) -> None:
        path = self.path.split("?", 1)[0]
        self.server.current.path = path  # for handle_error, on this connection's thread
        try:
            response = self.server.handler(path)
        except Exception as exc:  # noqa: BLE001 - an endpoint bug must not kill the server
            self.server.log.error("http_error", path=path, error=repr(exc))
            response = Response(500, "text/plain; charset=utf-8", b"internal error\n")
        self._send(response, head_only)

    def _send(self, response: Response, head_only: bool = False) -> None:
        self.close_connection = True
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if not head_only:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - no access log on stderr
        pass


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: Handler, backlog: int, idle_timeout_s: float):
        self.handler = handler
        self.idle_timeout_s = idle_timeout_s
        self.request_queue_size = backlog
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.log = logs.get()
        self.current = threading.local()
        super().__init__(address, _Connection)  # binds and listens: a port in use is an OSError here

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        path = getattr(self.current, "path", None)
        if isinstance(exc, OSError):  # reset, broken pipe, timed out: the client went away
            self.log.debug("http_client_gone", path=path, error=type(exc).__name__)
        else:
            self.log.error("http_error", path=path, error=repr(exc))


class Server:
    def __init__(
        self, handler: Handler, host: str, port: int, *, backlog: int = 1024, idle_timeout_s: float = 10.0,
    ):
        self._server = _Server((host, port), handler, backlog, idle_timeout_s)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return host, port

    def start(self) -> Server:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="lagwatch-http", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=timeout_s)
        self._server.server_close()  # connections still open are dropped: a stopping daemon answers nobody
