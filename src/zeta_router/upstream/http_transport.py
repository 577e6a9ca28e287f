"""The production transport: pooled HTTP/1.1 for attempts, aiohttp for probes and scrapes.

Timeouts: connect (socket), first byte (headers, and for streams the first complete SSE event),
idle between stream chunks, and the request's overall deadline, all on the router's clock
(:mod:`zeta_router.clock`): the deadline a timeout is cut from and the timer that enforces it
share one time base.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import aiohttp

from zeta_router.clock import Clock, SystemClock, Timer, as_clock
from zeta_router.config import Timeouts
from zeta_router.errors import FailureKind, UpstreamError
from zeta_router.fleet.state import ReplicaState
from zeta_router.upstream import http1
from zeta_router.upstream.attempt import (
    ERROR_BODY_LIMIT,
    Stream,
    abandoned,
    credentials,
    first_byte_limit,
    redact,
    status_error,
    translate,
)
from zeta_router.upstream.transport import Reply

#: A complete (non-stream) answer larger than this is not relayed: a broken or hostile server
#: must not grow the router's memory without bound.
MAX_REPLY_BYTES = 64 * 1024 * 1024


class Watchdog:
    """First-byte deadlines of every in-flight attempt under one timer of the router's clock.

    ``asyncio.timeout`` arms and cancels a loop timer per attempt: about 7 µs of client CPU
    per request, measured. Deadlines here are "now + a per-model constant", so they come almost
    in order: the one timer is re-armed only when it fires (it then cancels the overdue
    attempts and moves on to the earliest remaining deadline) or when a deadline earlier than
    every pending one comes in. Per attempt that leaves a dict store and a pop.
    """

    __slots__ = ("_at", "_clock", "_due", "_fired", "_handle", "_loop")

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock if clock is not None else SystemClock()
        self._due: dict[asyncio.Task[Any], float] = {}
        self._fired: set[asyncio.Task[Any]] = set()
        self._handle: Timer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._at = math.inf

    def guard(self, timeout_s: float) -> _Guard:
        """A ``with`` block that raises TimeoutError when it outlives ``timeout_s``."""
        task = asyncio.current_task()
        assert task is not None
        loop = task.get_loop()
        if loop is not self._loop:
            # A new event loop (tests run one per test): the old one's timer and tasks are gone.
            self._due.clear()
            self._fired.clear()
            self._handle = None
            self._at = math.inf
            self._loop = loop
        when = self._clock() + timeout_s
        self._due[task] = when
        if when < self._at:
            self._arm(when)
        return _Guard(self, task)

    def _unwatch(self, task: asyncio.Task[Any]) -> bool:
        """Stop watching ``task``; True when its deadline fired (we cancelled it)."""
        self._due.pop(task, None)
        if not self._fired or task not in self._fired:
            return False
        self._fired.discard(task)
        return True

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._at = when
        self._handle = self._clock.call_later(when - self._clock(), self._fire)

    def _fire(self) -> None:
        # The timer firing means its time has come, even on a clock read a hair early (timer
        # granularity) or moved by hand.
        now = max(self._clock(), self._at)
        self._handle = None
        self._at = math.inf
        nxt = math.inf
        for task, when in list(self._due.items()):
            if when <= now:
                del self._due[task]
                self._fired.add(task)
                task.cancel()
            elif when < nxt:
                nxt = when
        if nxt < math.inf:
            self._arm(nxt)


class _Guard:
    """One attempt under the watchdog; the exit mirrors ``asyncio.timeout``'s."""

    __slots__ = ("_cancelling", "_dog", "_task")

    def __init__(self, dog: Watchdog, task: asyncio.Task[Any]) -> None:
        self._dog = dog
        self._task = task
        # A cancellation is ours only if it is not also someone else's.
        self._cancelling = task.cancelling()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if not self._dog._unwatch(self._task):
            return
        # Fired: our cancel is either the CancelledError in flight or, when the block had just
        # finished, still pending for the next await. Either way it becomes a timeout.
        if self._task.uncancel() <= self._cancelling and kind in (None, asyncio.CancelledError):
            raise TimeoutError from exc


class AiohttpSession:
    """What both transports do on aiohttp: the pooled session (made on first use, closed with
    the transport when it is its own), the attempts' first-byte watchdog, and the small GETs of
    health probes and metric scrapes."""

    def __init__(
        self,
        clock: Clock | Callable[[], float] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._clock = as_clock(clock)
        self._session = session
        self._own_session = session is None
        self._watchdog = Watchdog(self._clock)
        # Probes and scrapes under a timer of their own: a long attempt deadline is never
        # re-armed behind their short ones.
        self._get_watchdog = Watchdog(self._clock)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0, ttl_dns_cache=300, keepalive_timeout=30, enable_cleanup_closed=False
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                skip_auto_headers=("User-Agent",),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None

    async def get(self, url: str, timeout_s: float) -> tuple[int, bytes]:
        """A small GET for health probes and metric scrapes."""
        try:
            with self._get_watchdog.guard(timeout_s):
                async with self.session.get(url) as resp:
                    return resp.status, await resp.content.read(ERROR_BODY_LIMIT * 16)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise translate(exc, "connect") from None


class HttpTransport(AiohttpSession):
    """The pooled HTTP clients shared by every replica (keep-alive, no per-request client):
    :mod:`http1` for requests, aiohttp for health probes and metric scrapes."""

    def __init__(
        self,
        clock: Clock | Callable[[], float] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(clock, session)
        self._header_cache: dict[str | None, bytes] = {}
        self._pool: http1.Pool | None = None

    @property
    def pool(self) -> http1.Pool:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool.loop is not loop:
            self._pool = http1.Pool(loop)
        return self._pool

    async def close(self) -> None:
        await super().close()
        if self._pool is not None:
            self._pool.close()
            self._pool = None
            # Aborted transports close their sockets in a callback: let it run while the
            # loop still does.
            await asyncio.sleep(0)

    def _headers(self, auth: str | None) -> bytes:
        """Header lines for one credential, built once: every request sends the same few."""
        h = self._header_cache.get(auth)
        if h is None:
            if auth and ("\r" in auth or "\n" in auth):
                raise UpstreamError(FailureKind.REJECTED, "the credential holds a line break")
            h = b"Content-Type: application/json\r\nAccept-Encoding: identity\r\n"
            if auth:
                h += b"Authorization: " + auth.encode("latin-1", "replace") + b"\r\n"
            if len(self._header_cache) < 1024:  # credentials come from the config
                self._header_cache[auth] = h
        return h

    async def send(
        self,
        replica: ReplicaState,
        path: str,
        body: bytes,
        timeouts: Timeouts,
        deadline: float,
        *,
        stream: bool,
        max_tokens: int | None = None,
        ends: Callable[[bytes], bool] | None = None,
    ) -> Reply | Stream:
        """One attempt. Returns once the answer (or, for streams, its first event) is here.

        A stream must show its first event within ``first_byte_s``; a non-stream answer is
        whole when it comes, so it also gets :func:`generation_allowance`. Whenever the attempt
        is abandoned (a timeout, the client left, a hedge won) its connection is closed, not
        pooled: the server sees the disconnect and can stop generating."""
        remaining = deadline - self._clock()
        first_byte = first_byte_limit(
            timeouts, replica, max_tokens, stream=stream, remaining=remaining
        )
        resp: http1.Response | None = None
        try:
            pool = self.pool
            target = pool.target(replica.base_url + path)
            headers = self._headers(replica.auth_header or target.basic_auth)
            with self._watchdog.guard(first_byte):
                resp = await pool.request(
                    b"POST", target, headers, body, min(timeouts.connect_s, remaining)
                )
                if resp.status >= 300:
                    err_body = await resp.read(ERROR_BODY_LIMIT)
                    # A complete error body leaves the connection reusable: a burst of 503s
                    # from a loading server should not also cost a reconnect each.
                    resp.release()
                    err_body = redact(err_body, credentials(replica))
                    raise status_error(resp.status, resp.headers, err_body)
                ctype = resp.headers.get("Content-Type", "")
                if not (stream and ctype.startswith("text/event-stream")):
                    data = await resp.read(MAX_REPLY_BYTES + 1)
                    if len(data) > MAX_REPLY_BYTES:
                        raise UpstreamError(
                            FailureKind.MALFORMED, f"answer larger than {MAX_REPLY_BYTES} bytes"
                        )
                    resp.release()
                    return Reply(resp.status, ctype or "application/json", data)
                return await Stream.open(resp, timeouts, deadline, self._clock, ends)
        except BaseException as exc:
            raise abandoned(exc, resp) from None
