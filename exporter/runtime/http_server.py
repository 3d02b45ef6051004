"""A small HTTP/1.1 server for the daemon's GET endpoints: one asyncio loop on its own thread.

Why not http.server's ThreadingHTTPServer: its listen backlog is 5 (a burst of probes waits on SYN
retransmits, seconds each), it has no socket timeout (every idle connection holds a thread forever) and a
client that hangs up mid-answer prints a traceback on stderr. Here:

- the listen backlog is `backlog` (1024, capped by the kernel's net.core.somaxconn);
- connections are handled by coroutines, so idle sockets cost no thread; one that has not sent a complete
  request head within `idle_timeout_s` is closed (`408` when it had sent part of one);
- one request per connection (`Connection: close`): nothing idles between requests;
- handlers marked `inline` (the liveness probe) answer on the loop; the others run on a few worker threads
  (`workers`) so a slow one (a big /metrics) never delays /healthz;
- a client that goes away is one debug line (`http_client_gone`), never a traceback; nothing of asyncio's
  own error reporting reaches stderr either.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from exporter import logs

MAX_HEAD_BYTES = 16 * 1024
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
            431: "Request Header Fields Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes


Handler = Callable[[str], Response]  # path (without the query string) -> response


def _plain(status: int, text: str) -> Response:
    return Response(status, "text/plain; charset=utf-8", text.encode() + b"\n")


class Server:
    def __init__(
        self,
        handler: Handler,
        host: str,
        port: int,
        *,
        inline: Callable[[str], bool] = lambda path: False,
        backlog: int = 1024,
        idle_timeout_s: float = 10.0,
        write_timeout_s: float = 30.0,
        workers: int = 4,
    ):
        self.handler = handler
        self.inline = inline
        self.idle_timeout_s = idle_timeout_s
        self.write_timeout_s = write_timeout_s
        self.log = logs.get()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # Bound here, not in the loop: a port in use is an OSError for the caller, and `port` is known at once.
        self._sock = socket.create_server((host, port), family=family, backlog=backlog, reuse_port=False)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lagwatch-http-worker")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return host, port

    def start(self) -> Server:
        self._thread = threading.Thread(target=self._run, name="lagwatch-http", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._sock.close()

    # --- the loop ------------------------------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        # asyncio reports some transport errors itself, with a traceback on stderr: one line instead.
        loop.set_exception_handler(
            lambda _loop, ctx: self.log.debug("http_loop_error", error=repr(ctx.get("exception") or ctx.get("message")))
        )
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connection, sock=self._sock)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            # Connections still open are dropped with the loop: a stopping daemon answers nobody.

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        path = None
        try:
            head = await self._read_head(reader)
            if isinstance(head, Response):
                await self._write(writer, head)
            elif head is not None:
                response, path, head_only = await self._answer(head)
                await self._write(writer, response, head_only)
        except (ConnectionError, asyncio.TimeoutError, OSError) as exc:
            self.log.debug("http_client_gone", path=path, error=type(exc).__name__)
            writer.transport.abort()
        finally:
            writer.close()

    async def _read_head(self, reader: asyncio.StreamReader) -> bytes | Response | None:
        """The request head; a Response to send instead (timeout, too large); None: the client left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.idle_timeout_s
        data = b""
        while b"\r\n\r\n" not in data:
            if len(data) > MAX_HEAD_BYTES:
                return _plain(431, "request head too large")
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise asyncio.TimeoutError
                chunk = await asyncio.wait_for(reader.read(4096), remaining)
            except asyncio.TimeoutError:
                # Idle (nothing sent) or too slow (part of a head): either way the socket is given back.
                return _plain(408, "request timeout") if data else None
            if not chunk:
                return None
            data += chunk
        return data

    async def _answer(self, head: bytes) -> tuple[Response, str | None, bool]:
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
            return _plain(400, "bad request"), None, False
        method, target = parts[0], parts[1]
        path = target.split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return _plain(405, "only GET"), path, False
        try:
            if self.inline(path):
                response = self.handler(path)
            else:
                response = await asyncio.get_running_loop().run_in_executor(self._pool, self.handler, path)
        except Exception as exc:  # noqa: BLE001 - an endpoint bug must not kill the server
            self.log.error("http_error", path=path, error=repr(exc))
            response = _plain(500, "internal error")
        return response, path, method == "HEAD"

    async def _write(self, writer: asyncio.StreamWriter, response: Response, head_only: bool = False) -> None:
        reason = _REASONS.get(response.status, "Unknown")
        head = (
            f"HTTP/1.1 {response.status} {reason}\r\nContent-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\nConnection: close\r\n\r\n"
        ).encode("latin-1")
        writer.write(head if head_only else head + response.body)
        await asyncio.wait_for(writer.drain(), self.write_timeout_s)
