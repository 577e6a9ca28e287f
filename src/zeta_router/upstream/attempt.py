"""One HTTP attempt's vocabulary: failures translated, error bodies read, an SSE stream relayed.

Every upstream failure is translated into an :class:`UpstreamError` here and nowhere else, so the
retry loop, breakers and reason strings all see the same small vocabulary. The transport that
sends the attempt is :mod:`zeta_router.upstream.http_transport`.

A stream's idle/deadline watch is one lazily re-armed timer per stream, on the router's clock,
rather than a timeout object per chunk, so the relay costs a clock read per chunk.
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiohttp
import orjson

from zeta_router.clock import Clock, Timer
from zeta_router.config import Timeouts
from zeta_router.errors import FailureKind, UpstreamError
from zeta_router.fleet.state import ReplicaState
from zeta_router.upstream import http1

_EVENT_ENDS = (b"\n\n", b"\r\n\r\n")
_DONE = b"data: [DONE]"
_DONE_TIGHT = b"data:[DONE]"  # the same event: SSE makes the space after the colon optional
#: [DONE] as an event starts a line; inside a JSON string (a model quoting the protocol) it
#: cannot, since JSON escapes newlines.
_DONE_LINE = b"\n" + _DONE
_DONE_TIGHT_LINE = b"\n" + _DONE_TIGHT
#: Bytes of an upstream error body kept for the reason string and relay.
ERROR_BODY_LIMIT = 64 * 1024
#: One SSE event larger than this is not relayed: a broken or hostile server must not grow
#: the router's memory without bound (a complete answer's bound: ``http_transport``).
MAX_EVENT_BYTES = 16 * 1024 * 1024
#: Upstream 4xx answers that mean the request itself is wrong: relayed, never retried.
_CLIENT_FAULT = frozenset({400, 413, 422})
#: How a validation error reads in an upstream's message, by who writes it: FastAPI's
#: RequestValidationError as a list of error records (llama-cpp-python answers it with a 500),
#: the same in FastAPI >= 0.115's wording, and pydantic's ValidationError.
_VALIDATION_TEXT = (
    re.compile(r"'loc': \("),
    re.compile(r"\b\d+ validation errors?:"),
    re.compile(r"\b\d+ validation errors? for \w"),
)
#: Error types with which servers label a request's own fault (OpenAI, vLLM, llama-server).
_REQUEST_ERROR_TYPES = frozenset({"invalid_request_error", "BadRequestError"})
#: The longest upstream Retry-After honoured: beyond it, health probes and breakers decide.
_MAX_RETRY_AFTER_S = 300.0
#: Headroom over the expected decode time of a non-stream answer: a replica that is merely
#: slower than usual finishes inside it, and is not abandoned to generate the answer twice.
_DECODE_HEADROOM = 3.0


def generation_allowance(
    timeouts: Timeouts, replica: ReplicaState, max_tokens: int | None
) -> float:
    """Seconds a non-stream attempt may take beyond ``first_byte_s`` to generate its answer:
    its max tokens at the replica's measured decode time per token (``decode_s_per_token`` at
    least: a few samples on a busy machine understate it), with headroom, for each request on
    the replica (this one included): a server that generates one answer at a time
    (llama-cpp-python's) makes the last in line wait for those ahead of it."""
    if max_tokens is None:
        # The server decides the length (often the rest of the context): allow the bound.
        return timeouts.generation_s
    per_token = max(replica.decode_s_per_token, timeouts.decode_s_per_token)
    ahead = max(1, replica.in_flight)
    return min(timeouts.generation_s, max_tokens * per_token * _DECODE_HEADROOM * ahead)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    value = headers.get("Retry-After") if headers else None
    if not value:
        return None
    try:
        secs = float(value)
    except ValueError:
        # An HTTP-date is legal but rare from model servers; treat it as "a little while".
        return 1.0
    if not math.isfinite(secs):  # "inf" or "nan" must not cool a replica down for good
        return 1.0
    return min(max(0.0, secs), _MAX_RETRY_AFTER_S)


def credentials(replica: ReplicaState) -> tuple[bytes, ...]:
    """What this replica is sent that must never be repeated: its API key, and the password
    from its URL (also as the Basic auth token sent for it)."""
    found: list[str] = []
    if replica.auth_header:
        found.append(replica.auth_header.partition(" ")[2])
    parts = urlsplit(replica.base_url)
    if parts.password:
        user, password = unquote(parts.username or ""), unquote(parts.password)
        pair = f"{user}:{password}".encode("latin-1", "replace")
        found += [password, parts.password, base64.b64encode(pair).decode()]
    out: set[bytes] = set()
    for secret in found:
        if secret:
            out.add(secret.encode())
            out.add(secret.encode().replace(b"/", b"\\/"))  # as some JSON encoders write it
    return tuple(out)


def redact(body: bytes, secrets: tuple[bytes, ...]) -> bytes:
    """``body`` with every secret masked: error bodies feed reason strings, logs, headers and
    relayed client errors, and some servers quote the request's Authorization header."""
    for secret in secrets:
        if secret in body:
            body = body.replace(secret, b"<redacted>")
    return body


def error_message(body: bytes) -> tuple[str, str | None]:
    """The upstream's own error message, whole, and its error type when it gives one.

    Reads OpenAI's ``{"error": {"message", "type"}}``, Ollama's ``{"error": "..."}`` and
    FastAPI's ``{"detail": ...}``; any other body is its own message."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace").strip(), None
    if isinstance(obj, dict):
        inner = obj.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            kind = inner.get("type")
            return inner["message"], kind if isinstance(kind, str) else None
        if isinstance(inner, str):
            return inner, None
        detail = obj.get("detail")
        if isinstance(detail, str):
            return detail, None
        if isinstance(detail, list) and detail:
            # FastAPI's 422: a list of {"loc", "msg", "type"} records.
            return orjson.dumps(detail).decode(), "invalid_request_error"
    return body.decode("utf-8", "replace").strip(), None


def _says_invalid(message: str, error_type: str | None) -> bool:
    """Whether an error message (of a 5xx) says the request, not the server, is wrong."""
    if error_type in _REQUEST_ERROR_TYPES:
        return True
    return any(p.search(message) for p in _VALIDATION_TEXT)


def status_error(status: int, headers: Mapping[str, str] | None, body: bytes) -> UpstreamError:
    """Translate a non-2xx upstream status into a failure kind."""
    message, error_type = error_message(body) if body else ("", None)
    snippet = " ".join(message.split())[:120]
    retry_after = _retry_after(headers)
    if status == 429:
        kind = FailureKind.RATE_LIMITED
    elif status == 503:
        low = body[:ERROR_BODY_LIMIT].lower()
        kind = FailureKind.LOADING if b"loading" in low else FailureKind.UNAVAILABLE
    elif status >= 500:
        invalid = _says_invalid(message, error_type)
        kind = FailureKind.REQUEST_REJECTED if invalid else FailureKind.SERVER_ERROR
    elif status in _CLIENT_FAULT:
        kind = FailureKind.CLIENT_ERROR
    elif status == 404:
        # An unknown model or route here; the request's own fault only if others agree.
        kind = FailureKind.NOT_FOUND
    else:
        # 401/403/408...: this replica cannot take the request (bad key, rate policy);
        # another replica or model may.
        kind = FailureKind.REJECTED
    return UpstreamError(
        kind, f"HTTP {status} {snippet}".strip(), status, retry_after, body or None, message
    )


Detail = str | Callable[[BaseException], str]


def _os_error(exc: BaseException) -> str:
    return type(getattr(exc, "os_error", exc)).__name__


def _name(exc: BaseException) -> str:
    return type(exc).__name__


def _text(exc: BaseException) -> str:
    return str(exc)[:120]


#: Every client exception the transports raise and what it means, most specific first (the
#: first match wins; ``tests/test_http1.py`` checks that each exception class is covered). A
#: fixed string or a function of the exception gives the detail.
EXCEPTIONS: tuple[tuple[type[BaseException], FailureKind, Detail], ...] = (
    (http1.ConnectError, FailureKind.CONNECT, _os_error),
    (http1.ConnectTimeout, FailureKind.CONNECT_TIMEOUT, ""),
    (http1.TruncatedBody, FailureKind.RESET, "truncated body"),
    (http1.ProtocolError, FailureKind.MALFORMED, _text),
    (http1.Disconnected, FailureKind.RESET, "server closed the connection"),
    (aiohttp.ClientConnectorError, FailureKind.CONNECT, _os_error),
    (aiohttp.ConnectionTimeoutError, FailureKind.CONNECT_TIMEOUT, ""),
    # Our own timers (first byte, idle): which one it was depends on the phase.
    (TimeoutError, FailureKind.FIRST_BYTE_TIMEOUT, ""),
    (aiohttp.ClientPayloadError, FailureKind.RESET, "truncated body"),
    (aiohttp.ServerDisconnectedError, FailureKind.RESET, _name),
    (aiohttp.ClientOSError, FailureKind.RESET, _name),
    (ConnectionError, FailureKind.RESET, _name),
    (aiohttp.ClientError, FailureKind.MALFORMED, _name),
)


def translate(exc: BaseException, phase: str) -> UpstreamError:
    """Translate a client exception. ``phase`` is "connect", "first byte" or "stream"."""
    if isinstance(exc, UpstreamError):
        return exc
    for kind_of, kind, detail in EXCEPTIONS:
        if isinstance(exc, kind_of):
            if kind is FailureKind.FIRST_BYTE_TIMEOUT and phase == "stream":
                kind = FailureKind.IDLE_TIMEOUT
            return UpstreamError(kind, detail if isinstance(detail, str) else detail(exc))
    # Anything else from below the transport ends the connection's usefulness.
    return UpstreamError(FailureKind.RESET, _name(exc))


def _has_done(block: bytes) -> bool:
    """Whether ``block`` (whole SSE events) holds the end-of-stream event."""
    if b"[DONE]" not in block:  # the usual block: one scan
        return False
    if block.startswith(_DONE) or _DONE_LINE in block:
        return True
    return block.startswith(_DONE_TIGHT) or _DONE_TIGHT_LINE in block


def check_event_size(pending: bytes) -> None:
    """An event still incomplete at this size never will be, as far as the router cares."""
    if len(pending) > MAX_EVENT_BYTES:
        raise UpstreamError(FailureKind.MALFORMED, f"SSE event larger than {MAX_EVENT_BYTES} bytes")


def only_comments(block: bytes) -> bool:
    """Whether ``block`` (whole SSE events) holds nothing but comment lines: the keep-alive
    pings some servers send while a prompt is still being read (llama-cpp-python's every 15 s).
    They say the server's event loop is alive, not that the model is answering."""
    if block[:1] != b":":  # the usual block starts with data: or event:, one compare
        return False
    return all(not line or line.startswith(b":") for line in block.replace(b"\r", b"").split(b"\n"))


def split_events(buf: bytes) -> int:
    """Index just past the last complete SSE event in ``buf`` (0 when none is complete)."""
    end = 0
    for sep in _EVENT_ENDS:
        i = buf.rfind(sep)
        if i >= 0:
            end = max(end, i + len(sep))
    return end


class Body(Protocol):
    """A response whose body is still arriving, as a client gives it: http1's
    :class:`~zeta_router.upstream.http1.Response`, or aiohttp's behind an adapter."""

    status: int

    async def readany(self) -> bytes: ...

    def release(self) -> None: ...

    def close(self) -> None: ...


def first_byte_limit(
    timeouts: Timeouts,
    replica: ReplicaState,
    max_tokens: int | None,
    *,
    stream: bool,
    remaining: float,
) -> float:
    """How long an attempt may wait for its answer (a stream: its first event), with
    ``remaining`` seconds left of the request's deadline. A non-stream answer is whole when it
    comes, so it also gets :func:`generation_allowance`."""
    if remaining <= 0:
        raise UpstreamError(FailureKind.FIRST_BYTE_TIMEOUT, "request deadline")
    first_byte = timeouts.first_byte_s
    if not stream:
        first_byte += generation_allowance(timeouts, replica, max_tokens)
    return min(first_byte, remaining)


class _Closes(Protocol):
    def close(self) -> None: ...


def abandoned(exc: BaseException, resp: _Closes | None) -> BaseException:
    """What an attempt that failed before its answer was handed on raises: its connection is
    closed, not pooled (the server sees the disconnect and can stop generating); a cancellation
    stays one, anything else is translated."""
    if resp is not None:
        resp.close()
    if isinstance(exc, asyncio.CancelledError):
        return exc
    return translate(exc, "connect" if resp is None else "first byte")


class Stream:
    """An upstream SSE stream whose first complete event block has arrived.

    Iterating yields blocks of whole events. It raises :class:`UpstreamError` when the
    stream breaks (reset, idle timeout, deadline, EOF before ``[DONE]``).
    """

    __slots__ = (
        "_buf",
        "_clock",
        "_deadline",
        "_ends",
        "_expired",
        "_idle_s",
        "_last",
        "_resp",
        "_timer",
        "done",
        "first",
        "status",
    )

    def __init__(
        self,
        resp: Body,
        first: bytes,
        rest: bytes,
        *,
        idle_s: float,
        deadline: float,
        clock: Clock,
        ends: Callable[[bytes], bool] | None = None,
    ) -> None:
        self._resp = resp
        self.first = first
        self.status = resp.status
        self._buf = rest
        self._idle_s = idle_s
        self._deadline = deadline
        self._clock = clock
        self._last = clock()
        self._expired: UpstreamError | None = None
        self._timer: Timer | None = None
        #: Whether a block holds the last event: chat's [DONE] unless the API ends otherwise.
        self._ends = ends or _has_done
        self.done = self._ends(first)

    @classmethod
    async def open(
        cls,
        resp: Body,
        timeouts: Timeouts,
        deadline: float,
        clock: Clock,
        ends: Callable[[bytes], bool] | None = None,
    ) -> Stream:
        """The stream of an answer whose headers are in, once its first complete event is.
        Pings before it are dropped: committing the answer to this replica on one would turn
        a crash while the prompt is read into a broken stream instead of a retry, and measure
        the ping's time as the first token's."""
        buf = b""
        while True:
            chunk = await resp.readany()
            if not chunk:
                raise UpstreamError(FailureKind.RESET, "stream ended before first event")
            buf += chunk
            end = split_events(buf)
            if end and only_comments(buf[:end]):
                buf, end = buf[end:], 0
            if end:
                break
            check_event_size(buf)
        return cls(
            resp,
            buf[:end],
            buf[end:],
            idle_s=timeouts.idle_s,
            deadline=deadline,
            clock=clock,
            ends=ends,
        )

    def _arm(self) -> None:
        when = min(self._last + self._idle_s, self._deadline)
        self._timer = self._clock.call_later(when - self._clock(), self._check)

    def _check(self) -> None:
        now = self._clock()
        if now >= self._deadline:
            self._expire(UpstreamError(FailureKind.IDLE_TIMEOUT, "request deadline"))
        elif now - self._last >= self._idle_s:
            self._expire(UpstreamError(FailureKind.IDLE_TIMEOUT))
        else:
            self._arm()

    def _expire(self, err: UpstreamError) -> None:
        self._expired = err
        # Closing the response wakes the pending read with an error we then translate.
        self._resp.close()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.done:
            return
        resp = self._resp
        self._arm()
        try:
            while True:
                try:
                    chunk = await resp.readany()
                except BaseException as exc:
                    if self._expired is not None:
                        raise self._expired from None
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    raise translate(exc, "stream") from None
                if not chunk:
                    if self._expired is not None:
                        raise self._expired
                    raise UpstreamError(FailureKind.RESET, "stream ended before [DONE]")
                if not only_comments(chunk):
                    # Pings keep the connection open but are no progress: a model stuck
                    # between tokens must still run into the idle timeout.
                    self._last = self._clock()
                buf = self._buf + chunk if self._buf else chunk
                end = split_events(buf)
                if not end:
                    check_event_size(buf)
                    self._buf = buf
                    continue
                block = buf[:end]
                self._buf = buf[end:]
                check_event_size(self._buf)
                if self._ends(block):
                    self.done = True
                    yield block
                    return
                yield block
        finally:
            if self._timer is not None:
                self._timer.cancel()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._resp.release() if self.done else self._resp.close()
