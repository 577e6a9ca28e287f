"""Talking to model servers: one pooled client, one attempt at a time, SSE relay.

Every upstream failure is translated into an :class:`UpstreamError` here and nowhere else, so the
retry loop, breakers and reason strings all see the same small vocabulary.

Timeouts: connect (socket), first byte (headers, and for streams the first complete SSE event),
idle between stream chunks, and the request's overall deadline. The idle/deadline watch for
streams is one lazily re-armed timer per stream rather than a timeout object per chunk, so the
relay costs a clock read per chunk.
"""

from __future__ import annotations

import asyncio
import base64
import math
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import orjson

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
_ERROR_BODY_LIMIT = 64 * 1024
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


@dataclass(slots=True)
class Reply:
    """A complete (non-stream) upstream answer."""

    status: int
    content_type: str
    body: bytes


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
        low = body[:_ERROR_BODY_LIMIT].lower()
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


def translate(exc: BaseException, phase: str) -> UpstreamError:
    """Translate a client exception. ``phase`` is "connect", "first byte" or "stream"."""
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, http1.ConnectError):
        return UpstreamError(FailureKind.CONNECT, type(exc.os_error).__name__)
    if isinstance(exc, http1.ConnectTimeout):
        return UpstreamError(FailureKind.CONNECT_TIMEOUT)
    if isinstance(exc, http1.TruncatedBody):
        return UpstreamError(FailureKind.RESET, "truncated body")
    if isinstance(exc, http1.ProtocolError):
        return UpstreamError(FailureKind.MALFORMED, str(exc)[:120])
    if isinstance(exc, http1.Disconnected):
        return UpstreamError(FailureKind.RESET, "server closed the connection")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return UpstreamError(FailureKind.CONNECT, type(exc.os_error).__name__)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamError(FailureKind.CONNECT_TIMEOUT)
    if isinstance(exc, TimeoutError):
        kind = FailureKind.IDLE_TIMEOUT if phase == "stream" else FailureKind.FIRST_BYTE_TIMEOUT
        return UpstreamError(kind)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return UpstreamError(FailureKind.RESET, "truncated body")
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, ConnectionError)):
        return UpstreamError(FailureKind.RESET, type(exc).__name__)
    if isinstance(exc, aiohttp.ClientError):
        return UpstreamError(FailureKind.MALFORMED, type(exc).__name__)
    return UpstreamError(FailureKind.RESET, type(exc).__name__)


def _has_done(block: bytes) -> bool:
    """Whether ``block`` (whole SSE events) holds the end-of-stream event."""
    if b"[DONE]" not in block:  # the usual block: one scan
        return False
    if block.startswith(_DONE) or _DONE_LINE in block:
        return True
    return block.startswith(_DONE_TIGHT) or _DONE_TIGHT_LINE in block


def _split_events(buf: bytes) -> int:
    """Index just past the last complete SSE event in ``buf`` (0 when none is complete)."""
    end = 0
    for sep in _EVENT_ENDS:
        i = buf.rfind(sep)
        if i >= 0:
            end = max(end, i + len(sep))
    return end


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
        "_loop",
        "_resp",
        "_timer",
        "done",
        "first",
        "status",
    )

    def __init__(
        self,
        resp: http1.Response,
        first: bytes,
        rest: bytes,
        *,
        idle_s: float,
        deadline: float,
        clock: Callable[[], float],
        ends: Callable[[bytes], bool] | None = None,
    ) -> None:
        self._resp = resp
        self.first = first
        self.status = resp.status
        self._buf = rest
        self._idle_s = idle_s
        self._deadline = deadline
        self._clock = clock
        self._loop = asyncio.get_running_loop()
        self._last = clock()
        self._expired: UpstreamError | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: Whether a block holds the last event: chat's [DONE] unless the API ends otherwise.
        self._ends = ends or _has_done
        self.done = self._ends(first)

    def _arm(self) -> None:
        when = min(self._last + self._idle_s, self._deadline)
        self._timer = self._loop.call_later(max(0.0, when - self._clock()), self._check)

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
                self._last = self._clock()
                buf = self._buf + chunk if self._buf else chunk
                end = _split_events(buf)
                if not end:
                    self._buf = buf
                    continue
                block = buf[:end]
                self._buf = buf[end:]
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


class _Watchdog:
    """First-byte deadlines of every in-flight attempt under one event-loop timer.

    ``asyncio.timeout`` arms and cancels a loop timer per attempt: about 7 µs of client CPU
    per request, measured. Deadlines here are "now + a per-model constant", so they come almost
    in order: the one timer is re-armed only when it fires (it then cancels the overdue
    attempts and moves on to the earliest remaining deadline) or when a deadline earlier than
    every pending one comes in. Per attempt that leaves a dict store and a pop.
    """

    __slots__ = ("_at", "_due", "_fired", "_handle", "_loop")

    def __init__(self) -> None:
        self._due: dict[asyncio.Task[Any], float] = {}
        self._fired: set[asyncio.Task[Any]] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._at = math.inf

    def guard(self, timeout_s: float) -> _Guard:
        """A ``with`` block that raises TimeoutError when it outlives ``timeout_s``."""
        task = asyncio.current_task()
        assert task is not None
        loop = task.get_loop()
        if loop is not self._loop:
            # A new event loop (tests run one per test): the old one's timer and tasks are gone.
            self._due.clear()
            self._fired.clear()
            self._handle = None
            self._at = math.inf
            self._loop = loop
        when = loop.time() + timeout_s
        self._due[task] = when
        if when < self._at:
            self._arm(when)
        return _Guard(self, task)

    def _unwatch(self, task: asyncio.Task[Any]) -> bool:
        """Stop watching ``task``; True when its deadline fired (we cancelled it)."""
        self._due.pop(task, None)
        if not self._fired or task not in self._fired:
            return False
        self._fired.discard(task)
        return True

    def _arm(self, when: float) -> None:
        assert self._loop is not None
        if self._handle is not None:
            self._handle.cancel()
        self._at = when
        self._handle = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        assert self._loop is not None
        self._handle = None
        self._at = math.inf
        now = self._loop.time()
        nxt = math.inf
        for task, when in list(self._due.items()):
            if when <= now:
                del self._due[task]
                self._fired.add(task)
                task.cancel()
            elif when < nxt:
                nxt = when
        if nxt < math.inf:
            self._arm(nxt)


class _Guard:
    """One attempt under the watchdog; the exit mirrors ``asyncio.timeout``'s."""

    __slots__ = ("_cancelling", "_dog", "_task")

    def __init__(self, dog: _Watchdog, task: asyncio.Task[Any]) -> None:
        self._dog = dog
        self._task = task
        # A cancellation is ours only if it is not also someone else's.
        self._cancelling = task.cancelling()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if not self._dog._unwatch(self._task):
            return
        # Fired: our cancel is either the CancelledError in flight or, when the block had just
        # finished, still pending for the next await. Either way it becomes a timeout.
        if self._task.uncancel() <= self._cancelling and kind in (None, asyncio.CancelledError):
            raise TimeoutError from exc


class Upstream:
    """The pooled HTTP clients shared by every replica (keep-alive, no per-request client):
    :mod:`http1` for requests, aiohttp for health probes and metric scrapes."""

    def __init__(
        self,
        clock: Callable[[], float],
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._clock = clock
        self._session = session
        self._own_session = session is None
        self._header_cache: dict[str | None, bytes] = {}
        self._watchdog = _Watchdog()
        self._pool: http1.Pool | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0, ttl_dns_cache=300, keepalive_timeout=30, enable_cleanup_closed=False
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                skip_auto_headers=("User-Agent",),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    @property
    def pool(self) -> http1.Pool:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._pool.loop is not loop:
            self._pool = http1.Pool(loop)
        return self._pool

    async def close(self) -> None:
        if self._session is not None and self._own_session:
            await self._session.close()
        self._session = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None
            # Aborted transports close their sockets in a callback: let it run while the
            # loop still does.
            await asyncio.sleep(0)

    def _headers(self, auth: str | None) -> bytes:
        """Header lines for one credential, built once: every request sends the same few."""
        h = self._header_cache.get(auth)
        if h is None:
            if auth and ("\r" in auth or "\n" in auth):
                raise UpstreamError(FailureKind.REJECTED, "the credential holds a line break")
            h = b"Content-Type: application/json\r\nAccept-Encoding: identity\r\n"
            if auth:
                h += b"Authorization: " + auth.encode("latin-1", "replace") + b"\r\n"
            if len(self._header_cache) < 1024:  # credentials come from the config
                self._header_cache[auth] = h
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
        """One attempt. Returns once the answer (or, for streams, its first event) is here.

        A stream must show its first event within ``first_byte_s``; a non-stream answer is
        whole when it comes, so it also gets :func:`generation_allowance`. Whenever the attempt
        is abandoned (a timeout, the client left, a hedge won) its connection is closed, not
        pooled: the server sees the disconnect and can stop generating."""
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise UpstreamError(FailureKind.FIRST_BYTE_TIMEOUT, "request deadline")
        first_byte = timeouts.first_byte_s
        if not stream:
            first_byte += generation_allowance(timeouts, replica, max_tokens)
        first_byte = min(first_byte, remaining)
        resp: http1.Response | None = None
        try:
            pool = self.pool
            target = pool.target(replica.base_url + path)
            headers = self._headers(replica.auth_header or target.basic_auth)
            with self._watchdog.guard(first_byte):
                resp = await pool.request(
                    b"POST", target, headers, body, min(timeouts.connect_s, remaining)
                )
                if resp.status >= 300:
                    err_body = await resp.read(_ERROR_BODY_LIMIT)
                    # A complete error body leaves the connection reusable: a burst of 503s
                    # from a loading server should not also cost a reconnect each.
                    resp.release()
                    err_body = redact(err_body, credentials(replica))
                    raise status_error(resp.status, resp.headers, err_body)
                ctype = resp.headers.get("Content-Type", "")
                if not (stream and ctype.startswith("text/event-stream")):
                    data = await resp.read()
                    resp.release()
                    return Reply(resp.status, ctype or "application/json", data)
                buf = b""
                while True:
                    chunk = await resp.readany()
                    if not chunk:
                        raise UpstreamError(FailureKind.RESET, "stream ended before first event")
                    buf += chunk
                    end = _split_events(buf)
                    if end:
                        break
        except BaseException as exc:
            if resp is not None:
                resp.close()
            if isinstance(exc, asyncio.CancelledError):
                raise
            phase = "connect" if resp is None else "first byte"
            raise translate(exc, phase) from None
        return Stream(
            resp,
            buf[:end],
            buf[end:],
            idle_s=timeouts.idle_s,
            deadline=deadline,
            clock=self._clock,
            ends=ends,
        )

    async def get(self, url: str, timeout_s: float) -> tuple[int, bytes]:
        """A small GET for health probes and metric scrapes."""
        try:
            async with asyncio.timeout(timeout_s):
                async with self.session.get(url) as resp:
                    return resp.status, await resp.content.read(_ERROR_BODY_LIMIT * 16)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise translate(exc, "connect") from None
