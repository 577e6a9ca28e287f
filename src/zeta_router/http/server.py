"""The HTTP surface: a raw ASGI app (no framework on the hot path).

It reads and bounds the body, validates it into a :class:`ParsedRequest`, reads the x-zeta-*
headers, hands the request to the router and writes the answer. Every client mistake becomes a
4xx with an OpenAI-style error body; anything unexpected becomes a 500 without a stack trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from importlib import resources
from typing import Any

from zeta_router.analysis.profile import estimate_tokens
from zeta_router.config import Api, Config, Endpoint
from zeta_router.errors import (
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    NoCapacity,
    NotFound,
    RouterError,
)
from zeta_router.fleet.outcome import INTERNAL_ERROR, SHUTDOWN
from zeta_router.fleet.redis_limits import RedisLimits
from zeta_router.http import apis
from zeta_router.http.asgi import Handler, Message, Receive, Scope, Send, json_response, read_body
from zeta_router.http.auth import Caller, Gate
from zeta_router.http.bounds import apply_cap, check_model_cap, check_sizes, model_cap
from zeta_router.http.protocol import PRIORITIES, ParsedRequest, parse_request
from zeta_router.http.response import JSON_TYPE, Response, error_response, sse_error_event
from zeta_router.router import RequestOptions, Router
from zeta_router.routing.limits import Limiter, MemoryStore, Ticket, left_early

log = logging.getLogger("zeta_router.server")

#: x-zeta-timeout-ms above this (about 31 years) means "no deadline of my own" anyway.
_MAX_TIMEOUT_MS = 10**12

#: Longest x-zeta-session accepted (it is hashed, never kept).
_MAX_SESSION = 256
#: Most requests carry no x-zeta-* header: they share one (frozen) options object.
_NO_OPTIONS = RequestOptions()

_INFERENCE: dict[str, Endpoint | Api] = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
    "/v1/rerank": "rerank",
    "/v1/responses": "responses",
    "/v1/messages": "messages",
}
_APIS: frozenset[str] = frozenset({"responses", "messages"})


def request_options(scope: Scope, config: Config) -> RequestOptions:
    task = priority = timeout = session = None
    seen = False
    for name, value in scope["headers"]:
        if not name.startswith(b"x-zeta-"):
            continue
        seen = True
        if name == b"x-zeta-task":
            tasks = config.tasks
            task = value.decode("latin-1").strip().lower()
            if task not in tasks:
                raise InvalidRequest(
                    f"x-zeta-task must be one of {', '.join(tasks)}", param="x-zeta-task"
                )
        elif name == b"x-zeta-priority":
            key = value.decode("latin-1").strip().lower()
            if key not in PRIORITIES:
                raise InvalidRequest(
                    "x-zeta-priority must be one of low, normal, high, urgent",
                    param="x-zeta-priority",
                )
            priority = PRIORITIES[key]
        elif name == b"x-zeta-timeout-ms":
            try:
                ms = int(value)
            except ValueError:
                ms = 0
            if ms <= 0:
                raise InvalidRequest(
                    "x-zeta-timeout-ms must be a positive integer", param="x-zeta-timeout-ms"
                )
            # Clamped: a huge value (hundreds of digits) would overflow the float.
            timeout = min(ms, _MAX_TIMEOUT_MS) / 1000.0
        elif name == b"x-zeta-session":
            session = value.decode("latin-1").strip()
            if not session or len(session) > _MAX_SESSION:
                raise InvalidRequest(
                    f"x-zeta-session must be 1 to {_MAX_SESSION} characters",
                    param="x-zeta-session",
                )
    if not seen:
        return _NO_OPTIONS
    return RequestOptions(
        task=task,
        priority=PRIORITIES["normal"] if priority is None else priority,
        timeout_s=timeout,
        session=session,
    )


#: How long routing may take before a watch on the client's connection starts.
_WATCH_AFTER_S = 0.25


class _HangUpWatch:
    """Cancels the handler's routing when the client hangs up, once started."""

    __slots__ = ("_receive", "_routing", "_task", "gone", "hung_up")

    def __init__(self, task: asyncio.Task[Any], receive: Receive) -> None:
        self._task = task
        self._receive = receive
        self._routing = True
        self.gone: asyncio.Future[Message] | None = None
        self.hung_up = False

    def start(self) -> None:
        if self._routing:
            self.gone = asyncio.ensure_future(self._receive())
            self.gone.add_done_callback(self._on_gone)

    def _on_gone(self, _: asyncio.Future[Message]) -> None:
        if self._routing:
            self.hung_up = True
            self._task.cancel()

    def routed(self) -> asyncio.Future[Message] | None:
        """Routing is over: the watch (if started) goes on with the response's relay."""
        self._routing = False
        return self.gone

    def stop(self) -> None:
        self._routing = False
        if self.gone is not None:
            self.gone.cancel()


class App:
    """The ASGI application. Extra endpoints (status, metrics, dashboard, feedback) register
    themselves with :meth:`add_route` so this module stays about the request path."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._routes: dict[str, dict[str, Handler]] = {}
        #: Inference requests being served (their tasks), for :meth:`cut` at shutdown.
        self._serving: set[asyncio.Task[Any]] = set()
        self._cutting = False
        self._gate = Gate(router.config.auth)
        #: Per-key limits: across instances when the fleet state is shared, else per instance.
        channel = router.shared.channel("limits")
        settings = router.config.state
        self._shared_limits = (
            RedisLimits(channel, router.clock, settings.sync_interval_s, settings.instance_ttl_s)
            if channel is not None
            else None
        )
        self.limiter = Limiter(self._shared_limits or MemoryStore(), router.clock)
        self.add_route("/health", "GET", self._health)
        self.add_route("/v1/models", "GET", self._models)
        self.add_route("/models", "GET", self._models)
        self.add_route("/v1/feedback", "POST", self._feedback)
        self.add_route("/v1/feedback", "GET", self._scores)
        self.add_route("/openapi.json", "GET", self._openapi)

    def gate(self) -> Gate:
        """The keys of the config in effect (rebuilt when a reload changed them)."""
        auth = self.router.config.auth
        gate = self._gate
        if gate.auth is not auth:
            gate = self._gate = Gate(auth)
        return gate

    def caller(self, scope: Scope, api_key_header: bool = False) -> Caller | None:
        """The request's client key (401 without a valid one), or None when no key is set."""
        gate = self.gate()
        return gate.client(scope, api_key_header) if gate.clients_enabled else None

    def add_route(self, path: str, method: str, handler: Handler) -> None:
        self._routes.setdefault(path, {})[method] = handler

    def cut(self) -> int:
        """Shutdown's grace period is over: end every inference request still being served,
        cleanly. A stream gets the explicit SSE error event and its end, a request still
        waiting for an answer a 503; the server then sees the app return, not a cancellation
        (which it would log as a crash). Returns how many were cut."""
        self._cutting = True
        tasks = list(self._serving)
        for t in tasks:
            t.cancel()
        return len(tasks)

    def _cut_here(self) -> bool:
        """Whether the cancellation being handled is :meth:`cut`'s; if so it is taken back."""
        task = asyncio.current_task()
        if not self._cutting or task is None or not task.cancelling():
            return False
        task.uncancel()
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.router.start()
                    if self._shared_limits is not None:
                        self._shared_limits.start()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._shared_limits is not None:
                    await self._shared_limits.close()
                await self.router.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        endpoint = _INFERENCE.get(path) or _INFERENCE.get("/v1" + path)
        if endpoint is not None:
            task = asyncio.current_task()
            if task is not None:
                self._serving.add(task)
                try:
                    await self._http_handled(scope, receive, send, path, method, endpoint)
                finally:
                    self._serving.discard(task)
                return
        await self._http_handled(scope, receive, send, path, method, endpoint)

    async def _http_handled(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        path: str,
        method: str,
        endpoint: Endpoint | Api | None,
    ) -> None:
        gone: asyncio.Future[Message] | None = None
        ticket: Ticket | None = None
        try:
            if endpoint is not None:
                if method != "POST":
                    raise MethodNotAllowed(f"{method} is not allowed on {path}; use POST")
                resp, gone, ticket = await self._inference(endpoint, scope, receive)
            else:
                handlers = self._routes.get(path)
                if handlers is None:
                    raise NotFound(f"Unknown endpoint {method} {path}")
                handler = handlers.get(method)
                if handler is None:
                    allowed = ", ".join(sorted(handlers))
                    raise MethodNotAllowed(f"{method} is not allowed on {path}; use {allowed}")
                resp = await handler(scope, receive)
        except RouterError as err:
            resp = error_response(err)
            if endpoint is not None:
                # Rejected before routing (bad body or headers): still a request in the metrics.
                self.router.telemetry.rejected(endpoint, err.status)
        except asyncio.CancelledError:
            if not self._cut_here():
                return
            resp = error_response(
                NoCapacity("The router is shutting down", code="shutting_down", retry_after_s=1)
            )
        except Exception:
            log.exception("unexpected error on %s %s", method, path)
            resp = error_response(InternalError("The router hit an internal error"))
        if endpoint in _APIS and resp.error is not None:
            resp = apis.error_response(endpoint, resp.error, resp.headers)
        try:
            await self._send(resp, receive, send, gone, http10=scope.get("http_version") == "1.0")
        finally:
            if ticket is not None:
                self._settle(ticket, resp)

    def _settle(self, ticket: Ticket, resp: Response) -> None:
        d = resp.decision
        used = d.tokens if d is not None else None
        if used is None:
            if resp.status >= 400:
                used = 0  # refused before any upstream generated a token
            elif d is not None and d.left_after is not None:
                used = left_early(ticket, d.left_after)
        self.limiter.settle(ticket, used)

    async def _admit(
        self, caller: Caller, req: ParsedRequest, opts: RequestOptions
    ) -> tuple[RequestOptions, Ticket | None]:
        """A client key's say on a parsed request: its allow-list, token cap and limits."""
        caller.check_model(req.model)
        caller.check_max_tokens(req.max_tokens)
        if caller.max_tokens is not None:
            apply_cap(req, caller.max_tokens)
        opts = caller.options if opts is _NO_OPTIONS else caller.options_for(opts)
        if not caller.limits.any:
            return opts, None
        prompt = estimate_tokens(req.input_chars)
        cost = prompt + (req.max_tokens or 0)
        return opts, await self.limiter.admit(caller.name, caller.limits, cost, prompt=prompt)

    async def _inference(
        self, endpoint: Endpoint | Api, scope: Scope, receive: Receive
    ) -> tuple[Response, asyncio.Future[Message] | None, Ticket | None]:
        """Route one request; also returns the watch on the client's connection (receive()
        tells of a hang-up, once the body is read) if one was started, which the response's
        relay goes on with, and the key's ticket to settle once the answer is sent."""
        router = self.router
        config = router.config
        # Before the body is read: an unknown client costs no parsing.
        caller = self.caller(scope, endpoint == "messages")
        raw = await read_body(scope, receive, config.server.max_body_bytes)
        opts = request_options(scope, config)
        if endpoint == "responses" or endpoint == "messages":
            req = apis.parse(endpoint, raw, router.responses)
        else:
            req = parse_request(endpoint, raw)
        check_sizes(req, config.server)
        check_model_cap(config, req)
        ticket = None
        if caller is not None:
            opts, ticket = await self._admit(caller, req, opts)
        if req.model is not None and (cap := model_cap(config, req.model)) is not None:
            apply_cap(req, cap)  # after the key's (lower or not), which then holds
        try:
            resp, gone = await self._route(req, opts, receive)
            if caller is not None and resp.decision is not None:
                resp.decision.client = caller.name  # before finish() logs it
        except BaseException:
            if ticket is not None:
                # Cancelled (the client left) or failed: what an upstream spent is unknown,
                # so the estimate stays charged; the request's slot frees.
                self.limiter.settle(ticket, None)
            raise
        return resp, gone, ticket

    async def _route(
        self, req: ParsedRequest, opts: RequestOptions, receive: Receive
    ) -> tuple[Response, asyncio.Future[Message] | None]:
        router = self.router
        # A non-stream answer arrives whole, maybe minutes later: a client that hangs up
        # meanwhile cancels the routing, and with it the attempt, whose upstream connection is
        # then closed so the server can stop generating. The watch on receive() starts only
        # once routing has taken a while: most answers come sooner, and a task per request
        # would cost more than the rest of the request path's bookkeeping.
        task = asyncio.current_task()
        assert task is not None
        watch = _HangUpWatch(task, receive)
        timer = asyncio.get_running_loop().call_later(_WATCH_AFTER_S, watch.start)
        try:
            resp = await router.handle(req, opts)
        except asyncio.CancelledError:
            watch.stop()
            if watch.hung_up:
                task.uncancel()  # ours, not the server's: the handler just returns
            raise
        except BaseException:
            watch.stop()
            raise
        finally:
            timer.cancel()
        return resp, watch.routed()

    async def _send(
        self,
        resp: Response,
        receive: Receive,
        send: Send,
        gone: asyncio.Future[Message] | None = None,
        http10: bool = False,
    ) -> None:
        decision = resp.decision
        try:
            if resp.stream is not None and http10:
                # An HTTP/1.0 client cannot read chunked framing, and uvicorn frames every
                # answer without a length that way: such a client gets the whole stream at
                # once, with its length.
                resp = await self._collect(resp, gone)
                gone = None  # cancelled there
            if resp.stream is None:
                headers = [*resp.headers, (b"content-length", b"%d" % len(resp.body))]
                await send(
                    {"type": "http.response.start", "status": resp.status, "headers": headers}
                )
                await send({"type": "http.response.body", "body": resp.body})
                return
            await send(
                {"type": "http.response.start", "status": resp.status, "headers": resp.headers}
            )
            await self._send_stream(resp, receive, send, gone)
            gone = None  # cancelled there
        finally:
            if gone is not None:
                gone.cancel()
            if decision is not None:
                self.router.finish(decision)

    async def _collect(self, resp: Response, gone: asyncio.Future[Message] | None) -> Response:
        """A stream read to its end into one body (its error event included)."""
        chunks: list[bytes] = []

        async def sink(message: Message) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        async def never() -> Message:
            await asyncio.Event().wait()
            return {"type": "http.disconnect"}

        await self._send_stream(resp, never, sink, gone)
        return Response(resp.status, resp.headers, b"".join(chunks), decision=resp.decision)

    async def _send_stream(
        self,
        resp: Response,
        receive: Receive,
        send: Send,
        gone: asyncio.Future[Message] | None = None,
    ) -> None:
        assert resp.stream is not None
        stream = resp.stream
        # The server only tells us the client left through receive(); watch it on the side and
        # stop relaying (and free the upstream slot) at once: waiting for the next chunk would
        # hold a stalled upstream, and its replica's slot, until the idle timeout.
        if gone is None:
            gone = asyncio.ensure_future(receive())
        task = asyncio.current_task()
        left = False

        def hang_up(fut: asyncio.Future[Message]) -> None:
            nonlocal left
            if not fut.cancelled() and task is not None:
                left = True
                task.cancel()

        gone.add_done_callback(hang_up)
        try:
            try:
                async for chunk in stream:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except Exception:
                # Headers are out, so no status can say it: the stream itself must end with an
                # explicit error event rather than a truncation the client cannot tell apart.
                log.exception("stream relay failed")
                if resp.decision is not None:
                    resp.decision.stream_error = INTERNAL_ERROR
                event = sse_error_event(
                    "The router hit an internal error; the answer above is incomplete.",
                    kind="server_error",
                    code="internal_error",
                )
                await send({"type": "http.response.body", "body": event, "more_body": True})
            except asyncio.CancelledError:
                if left:
                    raise
                if not self._cut_here():
                    raise
                if resp.decision is not None:
                    resp.decision.stream_error = SHUTDOWN
                event = sse_error_event(
                    "The router is shutting down; the answer above is incomplete.",
                    kind="server_error",
                    code="shutting_down",
                )
                await send({"type": "http.response.body", "body": event, "more_body": True})
            gone.remove_done_callback(hang_up)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not left or task is None:
                raise
            # Our own cancel, for the client left (the relay's finally has closed the upstream
            # and freed the slot): taken back; there is no one to write the end to.
            task.uncancel()
        finally:
            gone.remove_done_callback(hang_up)
            gone.cancel()
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _openapi(self, scope: Scope, receive: Receive) -> Response:
        doc = resources.files(__package__).joinpath("openapi.json").read_bytes()
        return Response(200, [(b"content-type", JSON_TYPE)], doc)

    async def _health(self, scope: Scope, receive: Receive) -> Response:
        return json_response({"status": "ok"})

    async def _feedback(self, scope: Scope, receive: Receive) -> Response:
        self.caller(scope)
        raw = await read_body(scope, receive, 64 * 1024)
        return json_response(self.router.feedback.rate_body(raw))

    async def _scores(self, scope: Scope, receive: Receive) -> Response:
        self.caller(scope)
        return json_response(self.router.load_report())

    async def _models(self, scope: Scope, receive: Receive) -> Response:
        caller = self.caller(scope)
        allowed = caller.models if caller is not None else None
        created = int(self.router.started_at)
        # "auto" first: the name that lets the router choose (what a 404 suggests).
        auto = {
            "id": "auto",
            "object": "model",
            "created": created,
            "owned_by": "zeta-router",
            "endpoints": sorted(
                {e for m in self.router.config.models.values() for e in m.endpoints}
            ),
            "context_window": None,
        }
        data = [auto]
        data += [
            {
                "id": name,
                "object": "model",
                "created": created,
                "owned_by": "zeta-router",
                "endpoints": list(model.endpoints),
                "context_window": model.context_window,
            }
            for name, model in self.router.config.models.items()
            if allowed is None or name in allowed
        ]
        return json_response({"object": "list", "data": data})
