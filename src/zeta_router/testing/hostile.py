"""Answers of careless and hostile model servers, for the fake backend: keep-alive pings before
the first event, and answers unbounded in some way (a stream that never ends, a body that never
ends, a head of megabytes, a body of ``huge_bytes``, a stream with no event separator ever)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import orjson
from aiohttp import web

from zeta_router.testing.faults import Faults

_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


async def pinging(
    request: web.Request, faults: Faults, tasks: set[asyncio.Task[None]]
) -> web.StreamResponse:
    """An SSE answer opened at once, with ``: ping`` comments every ``faults.ping_s`` until it
    ends, as sse-starlette (llama-cpp-python's server) writes them. The task is kept in
    ``tasks`` while it runs."""
    resp = web.StreamResponse(headers=_SSE_HEADERS)
    await resp.prepare(request)

    async def ping() -> None:
        transport = request.transport
        # A write after the answer's end raises: that ends the pings.
        with contextlib.suppress(ConnectionError, RuntimeError):
            while transport is not None and not transport.is_closing():
                await resp.write(b": ping - %.3f\r\n\r\n" % time.time())
                await asyncio.sleep(faults.ping_s)

    task = asyncio.ensure_future(ping())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return resp


async def answer(
    f: Faults, request: web.Request, model: str, rid: str, created: int
) -> web.StreamResponse:
    """Answers no model server should give, each one unbounded in some way."""
    if f.mode == "giant_headers":
        # Written by hand: aiohttp would not send a head this large.
        assert request.transport is not None
        request.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        for i in range(200):
            request.transport.write(b"X-Filler-%d: %s\r\n" % (i, b"f" * 8000))
            await asyncio.sleep(0)
        request.transport.abort()
        raise asyncio.CancelledError
    event = orjson.dumps(
        {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": {"content": " more"}, "finish_reason": None}],
        }
    )
    ctype = "application/json" if f.mode in ("endless_body", "huge_body") else (
        "text/event-stream"
    )
    resp = web.StreamResponse(headers={"Content-Type": ctype})
    await resp.prepare(request)
    transport = request.transport
    try:
        if f.mode == "endless":
            while transport is not None and not transport.is_closing():
                await resp.write(b"data: " + event + b"\n\n")
                await asyncio.sleep(0.001)
        elif f.mode == "endless_body":
            await resp.write(b'{"id": "' + rid.encode() + b'", "choices": [')
            while transport is not None and not transport.is_closing():
                await resp.write(b" ")
                await asyncio.sleep(0.01)
        else:
            chunk = b"x" * (1 << 20)
            if f.mode == "no_events":
                await resp.write(b"data: " + event + b"\n\ndata: ")
            for _ in range(f.huge_bytes >> 20):
                if transport is None or transport.is_closing():
                    break
                await resp.write(chunk)
    except (ConnectionError, RuntimeError):
        pass  # the router hung up, as it should
    return resp
