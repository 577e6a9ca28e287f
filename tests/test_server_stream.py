"""The HTTP layer's own guarantee for streams: a failure inside the router after the headers
went out still ends the stream with an explicit SSE error event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from zeta_router.app import create_app
from zeta_router.config import parse_config
from zeta_router.http.response import Response
from zeta_router.router import Router


async def broken_stream() -> AsyncIterator[bytes]:
    yield b'data: {"choices": [{"delta": {"content": "half"}}]}\n\n'
    raise RuntimeError("a bug in the relay")


async def test_internal_error_mid_stream_ends_with_error_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = parse_config({"models": {"m": {"replicas": [{"url": "http://127.0.0.1:9/v1"}]}}})
    app = create_app(Router(config))
    sent: list[dict[str, Any]] = []
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await never.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(dict(message))

    resp = Response(200, [(b"content-type", b"text/event-stream")], stream=broken_stream())
    await app._send(resp, receive, send)

    bodies = [m["body"] for m in sent if m["type"] == "http.response.body"]
    assert bodies[0].startswith(b"data: {")
    last_event = bodies[-2]
    assert last_event.startswith(b"data: ") and last_event.endswith(b"\n\n")
    err = orjson.loads(last_event[6:])["error"]
    assert err["code"] == "internal_error"
    assert b"[DONE]" not in b"".join(bodies)
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert "Traceback" not in b"".join(bodies).decode()
    assert "stream relay failed" in caplog.text
