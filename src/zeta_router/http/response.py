"""What the router hands back to the HTTP layer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import orjson

from zeta_router.errors import RouterError
from zeta_router.routing.decision import Decision

Headers = list[tuple[bytes, bytes]]
JSON_TYPE = b"application/json"


@dataclass(slots=True)
class Response:
    status: int
    headers: Headers
    body: bytes = b""
    #: For streams: whole SSE events, ending with [DONE] or an explicit error event.
    stream: AsyncIterator[bytes] | None = None
    decision: Decision | None = field(default=None)
    #: The error this answer reports, so the HTTP layer can say it in the API's own shape.
    error: RouterError | None = None


def error_response(err: RouterError, headers: Headers | None = None) -> Response:
    out: Headers = [(b"content-type", JSON_TYPE), *err.headers()]
    if headers:
        out.extend(headers)
    return Response(err.status, out, orjson.dumps(err.body()), error=err)


def sse_error_event(message: str, kind: str = "upstream_error", code: str | None = None) -> bytes:
    """The event that ends a stream which broke after bytes were sent: OpenAI's SDKs raise on a
    data payload carrying an ``error`` object, so clients cannot mistake it for a full answer."""
    payload = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return b"data: " + orjson.dumps(payload) + b"\n\n"
