"""The HTTP server around the app: request-head limits, slow clients, and a drain on SIGTERM.

uvicorn runs the app with :class:`MlfnHttpProtocol`, its httptools protocol plus:

- **Limits on the request head**: at most ``max_headers`` header lines (431) and
  ``max_header_bytes`` for the request line and headers together (431), counted while the bytes
  arrive, so an unfinished 32 MiB header is refused after ~64 KiB instead of being buffered.
- **Slow clients**: a connection must finish each request head within ``header_timeout`` seconds
  of its first byte (408), and a connection that sends nothing at all is closed after the same
  time. Idle keep-alive connections close after ``keep_alive_timeout`` (uvicorn's own timer).
- **A drain on SIGTERM** (uvicorn closed idle keep-alive connections at once, together with the
  listener, and a request already on its way on such a connection met a reset): the listener
  closes; requests in flight and requests that arrive on open connections are answered with
  ``Connection: close``; a connection idle in the server's view may still hold a request in the
  kernel's buffer, so it is closed only after ``drain_idle_seconds`` without one. The whole drain
  is bounded by ``MLFN_GRACEFUL_SECONDS`` (uvicorn's ``timeout_graceful_shutdown``).

The limits travel to worker processes inside uvicorn's ``Config`` (attribute ``mlfn_limits``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
from typing import ClassVar

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import multiprocess

from .errors import ServingError, error_body
from .settings import HttpLimits


class HeadersTooLarge(ServingError):
    status, error = 431, "request_header_fields_too_large"


class RequestTimeout(ServingError):
    status, error = 408, "request_timeout"


_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class MlfnHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head limits, a head timeout and a drain (module doc)."""

    default_limits: ClassVar[HttpLimits] = HttpLimits()

    def __init__(self, config, server_state, app_state, _loop=None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: HttpLimits = getattr(config, "mlfn_limits", self.default_limits)
        self._counting = True  # between requests and while reading a head: bytes count as head
        self._in_head = False  # a request has begun and its headers are not complete
        self._head_bytes = 0
        self._head_lines = 0
        self._head_error: ServingError | None = None
        self._refused = False
        self._draining = False
        self._head_timer: asyncio.TimerHandle | None = None

    # -- connection
    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._counting:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._counting and not self._refused and self._head_bytes > self.limits.max_header_bytes:
            self._refuse(HeadersTooLarge(
                f"the request line and headers are over {self.limits.max_header_bytes} bytes "
                "(MLFN_MAX_HEADER_BYTES)"))

    # -- parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_lines = 0
        self._head_error = None
        self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        if not self._refused:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._refused or self._head_error is not None:
            return
        self._head_lines += 1
        if self._head_lines > self.limits.max_headers:
            self._head_error = HeadersTooLarge(
                f"more than {self.limits.max_headers} header lines (MLFN_MAX_HEADERS)")
            return
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        self._in_head = False
        self._counting = False
        self._head_bytes = 0
        if self._refused:
            return
        if self._head_error is not None:
            self._refuse(self._head_error)
            return
        super().on_headers_complete()
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False  # answered with Connection: close, then closed

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._counting = True
        if not self._refused:
            super().on_message_complete()

    # -- limits
    def _refuse(self, error: ServingError) -> None:
        """Answer a request that never reached the app, and close the connection."""
        self._refused = True
        self._cancel_head_timer()
        if self.transport.is_closing():
            return
        body = error_body(error, "")
        head = (b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n" % (error.status, _REASONS[error.status], len(body)))
        self.transport.write(head + body)
        self.transport.close()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timeout)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._refused:
            return
        if self._in_head:
            self._refuse(RequestTimeout(
                f"the request headers did not arrive within {self.limits.header_timeout:g} s "
                "(MLFN_HEADER_TIMEOUT_SECONDS)"))
        elif self.cycle is None:  # connected, never sent a byte
            self.transport.close()

    # -- drain
    def shutdown(self) -> None:
        self._draining = True
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
            return
        # Idle as far as the server knows; the client's next request may be in the kernel's buffer.
        self.loop.call_later(self.limits.drain_idle_seconds, self._close_if_idle)

    def _close_if_idle(self) -> None:
        if self.transport.is_closing() or self._in_head:
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()


class Server(uvicorn.Server):
    """uvicorn's Server, except that SIGTERM after a clean drain exits 0 instead of re-raising."""

    @contextlib.contextmanager
    def capture_signals(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def run_workers(config: uvicorn.Config, gpus: tuple[str, ...]) -> int:
    """Serve with ``config.workers`` processes; 1 when a worker cannot start (the model failed)."""
    sock = config.bind_socket()
    PinnedProcess.gpus = gpus
    supervisor = Supervisor(config, sockets=[sock])
    original = multiprocess.Process
    # uvicorn's supervisor makes its workers by this module-level name (first start, replacements
    # of dead workers, SIGHUP, SIGTTIN); the subclass gives each its GPU.
    multiprocess.Process = PinnedProcess  # type: ignore[misc]
    try:
        supervisor.run()
    finally:
        multiprocess.Process = original  # type: ignore[misc]
    return 1 if supervisor.startup_failed else 0


class PinnedProcess(multiprocess.Process):
    """A worker that sees one GPU: slot ``i`` (the lowest free) gets ``gpus[i % len(gpus)]``."""

    gpus: ClassVar[tuple[str, ...]] = ()
    slots: ClassVar[dict[int, PinnedProcess]] = {}

    def start(self) -> None:
        for slot, process in list(self.slots.items()):
            if process.exitcode is not None:
                del self.slots[slot]
        self.slot = next(i for i in range(len(self.slots) + 1) if i not in self.slots)
        self.slots[self.slot] = self
        if not self.gpus:
            super().start()
            return
        before = os.environ.get("CUDA_VISIBLE_DEVICES")
        os.environ["CUDA_VISIBLE_DEVICES"] = self.gpus[self.slot % len(self.gpus)]
        try:
            super().start()  # a spawned worker inherits the environment of this moment
        finally:
            if before is None:
                del os.environ["CUDA_VISIBLE_DEVICES"]
            else:
                os.environ["CUDA_VISIBLE_DEVICES"] = before


class Supervisor(multiprocess.Multiprocess):
    """uvicorn's multiprocess supervisor, plus: on SIGTERM the listener is closed here too (else new
    connections queue on the supervisor's copy and are reset at exit); a worker that fails to
    start (the model did not load) ends the whole start."""

    startup_failed = False

    def handle_term(self) -> None:
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RD)
            s.close()
        super().handle_term()

    def handle_int(self) -> None:
        self.handle_term()

    def keep_subprocess_alive(self) -> None:
        super().keep_subprocess_alive()
        if any(p.exitcode == STARTUP_FAILURE for p in self.processes):
            self.startup_failed = True
            self.should_exit.set()
