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

from collections.abc import Callable

import aiohttp

from zeta_router.config import Timeouts
from zeta_router.fleet.state import ReplicaState
from zeta_router.upstream.attempt import (
    ERROR_BODY_LIMIT,
    Stream,
    abandoned,
    credentials,
    first_byte_limit,
    redact,
    status_error,
)
from zeta_router.upstream.http_transport import AiohttpSession
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


class AiohttpTransport(AiohttpSession):
    """Attempts, probes and scrapes over one pooled aiohttp session."""

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
        first_byte = first_byte_limit(
            timeouts, replica, max_tokens, stream=stream, remaining=remaining
        )
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
                return await Stream.open(_Body(resp), timeouts, deadline, self._clock, ends)
        except BaseException as exc:
            raise abandoned(exc, resp) from None
