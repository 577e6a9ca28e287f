"""A small pipelined client for Redis's wire protocol (RESP2), for the shared fleet state.

Why not redis-py: its asyncio client spends 80-120 µs of CPU per command (connection pool
checkout, per-command lock, its parser stack), more than the whole budget of a request's shared
state; this connection writes every command at once onto one socket and matches replies in
order, about 12-40 µs per command (benchmarks/redis_client.py; BENCHMARKS.md, issue 18). It
speaks only what :mod:`zeta_router.fleet.redis_state` needs: commands and replies, AUTH and
SELECT at connect, TLS for ``rediss://``, and SUBSCRIBE pushes on a connection of its own.

Errors are typed: a Redis error reply is :class:`RedisReplyError`, a lost or refused
connection :class:`RedisUnavailable`. Nothing here retries or reconnects; the caller decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Union, cast
from urllib.parse import parse_qs, unquote, urlsplit

Reply = Union[int, bytes, None, list["Reply"], "RedisReplyError"]
Arg = bytes | str | int | float


class RedisUnavailable(Exception):
    """The connection failed, was lost, or did not answer in time."""


class RedisReplyError(Exception):
    """Redis answered with an error (``-ERR ...``, ``-NOSCRIPT ...``)."""

    @property
    def kind(self) -> str:
        return str(self.args[0]).split(" ", 1)[0] if self.args else ""


class _Incomplete(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where Redis is and how to log in, from a ``redis://``, ``rediss://`` or ``unix://``
    URL."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_url(url: str) -> Endpoint:
    """``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS), or
    ``unix:///path/to/socket[?db=N&password=...]``; raises ValueError naming what is wrong."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if "password" in query:
        password = query["password"][0]
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError("a unix:// URL needs the socket's path")
        return Endpoint(
            path=parts.path,
            db=int(query.get("db", ["0"])[0]),
            username=username,
            password=password,
        )
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError("must be a redis://, rediss:// or unix:// URL")
    db_part = parts.path.lstrip("/")
    db = int(db_part) if db_part else int(query.get("db", ["0"])[0])
    return Endpoint(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        db=db,
        username=username,
        password=password,
        tls=parts.scheme == "rediss",
    )


def pack(args: tuple[Arg, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, bytes):
            b = a
        elif isinstance(a, str):
            b = a.encode()
        elif isinstance(a, float):
            b = repr(a).encode()
        else:
            b = b"%d" % a
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def parse(buf: bytearray, pos: int) -> tuple[Reply, int]:
    """One reply from ``buf`` at ``pos``: (reply, position after it); raises _Incomplete when
    the buffer does not hold all of it yet."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    kind = buf[pos]
    line = buf[pos + 1 : end]
    pos = end + 2
    if kind == 0x3A:  # ':' integer
        return int(line), pos
    if kind == 0x24:  # '$' bulk string
        n = int(line)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            raise _Incomplete
        return bytes(buf[pos : pos + n]), pos + n + 2
    if kind == 0x2A:  # '*' array
        n = int(line)
        if n < 0:
            return None, pos
        items: list[Reply] = []
        for _ in range(n):
            item, pos = parse(buf, pos)
            items.append(item)
        return items, pos
    if kind == 0x2B:  # '+' simple string
        return bytes(line), pos
    if kind == 0x2D:  # '-' error
        return RedisReplyError(line.decode("utf-8", "replace")), pos
    raise RedisUnavailable(f"unexpected reply type {chr(kind)!r} from Redis")


class _Protocol(asyncio.Protocol):
    def __init__(
        self, on_push: Callable[[Reply], None] | None, on_lost: Callable[[], None] | None
    ) -> None:
        self._buf = bytearray()
        self._waiting: deque[asyncio.Future[Reply]] = deque()
        self._on_push = on_push
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        pos = 0
        try:
            while pos < len(buf):
                reply, pos = parse(buf, pos)
                if self._waiting:
                    fut = self._waiting.popleft()
                    if not fut.done():  # a caller that gave up (timeout) left its reply here
                        fut.set_result(reply)
                elif self._on_push is not None:
                    self._on_push(reply)
        except _Incomplete:
            pass
        except (RedisUnavailable, ValueError) as exc:
            self._fail(RedisUnavailable(f"garbled reply from Redis: {exc}"))
            if self.transport is not None:
                self.transport.abort()
            return
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._fail(RedisUnavailable("connection to Redis lost"))
        if self._on_lost is not None:
            self._on_lost()

    def _fail(self, exc: Exception) -> None:
        waiting, self._waiting = self._waiting, deque()
        for fut in waiting:
            if not fut.done():
                fut.set_exception(exc)

    def send(self, data: bytes, n: int) -> list[asyncio.Future[Reply]]:
        if self.lost or self.transport is None or self.transport.is_closing():
            raise RedisUnavailable("connection to Redis lost")
        loop = asyncio.get_running_loop()
        futs = [loop.create_future() for _ in range(n)]
        self._waiting.extend(futs)
        self.transport.write(data)
        return futs


class Connection:
    """One TCP (or unix socket) connection; commands are pipelined, replies come in order.

    ``on_push`` receives replies nobody waits for: the messages of a SUBSCRIBE; ``on_lost``
    is called once the connection is gone (closed by either side)."""

    def __init__(self, proto: _Protocol) -> None:
        self._proto = proto

    @classmethod
    async def open(
        cls,
        endpoint: Endpoint,
        timeout_s: float,
        on_push: Callable[[Reply], None] | None = None,
        on_lost: Callable[[], None] | None = None,
    ) -> Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout_s):
                if endpoint.path is not None:
                    _, proto = await loop.create_unix_connection(
                        lambda: _Protocol(on_push, on_lost), endpoint.path
                    )
                else:
                    ctx = ssl.create_default_context() if endpoint.tls else None
                    _, proto = await loop.create_connection(
                        lambda: _Protocol(on_push, on_lost), endpoint.host, endpoint.port, ssl=ctx
                    )
                conn = cls(proto)
                if endpoint.password is not None:
                    auth: tuple[Arg, ...] = ("AUTH", endpoint.password)
                    if endpoint.username:
                        auth = ("AUTH", endpoint.username, endpoint.password)
                    await conn.call_checked(*auth)
                if endpoint.db:
                    await conn.call_checked("SELECT", endpoint.db)
                return conn
        except (OSError, TimeoutError) as exc:
            # The message names no credentials: only where it tried.
            where = endpoint.path or f"{endpoint.host}:{endpoint.port}"
            raise RedisUnavailable(f"cannot connect to Redis at {where}: {exc}") from None

    @property
    def closed(self) -> bool:
        return self._proto.lost

    def send(self, *args: Arg) -> asyncio.Future[Reply]:
        """Write one command now; the future gets its reply (an error reply is a value, not
        an exception: pipelined callers look at each). Raises RedisUnavailable at once when
        the connection is gone."""
        return self._proto.send(pack(args), 1)[0]

    def write(self, *args: Arg) -> None:
        """Write one command whose replies nobody awaits: they go to ``on_push`` (a SUBSCRIBE
        on a subscribed connection, whose confirmations arrive among the messages)."""
        proto = self._proto
        if proto.lost or proto.transport is None or proto.transport.is_closing():
            raise RedisUnavailable("connection to Redis lost")
        proto.transport.write(pack(args))

    def send_many(self, commands: list[tuple[Arg, ...]]) -> list[asyncio.Future[Reply]]:
        """Several commands in one write."""
        return self._proto.send(b"".join(pack(c) for c in commands), len(commands))

    async def call_checked(self, *args: Arg) -> Reply:
        reply = await self.send(*args)
        if isinstance(reply, RedisReplyError):
            raise reply
        return reply

    def close(self) -> None:
        transport = self._proto.transport
        if transport is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing already
                transport.close()
