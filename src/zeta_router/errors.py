"""One exception tree with one root.

Every error a client can see is a :class:`RouterError` that knows its HTTP status and renders an
OpenAI-style body. Upstream failures are :class:`UpstreamError`; they stay inside the router
(feeding breakers and the retry loop) and only reach the client translated into a
:class:`NoCapacity` or, after bytes were sent, an SSE error event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ZetaError(Exception):
    """Root of every error zeta-router raises on purpose."""


class ConfigError(ZetaError):
    """The configuration is invalid; the message names the key."""


class RouterError(ZetaError):
    """An error that is answered to the client."""

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after_s: float | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code
        self.retry_after_s = retry_after_s
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "param": self.param,
            "code": self.code,
        }
        err.update(self.extra)
        return {"error": err}

    def headers(self) -> list[tuple[bytes, bytes]]:
        if self.retry_after_s is None:
            return []
        # Retry-After takes whole seconds; round up so clients never come back too early.
        secs = max(1, int(-(-self.retry_after_s // 1)))
        return [(b"retry-after", str(secs).encode())]


class InvalidRequest(RouterError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class Unauthorized(RouterError):
    status = 401
    type = "authentication_error"
    code = "unauthorized"


class NotFound(RouterError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class MethodNotAllowed(RouterError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class PayloadTooLarge(RouterError):
    status = 413
    type = "invalid_request_error"
    code = "payload_too_large"


class UnsupportedMediaType(RouterError):
    status = 415
    type = "invalid_request_error"
    code = "unsupported_media_type"


class Unprocessable(RouterError):
    status = 422
    type = "invalid_request_error"
    code = "unprocessable_entity"


class Overloaded(RouterError):
    """Admission refused the request: queue full or its deadline cannot be met."""

    status = 429
    type = "rate_limit_error"
    code = "overloaded"


class NoCapacity(RouterError):
    """No capable model could serve; the message says what was tried and why."""

    status = 503
    type = "service_unavailable"
    code = "no_capacity"


class DeadlineExceeded(RouterError):
    status = 504
    type = "timeout_error"
    code = "deadline_exceeded"


class InternalError(RouterError):
    status = 500
    type = "server_error"
    code = "internal_error"


class FailureKind(StrEnum):
    """Why one upstream attempt failed; drives breakers, retries and reason strings."""

    CONNECT = "connect failed"
    CONNECT_TIMEOUT = "connect timeout"
    FIRST_BYTE_TIMEOUT = "first byte timeout"
    IDLE_TIMEOUT = "stream idle timeout"
    RESET = "connection reset"
    RATE_LIMITED = "429 rate limited"
    UNAVAILABLE = "503 unavailable"
    LOADING = "model loading"
    SERVER_ERROR = "5xx"
    CLIENT_ERROR = "4xx"
    REJECTED = "rejected"
    MALFORMED = "malformed body"
    CANCELLED = "cancelled"


#: Failures that say nothing about the replica's health: the request itself was bad.
NOT_REPLICA_FAULT = frozenset({FailureKind.CLIENT_ERROR, FailureKind.CANCELLED})


@dataclass(eq=False)
class UpstreamError(ZetaError):
    """One upstream attempt failed. Built only by ``upstream.py``."""

    kind: FailureKind
    detail: str = ""
    status: int | None = None
    retry_after_s: float | None = None
    #: The upstream's own error body, relayed when the request itself was at fault.
    body: bytes | None = None

    def __post_init__(self) -> None:
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value

    @property
    def retryable(self) -> bool:
        return self.kind not in NOT_REPLICA_FAULT
