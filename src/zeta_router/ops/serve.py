"""Running the gateway under uvicorn (uvloop event loop, httptools parser)."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import socket
from collections.abc import Callable
from typing import Any, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from zeta_router.app import create_app
from zeta_router.config import Config, ServerSettings
from zeta_router.errors import HeadersTooLarge, InvalidRequest, RequestTimeout, RouterError
from zeta_router.http.response import error_response
from zeta_router.http.server import App
from zeta_router.ops.lifecycle import GatewayServer
from zeta_router.ops.workers import Master, bind, check_workers
from zeta_router.router import Router

log = logging.getLogger("zeta_router")


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the gateway's own answers and bounds on the edge.

    A request the parser itself rejects (unknown method, garbage request line, malformed
    header) gets the gateway's OpenAI-style JSON error instead of uvicorn's plain-text 400.
    Such a request never reaches the app, so this is the only place to answer it. Framing is
    uvicorn's own: its default headers, Connection: close, then the connection is closed (the
    parser's state is unusable after an error).

    ``send_400_response`` is uvicorn's hook for exactly this answer (the only caller is
    ``data_received``'s parser-error branch), unchanged since at least uvicorn 0.30, the lowest
    version pyproject.toml allows; tests/test_http_errors.py fails if it ever stops being called.

    The bounds, from ``server`` in the config: headers (request line included) must arrive
    within ``header_timeout_s`` of the connection or of the request's first byte, and be at
    most ``max_header_bytes`` and ``max_headers``; the body must arrive within
    ``body_timeout_s`` of the headers. A breach is answered (408 or 431) and the connection
    closed, so a client trickling bytes holds a socket for a bounded time, never a task. A
    deadline is judged only once the loop has read what the socket holds, so a stall of the
    loop does not cut a client whose bytes came in time (tests/test_read_timeout_stall.py).

    Responses go out in request order (HTTP/1.1 pipelining): a request read while an earlier
    one is still being answered is behind it. Its deadline starts only once it is current (the
    responses ahead of it complete; until then uvicorn reads no more once its head is in, and
    its head is bounded by ``max_header_bytes``), and a refusal of it (a parser error, a head
    too large) waits for them: reading stops, the refusal is written after them, then the
    connection is closed (tests/test_pipelined_refusal.py).
    """

    def __init__(
        self, *args: Any, settings: Callable[[], ServerSettings] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._bounds = settings() if settings is not None else ServerSettings()
        self._read_timer: asyncio.TimerHandle | None = None
        #: A deadline's verdict, once its timer found it due (see ``_check``).
        self._verdict: asyncio.Handle | None = None
        #: When the current head or body must be complete (None: nothing pending), and which.
        self._deadline: float | None = None
        self._what = "headers"
        #: Between a request's first byte and its headers' end / between that and its end.
        self._in_head = False
        self._in_body = False
        #: Bytes read since the last request's headers ended (the next head, so far).
        self._head_bytes = 0
        self._refusal: RouterError | None = None
        #: The cycle of the request before the one whose body is being read (see ``_ahead``).
        self._before: RequestResponseCycle | None = None
        #: A refusal of a request behind others, to write once their responses are out.
        self._deferred: RouterError | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch(self._bounds.header_timeout_s, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline = None
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        if self._verdict is not None:
            self._verdict.cancel()
            self._verdict = None
        super().connection_lost(exc)

    def _watch(self, seconds: float, what: str) -> None:
        """The current head or body must be in within ``seconds``. One lazily re-armed timer
        per connection, not one per request: a later deadline is an attribute store, the
        pending timer moves on to it when it fires (as the upstream stream watch does)."""
        self._what = what
        deadline = self._deadline = self.loop.time() + seconds
        timer = self._read_timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._read_timer = self.loop.call_at(deadline, self._check)

    def _check(self) -> None:
        self._read_timer = None
        deadline = self._deadline
        if deadline is None or self.transport.is_closing():
            return
        if self.loop.time() < deadline:
            self._read_timer = self.loop.call_at(deadline, self._check)
            return
        # Due, but this timer may run late: after a stall of the loop (the GIL held elsewhere,
        # a slow callback, a paused VM) the bytes the deadline waits for may have come in time
        # and still sit unread in the socket's buffer, since uvloop runs due timers right after
        # the I/O callbacks of a poll (one of which may be the stall), without polling again.
        # So the verdict waits until the loop has polled the socket once more and run what it
        # read: two call_soon hops, on uvloop (ready callbacks run before each poll) as on
        # asyncio (after each poll, but before the I/O callbacks that poll found).
        self._verdict = self.loop.call_soon(self._judge, deadline, 2)

    def _judge(self, deadline: float, hops: int) -> None:
        self._verdict = None
        if self._deadline != deadline or self.transport.is_closing():
            return  # the head or body is in (a later deadline has a timer of its own)
        if hops > 1:
            self._verdict = self.loop.call_soon(self._judge, deadline, hops - 1)
            return
        self._deadline = None
        self._read_timeout(self._what)

    def _read_timeout(self, what: str) -> None:
        b = self._bounds
        cycle = self.cycle
        if what == "body":
            if cycle is None or cycle.response_started:
                return  # the app answered without the whole body: not ours to cut
            # The app waits in receive(): it hears of a disconnect and returns.
            cycle.disconnected = True
            cycle.message_event.set()
        elif not self._in_head:
            self.transport.close()  # connected and never said a word: nothing to answer
            return
        seconds = b.header_timeout_s if what == "headers" else b.body_timeout_s
        self._refuse(RequestTimeout(f"The request's {what} did not arrive within {seconds:g}s"))

    def _ahead(self) -> RequestResponseCycle | None:
        """The last response ahead of the request being read, if it is still being written.
        Responses complete in order, so the others ahead of it are out once this one is."""
        prior = self._before if self._in_body else self.cycle
        return prior if prior is not None and not prior.response_complete else None

    def _arm(self) -> None:
        """The deadline of the request being read, if it is current and still incomplete."""
        if (
            self._deadline is not None
            or not (self._in_head or self._in_body)
            or self._ahead() is not None
        ):
            return
        if self._in_head:
            self._watch(self._bounds.header_timeout_s, "headers")
        else:
            self._watch(self._bounds.body_timeout_s, "body")

    def _refuse(self, err: RouterError) -> None:
        if self._ahead() is not None:
            # Written now, the refusal would be read as the answer to a request ahead of it.
            # Nothing more is read (data_received drops it); on_response_complete writes it.
            self._deferred = err
            self.flow.pause_reading()
            if self._in_body and self.pipeline and self.pipeline[0][0] is self.cycle:
                # Its head was queued behind the others: it is answered here, not by the app.
                self.pipeline.popleft()
                self.cycle.disconnected = True
            return
        resp = error_response(err)
        head = [STATUS_LINE[resp.status]]
        for name, value in [*self.server_state.default_headers, *resp.headers]:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-length: %d\r\n" % len(resp.body), b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + resp.body)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        # A deadline is set only for what is still incomplete once a read is parsed: the usual
        # request arrives whole in one read and costs none.
        if self._deferred is not None:
            # A refused request waits for the responses ahead of it: nothing after it is read
            # (the app's receive() resumes reading; this stops it again).
            self.flow.pause_reading()
            return
        if not self._in_body:
            self._head_bytes += len(data)
        super().data_received(data)
        if self.transport.is_closing() or self._deferred is not None:
            return
        if self._in_head and self._head_bytes > self._bounds.max_header_bytes:
            self._refuse(self._too_large())
        else:
            self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing() or self._ahead() is not None:
            return
        # The request read next is current now: its refusal goes out, or its deadline starts.
        err, self._deferred = self._deferred, None
        if err is not None:
            self._refuse(err)
        else:
            self._arm()

    def _too_large(self) -> HeadersTooLarge:
        b = self._bounds
        return HeadersTooLarge(
            f"The request line and headers exceed {b.max_header_bytes} bytes or {b.max_headers} "
            "headers"
        )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True

    def on_headers_complete(self) -> None:
        b = self._bounds
        headers = self.headers
        # The read that ended the head may hold body bytes too: only then is it measured.
        if len(headers) > b.max_headers or (
            self._head_bytes > b.max_header_bytes
            and len(self.url) + sum(len(n) + len(v) + 4 for n, v in headers) > b.max_header_bytes
        ):
            self._refusal = self._too_large()
            raise self._refusal  # the parser's error path answers it (send_400_response)
        self._in_head = False
        self._in_body = True
        self._head_bytes = 0
        self._deadline = None
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not before:
            self._before = before

    def on_message_complete(self) -> None:
        self._in_body = False
        self._deadline = None
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        self._refuse(self._refusal or InvalidRequest(msg))


def uvicorn_config(app: Any, host: str, port: int) -> uvicorn.Config:
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported OS
        loop = "asyncio"
    settings: Callable[[], ServerSettings] | None = None
    if isinstance(app, App):
        router = app.router
        # Read per connection: a reload's new bounds apply to the connections after it.
        settings = lambda: router.config.server  # noqa: E731
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=loop,
        # uvicorn calls what it is given with its own arguments; a partial passes as the class.
        http=cast(Any, functools.partial(HttpProtocol, settings=settings)),
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=30,
        # Keep client connections as long as typical SDK pools do.
        timeout_keep_alive=30,
        # Nothing reads the client address; the X-Forwarded-* middleware was a per-request
        # layer for nothing.
        proxy_headers=False,
    )


def run(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    config_path: str | None = None,
    workers: int = 1,
) -> int:
    h = host or config.listen.host
    p = port if port is not None else config.listen.port
    if workers == 1:
        log.info("zeta-router listening on http://%s:%d (%d models)", h, p, len(config.models))
        return _serve(config, h, p, config_path, None)
    check_workers(config, workers)
    sock = bind(h, p)
    p = int(sock.getsockname()[1])
    log.info(
        "zeta-router listening on http://%s:%d (%d models, %d workers sharing state through Redis)",
        h,
        p,
        len(config.models),
        workers,
    )
    master = Master(workers, sock, lambda s: _serve(config, h, p, config_path, s))
    return master.run()


def _serve(
    config: Config, host: str, port: int, config_path: str | None, sock: socket.socket | None
) -> int:
    router = Router(config, config_path=config_path)
    app = create_app(router)
    uv_config = uvicorn_config(app, host, port)
    uv_config.timeout_graceful_shutdown = math.ceil(config.server.shutdown_timeout_s)
    server = GatewayServer(uv_config, router, app)
    server.run(sockets=None if sock is None else [sock])
    return 0
