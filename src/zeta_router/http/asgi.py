"""ASGI plumbing shared by every route: the scope/receive/send types, a bounded (and
decompressed) body read, and JSON answers. It imports nothing of the router, so route modules
(the API surfaces here, metrics/status/reload in ``ops``) build on it without a cycle."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from zeta_router.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from zeta_router.http.response import JSON_TYPE, Response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[Scope, Receive], Awaitable[Response]]

#: Request Content-Encodings decoded, with their zlib window bits (gzip; zlib, else raw).
_DECODERS: dict[bytes, tuple[int, ...]] = {b"gzip": (31,), b"x-gzip": (31,), b"deflate": (15, -15)}


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(status, [(b"content-type", JSON_TYPE)], orjson.dumps(obj))


def _decode(body: bytes, encodings: list[bytes], limit: int) -> bytes:
    """``body`` with its Content-Encodings undone (last applied, first undone), never
    inflating past ``limit`` bytes: a decompression bomb costs at most the limit."""
    for coding in reversed(encodings):
        if coding == b"identity":
            continue
        bits = _DECODERS.get(coding)
        if bits is None:
            name = coding.decode("latin-1")
            raise UnsupportedMediaType(
                f"Content-Encoding {name!r} is not supported; use gzip, deflate or identity",
                param="content-encoding",
            )
        for i, wbits in enumerate(bits):
            inflater = zlib.decompressobj(wbits)
            try:
                out = inflater.decompress(body, limit + 1)
            except zlib.error:
                if i + 1 < len(bits):
                    continue
                name = coding.decode("latin-1")
                raise InvalidRequest(
                    f"The request body is not valid {name} data", param="content-encoding"
                ) from None
            if len(out) > limit or inflater.unconsumed_tail:
                raise PayloadTooLarge(
                    f"The request body is larger than {limit} bytes once decompressed"
                )
            body = out
            break
    return body


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    encodings: list[bytes] = []
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                raise InvalidRequest("Content-Length is not a number", param=None) from None
            if declared > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes")
        elif name == b"content-encoding":
            encodings += [c.strip().lower() for c in value.split(b",") if c.strip()]
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if encodings:
        body = _decode(body, encodings, limit)
    return body
