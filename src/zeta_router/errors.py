"""One exception tree with one root.

Every error a client can see is a :class:`RouterError` that knows its HTTP status and renders an
OpenAI-style body. Upstream failures are :class:`UpstreamError`; they stay inside the router
(feeding breakers and the retry loop) and reach the client translated: as a :class:`NoCapacity`,
as the upstream's own error when the request was at fault (:data:`BLAME` says whose fault a
kind of failure is), or, after bytes were sent, as an SSE error event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
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


class Forbidden(RouterError):
    """The key is valid but may not do this (a model outside its allow-list)."""

    status = 403
    type = "permission_error"
    code = "model_not_allowed"


class RequestTimeout(RouterError):
    """The client did not send its headers or body within the server's read timeouts."""

    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


class HeadersTooLarge(RouterError):
    status = 431
    type = "invalid_request_error"
    code = "request_header_fields_too_large"


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


class RateLimited(RouterError):
    """A client key is over one of its limits (rpm, tpm, max_parallel)."""

    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class UpstreamFault(RouterError):
    """The upstream refused the request itself: relayed with the status class of the failure
    and the upstream's whole message, naming the model that answered."""

    type = "invalid_request_error"
    code = "upstream_rejected"

    def __init__(self, message: str, *, status: int, model: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.status = status
        self.model = model
        if status >= 500:
            self.type = "server_error"
            self.code = "upstream_error"

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"x-zeta-model", self.model.encode()), (b"x-zeta-blame", b"request")]


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
    #: 400/413/422: the upstream says the request itself is wrong.
    CLIENT_ERROR = "4xx"
    #: A 5xx whose body is a validation error (llama-cpp-python answers 500 to a request its
    #: schema refuses): the status blames the server, the body the request.
    REQUEST_REJECTED = "request rejected"
    NOT_FOUND = "404 not found"
    REJECTED = "rejected"
    MALFORMED = "malformed body"
    CANCELLED = "cancelled"


#: Failures that say nothing about the replica's health: the request itself was bad.
NOT_REPLICA_FAULT = frozenset({FailureKind.CLIENT_ERROR, FailureKind.CANCELLED})


class Blame(StrEnum):
    """Whose fault one failed attempt is, as far as its own answer tells."""

    #: The replica's: counts against its breaker at once; the request goes elsewhere.
    REPLICA = "replica"
    #: The request's: relayed to the client at once, never retried, never counted.
    REQUEST = "request"
    #: Either: the verdict waits for one more replica (``attribution.py``). Another replica
    #: serving the request blames this one; the same failure there blames the request.
    UNSURE = "unsure"


#: Whose fault each kind of failure is. Envoy's and gRPC's retry policies retry 5xx but never
#: an invalid-argument status; Linkerd's failure accrual counts what its classifier calls a
#: failure. A 5xx is counted here only once another replica shows the request was servable.
BLAME: Mapping[FailureKind, Blame] = MappingProxyType(
    {
        FailureKind.CONNECT: Blame.REPLICA,
        FailureKind.CONNECT_TIMEOUT: Blame.REPLICA,
        FailureKind.FIRST_BYTE_TIMEOUT: Blame.REPLICA,
        FailureKind.IDLE_TIMEOUT: Blame.REPLICA,
        FailureKind.RESET: Blame.REPLICA,
        FailureKind.RATE_LIMITED: Blame.REPLICA,
        FailureKind.UNAVAILABLE: Blame.REPLICA,
        FailureKind.LOADING: Blame.REPLICA,
        FailureKind.SERVER_ERROR: Blame.UNSURE,
        FailureKind.CLIENT_ERROR: Blame.REQUEST,
        FailureKind.REQUEST_REJECTED: Blame.UNSURE,
        FailureKind.NOT_FOUND: Blame.UNSURE,
        FailureKind.REJECTED: Blame.REPLICA,
        FailureKind.MALFORMED: Blame.REPLICA,
        FailureKind.CANCELLED: Blame.REQUEST,
    }
)


@dataclass(eq=False)
class UpstreamError(ZetaError):
    """One upstream attempt failed. Built only by ``upstream.py``."""

    kind: FailureKind
    detail: str = ""
    status: int | None = None
    retry_after_s: float | None = None
    #: The upstream's own error body, relayed when the request itself was at fault.
    body: bytes | None = None
    #: The upstream's own error message, whole (from its JSON error body, else its text).
    message: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value

    @property
    def retryable(self) -> bool:
        return self.kind not in NOT_REPLICA_FAULT

    @property
    def blame(self) -> Blame:
        return BLAME[self.kind]
