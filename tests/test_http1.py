"""The keep-alive HTTP/1.1 client (http1.py) against real sockets.

Each test talks to a scripted server made with ``asyncio.start_server``: the handler reads the
request bytes and writes the exact response bytes the test chose, so framing, keep-alive and
failure cases are precise. The client's connections are observed through wrappers around
``_Connection``'s protocol callbacks (connections made, lost, bytes received, reads paused), so
every wait is on an event, never on a sleep. Every test ends by checking that each connection
the client opened was closed by then or by ``Pool.close()`` (no leaked transports).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import itertools
import random
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
import uvloop

from zeta_router.config import Timeouts, parse_config
from zeta_router.errors import FailureKind, UpstreamError
from zeta_router.fleet.state import Fleet
from zeta_router.testing import FakeBackend
from zeta_router.upstream import http1
from zeta_router.upstream.attempt import EXCEPTIONS, translate
from zeta_router.upstream.http_transport import HttpTransport

Handler = Callable[["Peer"], Awaitable[None]]

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


# -- the scripted server ------------------------------------------------------------------------


class Peer:
    """The server's side of one accepted connection."""

    def __init__(
        self,
        server: Server,
        index: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.server = server
        self.index = index  # 0 for the first connection accepted
        self.reader = reader
        self.writer = writer
        self.requests: list[bytes] = []

    async def request(self) -> bytes:
        """One whole request (head and Content-Length body); b"" at EOF."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.server.saw_client_close(self)
            return b""
        m = re.search(rb"\r\ncontent-length: *(\d+)\r\n", head, re.IGNORECASE)
        body = await self.reader.readexactly(int(m.group(1))) if m else b""
        self.requests.append(head + body)
        return head + body

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def until_client_closes(self) -> None:
        """Wait for the client to close (EOF or reset); fails if it sends anything else."""
        try:
            rest = await self.reader.read()
        except ConnectionError:
            rest = b""
        assert rest == b""
        self.server.saw_client_close(self)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class Server:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.peers: list[Peer] = []
        self.client_closed: list[int] = []  # indexes of connections the client closed
        self._closed_changed = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def accepted(self) -> int:
        return len(self.peers)

    def url(self, path: str = "/v1/chat/completions") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def saw_client_close(self, peer: Peer) -> None:
        if peer.index not in self.client_closed:
            self.client_closed.append(peer.index)
            self._closed_changed.set()

    async def clients_closed(self, n: int) -> None:
        """Wait until the client has closed ``n`` connections."""
        async with asyncio.timeout(1):
            while len(self.client_closed) < n:
                self._closed_changed.clear()
                await self._closed_changed.wait()

    async def start(self, host: str = "127.0.0.1") -> Server:
        self._server = await asyncio.start_server(self._serve, host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        peer = Peer(self, len(self.peers), reader, writer)
        self.peers.append(peer)
        try:
            await self.handler(peer)
        except asyncio.CancelledError:
            pass  # stopped by the test's teardown (a cancelled callback task is logged)
        finally:
            await peer.close()
            self._tasks.discard(task)

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


async def serve_forever(peer: Peer, response: bytes = OK) -> None:
    """Answer every request on the connection with ``response`` until the client closes."""
    while await peer.request():
        await peer.send(response)


# -- watching the client's connections ---------------------------------------------------------


class Watch:
    """Wrappers around the client connections' protocol callbacks."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.conns: list[http1._Connection] = []
        self.received: list[bytes] = []
        self.arrived = asyncio.Event()  # set after each data_received has been parsed
        self.paused = asyncio.Event()
        self.finished = asyncio.Event()  # set when a response's body completes or fails
        self.pauses = 0
        self.resumes = 0
        self.max_buffered = 0
        self._lost: dict[int, asyncio.Future[None]] = {}
        cls = http1._Connection
        made, lost, received = cls.connection_made, cls.connection_lost, cls.data_received
        pause, resume = cls.pause, cls.resume
        feed, finish = http1.Response._feed, http1.Response._finish
        watch = self

        def connection_made(conn: http1._Connection, transport: Any) -> None:
            made(conn, transport)
            watch.conns.append(conn)
            watch._lost[id(conn)] = asyncio.get_running_loop().create_future()

        def connection_lost(conn: http1._Connection, exc: Exception | None) -> None:
            lost(conn, exc)
            fut = watch._lost[id(conn)]
            if not fut.done():
                fut.set_result(None)

        def data_received(conn: http1._Connection, data: bytes) -> None:
            watch.received.append(data)
            received(conn, data)
            watch.arrived.set()

        def pause_(conn: http1._Connection) -> None:
            was = conn._paused
            pause(conn)
            if conn._paused and not was:
                watch.pauses += 1
                watch.paused.set()

        def resume_(conn: http1._Connection) -> None:
            was = conn._paused
            resume(conn)
            if was and not conn._paused:
                watch.resumes += 1

        def feed_(resp: http1.Response, data: bytes) -> None:
            feed(resp, data)
            watch.max_buffered = max(watch.max_buffered, resp._size)

        monkeypatch.setattr(cls, "connection_made", connection_made)
        monkeypatch.setattr(cls, "connection_lost", connection_lost)
        monkeypatch.setattr(cls, "data_received", data_received)
        monkeypatch.setattr(cls, "pause", pause_)
        monkeypatch.setattr(cls, "resume", resume_)

        def finish_(resp: http1.Response, error: OSError | None = None) -> None:
            finish(resp, error)
            watch.finished.set()

        monkeypatch.setattr(http1.Response, "_feed", feed_)
        monkeypatch.setattr(http1.Response, "_finish", finish_)

    def lost(self, conn: http1._Connection) -> asyncio.Future[None]:
        return self._lost[id(conn)]

    def is_lost(self, conn: http1._Connection) -> bool:
        return self._lost[id(conn)].done()


@pytest.fixture()
def watch(monkeypatch: pytest.MonkeyPatch) -> Watch:
    return Watch(monkeypatch)


@contextlib.asynccontextmanager
async def client(watch: Watch) -> AsyncIterator[http1.Pool]:
    p = http1.Pool(asyncio.get_running_loop())
    try:
        yield p
    finally:
        p.close()
    # Every connection is closed by now: a response the test forgot, or a connection the
    # client forgot to close, would stay open here (and warn as an unclosed transport).
    async with asyncio.timeout(1):
        for conn in watch.conns:
            await watch.lost(conn)


@contextlib.asynccontextmanager
async def servers() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    started: list[Server] = []

    async def start(handler: Handler, host: str = "127.0.0.1") -> Server:
        server = await Server(handler).start(host)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            await server.stop()


@pytest.fixture()
async def pool(watch: Watch) -> AsyncIterator[http1.Pool]:
    async with client(watch) as p:
        yield p


@pytest.fixture()
async def start() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    async with servers() as s:
        yield s


async def request(
    pool: http1.Pool,
    url: str,
    body: bytes = b"",
    headers: bytes = b"",
    method: bytes = b"POST",
) -> http1.Response:
    return await pool.request(method, pool.target(url), headers, body, 1.0)


async def fetch(pool: http1.Pool, url: str) -> bytes:
    """One request whose body is read whole and whose connection is handed back."""
    resp = await request(pool, url)
    body = await resp.read()
    resp.release()
    return body


def idle(pool: http1.Pool) -> list[http1._Connection]:
    return [c for conns in pool._idle.values() for c in conns]


async def paced(peer: Peer, watch: Watch, pieces: list[bytes]) -> None:
    """Write each piece only once the client has received the previous one, so each arrives
    in its own ``data_received`` call (TCP cannot merge them)."""
    for piece in pieces:
        watch.arrived.clear()
        await peer.send(piece)
        await watch.arrived.wait()


# -- keep-alive ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "response",
    [
        OK,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\no\r\n1\r\nk\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["content-length", "chunked", "empty", "204", "http1.0-keep-alive"],
)
async def test_sequential_requests_share_one_connection(
    pool: http1.Pool, start: Any, watch: Watch, response: bytes
) -> None:
    server = await start(lambda peer: serve_forever(peer, response))
    first = await fetch(pool, server.url())
    second = await fetch(pool, server.url())
    assert first == second
    assert server.accepted == 1
    assert len(watch.conns) == 1
    assert idle(pool) == watch.conns
    assert len(server.peers[0].requests) == 2


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["connection-close", "http1.0"],
)
async def test_a_connection_the_server_wants_closed_is_not_reused(
    pool: http1.Pool, start: Any, watch: Watch, response: bytes
) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(response)
        # The server leaves the socket open: the client must close it on its own.
        await peer.until_client_closes()

    server = await start(handler)
    assert await fetch(pool, server.url()) == b"ok"
    await watch.lost(watch.conns[0])
    assert idle(pool) == []
    assert await fetch(pool, server.url()) == b"ok"
    assert server.accepted == 2


async def test_an_idle_connection_the_server_closed_is_not_reused(
    pool: http1.Pool, start: Any, watch: Watch
) -> None:
    drop = asyncio.Event()

    async def handler(peer: Peer) -> None:
        if peer.index == 0:
            await peer.request()
            await peer.send(OK)
            await drop.wait()  # then the handler returns and the server closes the socket
        else:
            await serve_forever(peer)

    server = await start(handler)
    assert await fetch(pool, server.url()) == b"ok"
    first = watch.conns[0]
    assert idle(pool) == [first]
    drop.set()
    await watch.lost(first)  # the client noticed while the connection sat in the pool
    assert await fetch(pool, server.url()) == b"ok"
    assert server.accepted == 2
    assert idle(pool) == [watch.conns[1]]


async def test_a_reused_connection_closed_before_any_answer_is_retried_once_on_a_new_one(
    pool: http1.Pool, start: Any, watch: Watch
) -> None:
    # The keep-alive race: the server drops the connection as the next request arrives,
    # before the client noticed it was closing. Nothing was answered: one more try, fresh.
    async def handler(peer: Peer) -> None:
        if peer.index == 0:
            await peer.request()
            await peer.send(OK)
            await peer.request()  # the second request: closed without a byte of answer
        else:
            await serve_forever(peer)

    server = await start(handler)
    assert await fetch(pool, server.url()) == b"ok"
    assert await fetch(pool, server.url()) == b"ok"
    assert server.accepted == 2


async def test_no_retry_when_a_new_connection_closes_without_answering(
    pool: http1.Pool, start: Any
) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()  # then closed without answering

    server = await start(handler)
    with pytest.raises(http1.Disconnected):
        await fetch(pool, server.url())
    assert server.accepted == 1


async def test_no_retry_after_part_of_an_answer_arrived(
    pool: http1.Pool, start: Any, watch: Watch
) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(OK)
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Le")  # a partial head, then closed

    server = await start(handler)
    assert await fetch(pool, server.url()) == b"ok"
    with pytest.raises(http1.Disconnected):
        await fetch(pool, server.url())
    assert server.accepted == 1


@pytest.mark.parametrize("together", [True, False])
async def test_unsolicited_bytes_close_the_connection(
    pool: http1.Pool, start: Any, watch: Watch, together: bool
) -> None:
    # A 408 the client did not ask for, glued to the answer or sent while the connection
    # sits idle; the socket stays open. Kept, it would pass for the next request's answer.
    stray = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"
    idle_now = asyncio.Event()

    async def handler(peer: Peer) -> None:
        if peer.index == 0:
            await peer.request()
            if together:
                await peer.send(OK + stray)
            else:
                await peer.send(OK)
                await idle_now.wait()
                await peer.send(stray)
            await peer.until_client_closes()
        else:
            await serve_forever(peer)

    server = await start(handler)
    assert await fetch(pool, server.url()) == b"ok"
    idle_now.set()
    async with asyncio.timeout(1):  # dropped at once, not by the idle reaper 15 s later
        await watch.lost(watch.conns[0])
    assert await fetch(pool, server.url()) == b"ok"
    assert server.accepted == 2


@pytest.mark.parametrize("reused", [True, False])
async def test_an_idle_connection_older_than_the_idle_limit_is_not_reused(
    pool: http1.Pool, start: Any, watch: Watch, reused: bool
) -> None:
    async def handler(peer: Peer) -> None:
        await serve_forever(peer)

    server = await start(handler)
    assert await fetch(pool, server.url()) == b"ok"
    first = watch.conns[0]
    # Age the pooled connection instead of waiting: idle for just under or just over the limit.
    first.idle_since -= http1._IDLE_S - 1.0 if reused else http1._IDLE_S + 0.01
    assert await fetch(pool, server.url()) == b"ok"
    if reused:
        assert server.accepted == 1
    else:
        assert server.accepted == 2
        assert first.closed
        await watch.lost(first)
        assert idle(pool) == [watch.conns[1]]


async def test_the_pool_closes_connections_left_idle_past_the_limit(
    pool: http1.Pool, start: Any, watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http1, "_IDLE_S", 0.01)

    async def handler(peer: Peer) -> None:
        await serve_forever(peer)

    server = await start(handler)
    assert await fetch(pool, server.url()) == b"ok"
    assert idle(pool) == watch.conns
    await watch.lost(watch.conns[0])  # closed by the pool's timer, not by a request
    assert idle(pool) == []
    await server.clients_closed(1)


async def test_idle_connections_past_the_per_origin_limit_are_closed(
    pool: http1.Pool, start: Any, watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http1, "_MAX_IDLE", 1)
    server = await start(serve_forever)
    a, b = await asyncio.gather(request(pool, server.url()), request(pool, server.url()))
    assert await a.read() == await b.read() == b"ok"
    a.release()
    b.release()
    assert server.accepted == 2
    assert idle(pool) == [watch.conns[0]] or idle(pool) == [watch.conns[1]]
    (dropped,) = (c for c in watch.conns if c not in idle(pool))
    await watch.lost(dropped)


async def test_pool_close_aborts_idle_connections(
    pool: http1.Pool, start: Any, watch: Watch
) -> None:
    async def handler(peer: Peer) -> None:
        await serve_forever(peer)

    server = await start(handler)
    a, b = await asyncio.gather(request(pool, server.url()), request(pool, server.url()))
    assert await a.read() == await b.read() == b"ok"
    a.release()
    b.release()
    assert len(idle(pool)) == 2
    pool.close()
    assert idle(pool) == []
    assert all(c.closed for c in watch.conns)
    for conn in watch.conns:
        await watch.lost(conn)
    await server.clients_closed(2)
    assert sorted(server.client_closed) == [0, 1]


async def test_pool_close_aborts_connections_in_use(
    pool: http1.Pool, start: Any, watch: Watch
) -> None:
    asked = asyncio.Event()

    async def handler(peer: Peer) -> None:
        await peer.request()
        asked.set()
        await peer.until_client_closes()  # never answers

    server = await start(handler)
    pending = asyncio.ensure_future(request(pool, server.url()))
    await asked.wait()
    pool.close()  # a router shutting down with a request in flight
    with pytest.raises(http1.Disconnected):
        async with asyncio.timeout(1):
            await pending
    await watch.lost(watch.conns[0])


# -- body framing --------------------------------------------------------------------------------


async def test_content_length_body(pool: http1.Pool, start: Any) -> None:
    response = (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Twice: a\r\n"
        b"x-twice: b\r\nContent-Length: 11\r\n\r\nhello world"
    )
    server = await start(lambda peer: serve_forever(peer, response))
    resp = await request(pool, server.url())
    assert resp.status == 201
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers.getall("X-Twice") == ["a", "b"]
    assert await resp.read() == b"hello world"
    assert await resp.readany() == b""
    resp.release()


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\n1;ext=yes\r\n \r\nA\r\n0123456789\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n"
    b"0\r\n\r\n"
)
CHUNKED_BODY = b"hello 0123456789abcdefghijklmnopqrstuvwxyz"


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


HEAD_END = CHUNKED.index(b"\r\n\r\n") + 4


@pytest.mark.parametrize(
    "pieces",
    [
        [CHUNKED],
        # Inside the head, between a chunk size and its CRLF, inside CRLFs, inside a chunk's
        # data, inside the extension, and inside the terminating zero chunk.
        split_at(
            CHUNKED,
            [
                20,
                HEAD_END - 1,
                HEAD_END + 1,
                HEAD_END + 2,
                HEAD_END + 6,
                HEAD_END + 12,
                HEAD_END + 19,
                HEAD_END + 40,
                len(CHUNKED) - 4,
                len(CHUNKED) - 1,
            ],
        ),
        [CHUNKED[i : i + 1] for i in range(len(CHUNKED))],
    ],
    ids=["one-write", "awkward-splits", "byte-by-byte"],
)
async def test_chunked_body_split_across_writes(
    pool: http1.Pool, start: Any, watch: Watch, pieces: list[bytes]
) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await paced(peer, watch, pieces)
        await serve_forever(peer)

    server = await start(handler)
    resp = await request(pool, server.url())
    assert resp.headers["Content-Type"] == "text/event-stream"
    assert await resp.read() == CHUNKED_BODY
    assert watch.received == pieces  # each piece really arrived on its own
    resp.release()
    # The parser is ready for the next answer on the same connection.
    assert await fetch(pool, server.url()) == b"ok"
    assert server.accepted == 1


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\n",
    ],
    ids=["http1.1", "http1.0"],
)
async def test_body_delimited_by_connection_close_is_complete_at_eof(
    pool: http1.Pool, start: Any, watch: Watch, response: bytes
) -> None:
    go_on = asyncio.Event()

    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(response + b"first ")
        for part in (b"second", b" third"):
            await go_on.wait()  # the client has read the previous part
            go_on.clear()
            await peer.send(part)
        # Returning closes the connection: that ends the body.

    server = await start(handler)
    resp = await request(pool, server.url())
    assert await resp.readany() == b"first "
    go_on.set()
    assert await resp.readany() == b"second"
    go_on.set()
    assert await resp.read() == b" third"
    assert await resp.readany() == b""
    resp.release()
    await watch.lost(watch.conns[0])
    assert idle(pool) == []
    assert server.accepted == 1


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nhel",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
    ],
    ids=["cl-partial", "cl-empty", "chunked-between", "chunked-inside", "chunked-no-final-crlf"],
)
async def test_a_framed_body_cut_short_is_truncated(
    pool: http1.Pool, start: Any, watch: Watch, response: bytes
) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(response)  # and close

    server = await start(handler)
    resp = await request(pool, server.url())
    with pytest.raises(http1.TruncatedBody) as caught:
        await resp.read()
    err = translate(caught.value, "stream")
    assert err.kind is FailureKind.RESET
    assert err.detail == "truncated body"
    resp.close()
    await watch.lost(watch.conns[0])
    assert idle(pool) == []


@pytest.mark.parametrize("split", [False, True])
async def test_interim_responses_are_skipped(
    pool: http1.Pool, start: Any, watch: Watch, split: bool
) -> None:
    interim = [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
    ]
    final = b"HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 2\r\n\r\nok"

    async def handler(peer: Peer) -> None:
        await peer.request()
        if split:
            await paced(peer, watch, [*interim, final])
        else:
            await peer.send(b"".join([*interim, final]))
        await serve_forever(peer)

    server = await start(handler)
    resp = await request(pool, server.url())
    assert resp.status == 200
    assert dict(resp.headers) == {"X-Final": "yes", "Content-Length": "2"}
    assert await resp.read() == b"ok"
    resp.release()
    assert await fetch(pool, server.url()) == b"ok"
    assert server.accepted == 1


# -- failures ------------------------------------------------------------------------------------


async def test_connection_refused_is_a_connect_error(pool: http1.Pool) -> None:
    with socket.socket() as sock:  # bound but not listening: connecting to it is refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(http1.ConnectError) as caught:
            await request(pool, f"http://127.0.0.1:{port}/v1")
    assert isinstance(caught.value.os_error, ConnectionRefusedError)
    err = translate(caught.value, "connect")
    assert err.kind is FailureKind.CONNECT
    assert err.detail == "ConnectionRefusedError"


async def test_a_connection_not_made_in_time_is_a_connect_timeout(
    pool: http1.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    never: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def create_connection(*args: Any, **kwargs: Any) -> Any:
        return await never

    monkeypatch.setattr(pool.loop, "create_connection", create_connection)
    target = pool.target("http://127.0.0.1:9/v1")
    with pytest.raises(http1.ConnectTimeout):
        await pool.request(b"POST", target, b"", b"", 0.01)
    assert translate(http1.ConnectTimeout("x"), "connect").kind is FailureKind.CONNECT_TIMEOUT


@pytest.mark.parametrize("how", ["cancel", "timeout"])
async def test_a_request_abandoned_while_waiting_for_headers_leaves_nothing_behind(
    pool: http1.Pool, start: Any, watch: Watch, how: str
) -> None:
    asked = asyncio.Event()

    async def handler(peer: Peer) -> None:
        if peer.index == 0:
            await peer.request()
            asked.set()
            await peer.until_client_closes()  # never answers
        else:
            await serve_forever(peer)

    server = await start(handler)
    if how == "cancel":
        task = asyncio.create_task(request(pool, server.url()))
        await asked.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(request(pool, server.url()), 0.05)
        assert asked.is_set()
    first = watch.conns[0]
    assert first.closed
    assert idle(pool) == []
    await watch.lost(first)
    # A fresh connection serves the next request.
    assert await fetch(pool, server.url()) == b"ok"
    assert server.accepted == 2
    await server.clients_closed(1)


@pytest.mark.parametrize(
    "response",
    [
        b"garbage\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
    ],
    ids=["garbage", "bad-status", "bad-length", "upgrade"],
)
async def test_an_invalid_response_head_is_a_protocol_error(
    pool: http1.Pool, start: Any, watch: Watch, response: bytes
) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(response)
        await peer.until_client_closes()

    server = await start(handler)
    with pytest.raises(http1.ProtocolError) as caught:
        await request(pool, server.url())
    assert translate(caught.value, "first byte").kind is FailureKind.MALFORMED
    await watch.lost(watch.conns[0])
    assert idle(pool) == []


async def test_an_invalid_chunk_is_a_protocol_error(
    pool: http1.Pool, start: Any, watch: Watch
) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await paced(peer, watch, [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"])
        await peer.send(b"2\r\nok\r\nzz\r\n")
        await peer.until_client_closes()

    server = await start(handler)
    resp = await request(pool, server.url())
    with pytest.raises(http1.ProtocolError) as caught:
        await resp.read()
    assert translate(caught.value, "stream").kind is FailureKind.MALFORMED
    resp.close()
    await watch.lost(watch.conns[0])


async def test_server_closing_before_answering_is_disconnected(
    pool: http1.Pool, start: Any, watch: Watch
) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()  # then close without a byte

    server = await start(handler)
    with pytest.raises(http1.Disconnected) as caught:
        await request(pool, server.url())
    err = translate(caught.value, "first byte")
    assert err.kind is FailureKind.RESET
    assert err.reason == "connection reset: server closed the connection"
    await watch.lost(watch.conns[0])
    assert idle(pool) == []


# -- request bytes -------------------------------------------------------------------------------


async def test_the_request_arrives_exactly(pool: http1.Pool, start: Any) -> None:
    server = await start(serve_forever)
    body = b'{"model": "m", "messages": []}'
    headers = b"Content-Type: application/json\r\nAuthorization: Bearer k\r\n"
    resp = await request(
        pool, server.url("/v1/chat/completions?api-version=2&x=a%20b"), body, headers
    )
    assert await resp.read() == b"ok"
    resp.release()
    assert server.peers[0].requests == [
        b"POST /v1/chat/completions?api-version=2&x=a%%20b HTTP/1.1\r\n"
        b"Host: 127.0.0.1:%d\r\n"
        b"Content-Type: application/json\r\nAuthorization: Bearer k\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (server.port, len(body), body)
    ]


async def test_an_empty_body_is_sent_with_a_zero_length(pool: http1.Pool, start: Any) -> None:
    server = await start(serve_forever)
    resp = await request(pool, server.url("/health"), method=b"GET")
    await resp.read()
    resp.release()
    assert server.peers[0].requests == [
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 0\r\n\r\n" % server.port
    ]


async def test_an_ipv6_host_is_bracketed(pool: http1.Pool, start: Any) -> None:
    try:
        server = await start(serve_forever, "::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    assert await fetch(pool, f"http://[::1]:{server.port}/v1") == b"ok"
    assert (
        server.peers[0]
        .requests[0]
        .startswith(b"POST /v1 HTTP/1.1\r\nHost: [::1]:%d\r\n" % server.port)
    )


@pytest.mark.parametrize(
    ("url", "key", "host", "path"),
    [
        ("http://example.com/v1", ("http", "example.com", 80), b"example.com", b"/v1"),
        ("http://example.com:80/v1", ("http", "example.com", 80), b"example.com", b"/v1"),
        ("http://Example.COM:8080", ("http", "example.com", 8080), b"example.com:8080", b"/"),
        ("http://example.com:443/", ("http", "example.com", 443), b"example.com:443", b"/"),
        ("https://example.com:443/", ("https", "example.com", 443), b"example.com", b"/"),
        ("https://example.com/", ("https", "example.com", 443), b"example.com", b"/"),
        ("https://example.com:80/", ("https", "example.com", 80), b"example.com:80", b"/"),
        ("http://10.0.0.2:9000/v1/", ("http", "10.0.0.2", 9000), b"10.0.0.2:9000", b"/v1/"),
        ("http://[::1]:8080/v1", ("http", "::1", 8080), b"[::1]:8080", b"/v1"),
        ("http://[::1]/v1", ("http", "::1", 80), b"[::1]", b"/v1"),
        ("https://[fe80::1]:443/", ("https", "fe80::1", 443), b"[fe80::1]", b"/"),
        ("http://h/v1?a=1&b=%2F", ("http", "h", 80), b"h", b"/v1?a=1&b=%2F"),
        ("http://h?a=1", ("http", "h", 80), b"h", b"/?a=1"),
        ("http://h/v1#frag", ("http", "h", 80), b"h", b"/v1"),
    ],
)
def test_target_parse(url: str, key: tuple[str, str, int], host: bytes, path: bytes) -> None:
    t = http1.Target.parse(url)
    assert (t.key, t.host_header, t.path, t.basic_auth) == (key, host, path, None)


@pytest.mark.parametrize("url", ["ftp://h/x", "fake:b1", "http:///nohost", "/relative"])
def test_target_parse_rejects_non_http_urls(url: str) -> None:
    with pytest.raises(ValueError):
        http1.Target.parse(url)


async def test_url_credentials_become_basic_auth_and_stay_off_the_wire(
    pool: http1.Pool, start: Any
) -> None:
    server = await start(serve_forever)
    url = f"http://alice:s%40cret%3A1@127.0.0.1:{server.port}/v1/models?q=1"
    target = pool.target(url)
    assert target.basic_auth == "Basic " + base64.b64encode(b"alice:s@cret:1").decode()
    assert target.host_header == b"127.0.0.1:%d" % server.port
    assert target.path == b"/v1/models?q=1"
    assert await fetch(pool, url) == b"ok"
    sent = server.peers[0].requests[0]
    assert sent.startswith(b"POST /v1/models?q=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % server.port)
    for secret in (b"alice", b"s%40cret", b"s@cret", b"cret"):
        assert secret not in sent
    # A user without a password still authenticates (as "user:").
    assert (
        http1.Target.parse("http://bob@h/").basic_auth
        == "Basic " + base64.b64encode(b"bob:").decode()
    )


# -- streaming and backpressure ------------------------------------------------------------------


async def test_readany_returns_data_as_it_arrives(
    pool: http1.Pool, start: Any, watch: Watch
) -> None:
    go_on = asyncio.Event()

    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for event in (b"data: one\n\n", b"data: two\n\n", b"data: [DONE]\n\n"):
            await go_on.wait()  # the client has read the previous event
            go_on.clear()
            await peer.send(b"%x\r\n%s\r\n" % (len(event), event))
        await go_on.wait()
        await peer.send(b"0\r\n\r\n")
        await serve_forever(peer)

    server = await start(handler)
    resp = await request(pool, server.url())
    for event in (b"data: one\n\n", b"data: two\n\n", b"data: [DONE]\n\n"):
        go_on.set()
        assert await resp.readany() == event
    go_on.set()
    assert await resp.readany() == b""
    resp.release()
    assert idle(pool) == watch.conns


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_slow_reader_pauses_the_socket_and_gets_every_byte(
    pool: http1.Pool, start: Any, watch: Watch, chunked: bool
) -> None:
    body = random.Random(7).randbytes(3 * 1024 * 1024 + 17)
    if chunked:
        step = 100_000
        framed = b"".join(
            b"%x\r\n%s\r\n" % (len(body[i : i + step]), body[i : i + step])
            for i in range(0, len(body), step)
        )
        head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        response = head + framed + b"0\r\n\r\n"
    else:
        response = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    server = await start(lambda peer: serve_forever(peer, response))
    resp = await request(pool, server.url())
    parts: list[bytes] = []
    while True:
        # A slow consumer: it reads only when the client has stopped reading the socket (or
        # the body is complete), so the buffer always reaches the high-water mark first.
        waits = [asyncio.ensure_future(e.wait()) for e in (watch.paused, watch.finished)]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
        if watch.paused.is_set():
            assert watch.conns[0].transport is not None
            assert not watch.conns[0].transport.is_reading()
        watch.paused.clear()
        data = await resp.readany()
        if not data:
            break
        parts.append(data)
    assert b"".join(parts) == body
    assert watch.pauses >= 3
    assert watch.resumes == watch.pauses
    # Paused at the mark: at most one socket read (256 KiB) lands beyond it.
    assert watch.max_buffered <= http1._HIGH_WATER + 256 * 1024
    resp.release()
    assert await fetch(pool, server.url()) == body  # still usable
    assert server.accepted == 1


async def test_a_done_response_released_while_paused_leaves_a_working_connection(
    pool: http1.Pool, start: Any, watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The whole answer arrives and crosses the high-water mark with its last byte, so the
    # connection stops reading just as the body completes. Released unread, the connection
    # goes back to the pool: it must read again, or the next answer on it is never seen.
    monkeypatch.setattr(http1, "_HIGH_WATER", 4)
    server = await start(
        lambda peer: serve_forever(peer, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    )
    resp = await request(pool, server.url())
    await watch.finished.wait()
    assert resp._done
    assert watch.pauses == 1
    resp.release()
    assert idle(pool) == watch.conns
    async with asyncio.timeout(1):
        resp = await request(pool, server.url())
        assert await resp.read() == b"hello"
    resp.release()
    assert server.accepted == 1


async def test_close_wakes_a_pending_read_with_disconnected(
    pool: http1.Pool, start: Any, watch: Watch
) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await peer.until_client_closes()

    server = await start(handler)
    resp = await request(pool, server.url())
    reading = asyncio.create_task(resp.readany())
    await asyncio.sleep(0)  # the read starts and waits for data
    assert resp._waiter is not None
    resp.close()
    with pytest.raises(http1.Disconnected):
        await reading
    with pytest.raises(http1.Disconnected):
        await resp.readany()
    await watch.lost(watch.conns[0])
    assert idle(pool) == []
    await server.clients_closed(1)


async def test_a_stream_released_before_its_terminator_goes_back_to_the_pool(
    pool: http1.Pool, start: Any, watch: Watch
) -> None:
    go_on = asyncio.Event()

    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await peer.send(b"e\r\ndata: [DONE]\n\n\r\n")
        await go_on.wait()  # released by then
        await peer.send(b"3\r\nxyz\r\n0\r\n\r\n")
        await serve_forever(peer)

    server = await start(handler)
    resp = await request(pool, server.url())
    assert await resp.readany() == b"data: [DONE]\n\n"
    resp.release()
    assert idle(pool) == []
    watch.arrived.clear()
    go_on.set()
    await watch.arrived.wait()  # the rest is read and dropped; the connection is pooled
    assert idle(pool) == watch.conns
    assert await fetch(pool, server.url()) == b"ok"
    assert server.accepted == 1


async def test_a_released_answer_that_stops_arriving_is_dropped(
    pool: http1.Pool, start: Any, watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http1, "_DRAIN_S", 0.01)

    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        await peer.until_client_closes()

    server = await start(handler)
    resp = await request(pool, server.url())
    assert await resp.readany() == b"hello"
    resp.release()
    await watch.lost(watch.conns[0])  # closed when the drain time ran out
    assert idle(pool) == []
    await server.clients_closed(1)


async def test_pool_close_closes_a_connection_still_draining(
    pool: http1.Pool, start: Any, watch: Watch
) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
        await peer.until_client_closes()

    server = await start(handler)
    resp = await request(pool, server.url())
    assert await resp.readany() == b"hello"
    resp.release()
    pool.close()
    # Not left to the drain timer: at shutdown the loop may be gone before it fires.
    async with asyncio.timeout(0.5):
        await watch.lost(watch.conns[0])
    await server.clients_closed(1)


# -- against the fake model server ---------------------------------------------------------------


@pytest.fixture()
async def backend() -> AsyncIterator[FakeBackend]:
    b = await FakeBackend("fb").start()
    yield b
    await b.stop()


async def test_fake_backend_json_and_sse_share_one_connection(
    pool: http1.Pool, backend: FakeBackend, watch: Watch
) -> None:
    url = backend.url + "/chat/completions"
    headers = b"Content-Type: application/json\r\n"
    for stream in (False, True, False, True):
        body = orjson.dumps(
            {"model": "m", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
        )
        resp = await request(pool, url, body, headers)
        assert resp.status == 200
        data = await resp.read()
        if stream:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            assert data.rstrip().endswith(b"data: [DONE]")
        else:
            assert orjson.loads(data)["object"] == "chat.completion"
        resp.release()
    assert backend.requests == 4
    assert len(watch.conns) == 1
    assert idle(pool) == watch.conns


async def test_an_upstream_error_answer_keeps_its_connection(start: Any, watch: Watch) -> None:
    # A loading llama.cpp server answers 503 again and again: each such answer is complete,
    # so the connection is reused rather than reopened for every attempt.
    loading = b'{"error": {"message": "Loading model", "code": 503}}'
    answer = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: %d\r\n\r\n%s" % (
        len(loading),
        loading,
    )

    async def handler(peer: Peer) -> None:
        await serve_forever(peer, answer)

    server = await start(handler)
    config = parse_config({"models": {"m": {"replicas": [{"url": server.url("/v1")}]}}})
    replica = Fleet(config).models["m"].replicas[0]
    upstream = HttpTransport(time.monotonic)
    try:
        for _ in range(3):
            with pytest.raises(UpstreamError) as caught:
                deadline = time.monotonic() + 5
                await upstream.send(
                    replica, "/chat/completions", b"{}", Timeouts(), deadline, stream=False
                )
            assert caught.value.kind is FailureKind.LOADING
    finally:
        await upstream.close()
    assert server.accepted == 1


# -- the same on uvloop --------------------------------------------------------------------------

# The gateway serves on uvloop, whose transports are not asyncio's: the cases where transport
# behaviour matters (EOF, abort, pause and resume, cancellation) run there too.
ON_UVLOOP = [
    pytest.param(test_sequential_requests_share_one_connection, {"response": OK}, id="reuse"),
    pytest.param(
        test_a_connection_the_server_wants_closed_is_not_reused,
        {"response": b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"},
        id="no-reuse",
    ),
    pytest.param(test_an_idle_connection_the_server_closed_is_not_reused, {}, id="idle-closed"),
    pytest.param(test_pool_close_aborts_idle_connections, {}, id="pool-close"),
    pytest.param(
        test_chunked_body_split_across_writes,
        {"pieces": [CHUNKED[i : i + 1] for i in range(len(CHUNKED))]},
        id="chunked-bytewise",
    ),
    pytest.param(
        test_body_delimited_by_connection_close_is_complete_at_eof,
        {"response": b"HTTP/1.1 200 OK\r\n\r\n"},
        id="eof-delimited",
    ),
    pytest.param(
        test_a_framed_body_cut_short_is_truncated,
        {"response": b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"},
        id="truncated",
    ),
    pytest.param(test_connection_refused_is_a_connect_error, {}, id="refused"),
    pytest.param(
        test_a_request_abandoned_while_waiting_for_headers_leaves_nothing_behind,
        {"how": "cancel"},
        id="cancelled",
    ),
    pytest.param(
        test_an_invalid_response_head_is_a_protocol_error,
        {"response": b"garbage\r\n\r\n"},
        id="garbage",
    ),
    pytest.param(test_server_closing_before_answering_is_disconnected, {}, id="disconnected"),
    pytest.param(test_readany_returns_data_as_it_arrives, {}, id="readany"),
    pytest.param(
        test_a_slow_reader_pauses_the_socket_and_gets_every_byte,
        {"chunked": False},
        id="backpressure",
    ),
    pytest.param(
        test_a_done_response_released_while_paused_leaves_a_working_connection,
        {},
        id="released-paused",
    ),
    pytest.param(test_close_wakes_a_pending_read_with_disconnected, {}, id="close-wakes"),
    pytest.param(test_pool_close_closes_a_connection_still_draining, {}, id="close-draining"),
]


@pytest.mark.parametrize(("case", "kwargs"), ON_UVLOOP)
def test_on_uvloop(
    case: Callable[..., Awaitable[None]],
    kwargs: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def main() -> None:
        assert isinstance(asyncio.get_running_loop(), uvloop.Loop)
        watch = Watch(monkeypatch)
        async with servers() as start, client(watch) as pool:
            available = {"pool": pool, "start": start, "watch": watch, "monkeypatch": monkeypatch}
            wanted = inspect.signature(case).parameters
            await case(**{k: v for k, v in available.items() if k in wanted}, **kwargs)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())


def _client_exceptions() -> list[type[BaseException]]:
    """Every exception class the transports' clients define: http1's and aiohttp's."""
    import inspect

    import aiohttp.client_exceptions

    found: list[type[BaseException]] = []
    for module in (http1, aiohttp.client_exceptions):
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if not issubclass(obj, BaseException) or obj.__module__ != module.__name__:
                continue
            if obj.__name__.startswith("WS"):
                continue  # websocket frames: no transport here speaks websockets
            found.append(obj)
    return found


@pytest.mark.parametrize("exc_type", _client_exceptions(), ids=lambda t: t.__name__)
def test_every_client_exception_is_in_the_mapping_table(exc_type: type[BaseException]) -> None:
    assert any(issubclass(exc_type, kind_of) for kind_of, _, _ in EXCEPTIONS), exc_type


def test_the_table_decides_kind_and_detail() -> None:
    refused = http1.ConnectError(ConnectionRefusedError())
    assert translate(refused, "connect").reason == "connect failed: ConnectionRefusedError"
    assert translate(TimeoutError(), "first byte").kind is FailureKind.FIRST_BYTE_TIMEOUT
    assert translate(TimeoutError(), "stream").kind is FailureKind.IDLE_TIMEOUT
    assert translate(http1.Disconnected(), "stream").reason == (
        "connection reset: server closed the connection"
    )
    assert translate(KeyError("x"), "connect").reason == "connection reset: KeyError"
