"""An in-memory :class:`~zeta_router.upstream.transport.Transport`, in the spirit of httpx's
``MockTransport``: a handler function answers each attempt, on the router's clock.

The timeouts are the production ones: the first-byte limit (plus, for a non-stream answer, the
generation allowance) is enforced by the same :class:`~zeta_router.upstream.http_transport.Watchdog`
the HTTP transport uses, on the clock the router was given. A handler that never answers ends
at its first-byte timeout, as a hung server does; under a virtual clock that costs no time.

    async def handler(req: MockRequest) -> Reply | MockStream:
        if req.replica.id == "a":
            raise UpstreamError(FailureKind.SERVER_ERROR, "HTTP 500", status=500)
        await clock.sleep(0.02)
        return chat_reply("hello")

    router = Router(config, clock=clock, transport=MockTransport(handler, clock))
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import orjson

from zeta_router.clock import Clock
from zeta_router.config import Timeouts
from zeta_router.errors import FailureKind, UpstreamError
from zeta_router.fleet.state import ReplicaState
from zeta_router.upstream.attempt import first_byte_limit
from zeta_router.upstream.http_transport import Watchdog
from zeta_router.upstream.transport import Reply


@dataclass(frozen=True, slots=True)
class MockRequest:
    """One attempt as the transport was asked to send it."""

    replica: ReplicaState
    path: str
    body: bytes
    stream: bool
    timeouts: Timeouts
    deadline: float
    max_tokens: int | None

    def json(self) -> object:
        return orjson.loads(self.body)


class MockStream:
    """An SSE stream: ``blocks[0]`` is the first event block, the rest follow ``gap_s`` apart
    on the clock; ``error``, when given, breaks the stream after the last block."""

    def __init__(
        self,
        blocks: Sequence[bytes],
        clock: Clock,
        *,
        gap_s: float = 0.0,
        error: UpstreamError | None = None,
        status: int = 200,
    ) -> None:
        self.first = blocks[0]
        self.status = status
        self._rest = list(blocks[1:])
        self._clock = clock
        self._gap_s = gap_s
        self._error = error
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for block in self._rest:
            if self._gap_s:
                await self._clock.sleep(self._gap_s)
            yield block
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        self.closed = True


Handler = Callable[[MockRequest], Awaitable[Reply | MockStream]]


class MockTransport:
    """Answers every attempt with ``handler``; counts what was sent to each replica."""

    def __init__(
        self,
        handler: Handler,
        clock: Clock,
        *,
        get: Callable[[str], Awaitable[tuple[int, bytes]]] | None = None,
    ) -> None:
        self.handler = handler
        self._clock = clock
        self._get = get
        self._watchdog = Watchdog(clock)
        self.sent: Counter[str] = Counter()
        self.requests: list[MockRequest] = []
        self.closed = False

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
    ) -> Reply | MockStream:
        limit = first_byte_limit(
            timeouts, replica, max_tokens, stream=stream, remaining=deadline - self._clock()
        )
        req = MockRequest(replica, path, body, stream, timeouts, deadline, max_tokens)
        self.sent[replica.id] += 1
        self.requests.append(req)
        try:
            with self._watchdog.guard(limit):
                return await self.handler(req)
        except TimeoutError:
            raise UpstreamError(FailureKind.FIRST_BYTE_TIMEOUT) from None

    async def get(self, url: str, timeout_s: float) -> tuple[int, bytes]:
        if self._get is None:
            raise UpstreamError(FailureKind.CONNECT, "MockTransport has no GET handler")
        with self._watchdog.guard(timeout_s):
            return await self._get(url)

    async def close(self) -> None:
        self.closed = True


async def hang() -> Reply:
    """A server that never answers (the attempt ends at its first-byte timeout)."""
    await asyncio.get_running_loop().create_future()
    raise AssertionError("unreachable")


def chat_reply(content: str = "ok", model: str = "m") -> Reply:
    """A complete chat completion."""
    body = {
        "id": "x",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    return Reply(200, "application/json", orjson.dumps(body))


def chat_chunks(words: Sequence[str], model: str = "m") -> list[bytes]:
    """SSE event blocks of a streamed chat completion, one word each, then [DONE]."""
    out = []
    for w in words:
        chunk = {
            "id": "x",
            "object": "chat.completion.chunk",
            "model": model,
            "choices": [{"index": 0, "delta": {"content": w}}],
        }
        out.append(b"data: " + orjson.dumps(chunk) + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return out
