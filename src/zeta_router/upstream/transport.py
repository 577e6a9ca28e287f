"""The transport seam: how one attempt reaches a model server, as a protocol.

Everything above this line (the retry loop, hedging, relay, health probes, scrapes) talks to a
:class:`Transport` and never to a socket. Production uses
:class:`~zeta_router.upstream.http_transport.HttpTransport` (the HTTP/1.1 client of
:mod:`~zeta_router.upstream.http1` for requests, aiohttp for probes and scrapes); tests and the
simulator use :class:`~zeta_router.testing.mock_transport.MockTransport`, which answers in
memory on the router's clock, in the spirit of httpx's ``MockTransport``.

A transport reports every failure as an :class:`~zeta_router.errors.UpstreamError` and honours
the timeouts and deadline it is given on the router's clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol

from zeta_router.config import Timeouts
from zeta_router.fleet.state import ReplicaState


@dataclass(slots=True)
class Reply:
    """A complete (non-stream) upstream answer."""

    status: int
    content_type: str
    body: bytes


class UpstreamStream(Protocol):
    """An upstream SSE stream whose first complete event block has arrived. Iterating yields
    blocks of whole events and raises UpstreamError when the stream breaks."""

    first: bytes
    status: int

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...


class Transport(Protocol):
    """One upstream attempt at a time, plus the small GETs of probes and scrapes."""

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
    ) -> Reply | UpstreamStream:
        """Returns once the answer (or, for streams, its first event) is here; raises
        UpstreamError. An abandoned attempt (timeout, cancellation) leaves no connection in
        use: the server sees the disconnect."""
        ...

    async def get(self, url: str, timeout_s: float) -> tuple[int, bytes]:
        """A small GET (health probes, metric scrapes): status and body; raises
        UpstreamError."""
        ...

    async def close(self) -> None: ...
