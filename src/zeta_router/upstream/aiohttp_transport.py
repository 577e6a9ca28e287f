"""The :class:`~zeta_router.upstream.transport.Transport` on aiohttp's client alone.

The production transport (:class:`~zeta_router.upstream.http_transport.HttpTransport`) sends
attempts with the small HTTP/1.1 client of :mod:`~zeta_router.upstream.http1`, which costs
about a quarter of aiohttp's CPU per request. This one sends them with aiohttp, behind the same
protocol, the same first-byte watchdog on the router's clock, the same failure translation and
the same SSE stream: the reference the fast client is checked against
(``tests/test_transports.py`` runs one suite over both), and a fallback for what http1 does not
speak.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import aiohttp

from zeta_router.clock import Clock, as_clock
from zeta_router.config import Timeouts
from zeta_router.errors import FailureKind, UpstreamError
from zeta_router.fleet.state import ReplicaState
from zeta_router.upstream.attempt import (
    ERROR_BODY_LIMIT,
    Stream,
    credentials,
    generation_allowance,
    redact,
    split_events,
    status_error,
    translate,
)
from zeta_router.upstream.http_transport import Watchdog
from zeta_router.upstream.transport import Reply


class _Body:
    """aiohttp's response as the :class:`~zeta_router.upstream.attempt.Body` a Stream reads."""

    __slots__ = ("_resp", "status")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status = resp.status

    async def readany(self) -> bytes:
        return await self._resp.content.readany()

    def release(self) -> None:
        self._resp.release()

    def close(self) -> None:
        self._resp.close()


class AiohttpTransport:
    """Attempts, probes and scrapes over one pooled aiohttp session."""

    def __init__(
        self,
        clock: Clock | Callable[[], float] | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._clock = as_clock(clock)
        self._session = session
        self._own_session = session is None
        self._watchdog = Watchdog(self._clock)
        self._get_watchdog = Watchdog(self._clock)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
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

    def _headers(self, replica: ReplicaState) -> dict[str, str]:
        h = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
        if replica.auth_header:
            h["Authorization"] = replica.auth_header
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
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise UpstreamError(FailureKind.FIRST_BYTE_TIMEOUT, "request deadline")
        first_byte = timeouts.first_byte_s
        if not stream:
            first_byte += generation_allowance(timeouts, replica, max_tokens)
        first_byte = min(first_byte, remaining)
        resp: aiohttp.ClientResponse | None = None
        try:
            with self._watchdog.guard(first_byte):
                resp = await self.session.post(
                    replica.base_url + path,
                    data=body,
                    headers=self._headers(replica),
                    timeout=aiohttp.ClientTimeout(connect=min(timeouts.connect_s, remaining)),
                )
                if resp.status >= 300:
                    err_body = await resp.content.read(ERROR_BODY_LIMIT)
                    resp.release()
                    err_body = redact(err_body, credentials(replica))
                    raise status_error(resp.status, resp.headers, err_body)
                ctype = resp.headers.get("Content-Type", "")
                if not (stream and ctype.startswith("text/event-stream")):
                    data = await resp.read()
                    resp.release()
                    return Reply(resp.status, ctype or "application/json", data)
                buf = b""
                while True:
                    chunk = await resp.content.readany()
                    if not chunk:
                        raise UpstreamError(FailureKind.RESET, "stream ended before first event")
                    buf += chunk
                    end = split_events(buf)
                    if end:
                        break
        except BaseException as exc:
            if resp is not None:
                resp.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            phase = "connect" if resp is None else "first byte"
            raise translate(exc, phase) from None
        return Stream(
            _Body(resp),
            buf[:end],
            buf[end:],
            idle_s=timeouts.idle_s,
            deadline=deadline,
            clock=self._clock,
            ends=ends,
        )

    async def get(self, url: str, timeout_s: float) -> tuple[int, bytes]:
        try:
            with self._get_watchdog.guard(timeout_s):
                async with self.session.get(url) as resp:
                    return resp.status, await resp.content.read(ERROR_BODY_LIMIT * 16)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise translate(exc, "connect") from None
