"""An in-process OpenAI-compatible model server with runtime fault switches.

It speaks the real protocols a router meets: OpenAI JSON and SSE framing (``data: {...}`` events
ending with ``data: [DONE]``), OpenAI-style error bodies, llama.cpp's 503 "Loading model" on
every route while loading, ``Retry-After`` on 429/503, llama-cpp-python's 500 with a validation
error to requests carrying a marker (``reject_marker``), ``max_tokens`` (only) bounding the
answer, a generation that stops when the client hangs up, and backend metrics under vLLM's or
llama.cpp's names. Used by the tests, the chaos and balance benchmarks, and the perf benchmark
(as a separate process: ``python -m zeta_router.testing.fake_backend --port 9001``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import os
import signal
import time
from typing import Any, Literal, get_args

import orjson
from aiohttp import web

from zeta_router.testing import fake_apis, hostile
from zeta_router.testing.faults import Faults, Mode
from zeta_router.testing.prompt_cache import PromptCache

Flavor = Literal["vllm", "llamacpp", "sglang", "ollama", "openai"]
NativeApi = Literal["responses", "messages", "rerank"]
#: What each flavor serves besides chat, completions and embeddings (llama-server serves all
#: three; vLLM serves /v1/responses).
NATIVE: dict[str, frozenset[NativeApi]] = {
    "llamacpp": frozenset({"responses", "messages", "rerank"}),
    "vllm": frozenset({"responses"}),
}

_WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")
#: llama-cpp-python's answer to a chat request with a json_schema ``response_format``: FastAPI's
#: RequestValidationError, caught by its route handler and sent as a 500 with str(exc).
VALIDATION_MESSAGE = (
    "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': "
    "\"Input should be 'text' or 'json_object'\", 'input': 'json_schema', 'ctx': "
    "{'expected': \"'text' or 'json_object'\"}}, {'type': 'extra_forbidden', 'loc': "
    "('body', 'response_format', 'json_schema'), 'msg': 'Extra inputs are not permitted', "
    "'input': {'name': 'answer', 'schema': {'type': 'object'}}}]"
)
#: How often a generating request looks whether its client is still there.
_GENERATION_TICK_S = 0.01


class FakeBackend:
    def __init__(
        self,
        name: str = "fake",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        flavor: Flavor = "vllm",
        served_model: str | None = None,
        native: frozenset[NativeApi] | None = None,
    ) -> None:
        self.name = name
        #: The extra routes served (others answer 404, as a server without them does).
        self.native = NATIVE.get(flavor, frozenset()) if native is None else native
        self.host = host
        self.port = port
        self.flavor = flavor
        self.served_model = served_model
        self.faults = Faults()
        self.requests = 0
        self.completed = 0
        self.running = 0
        #: The most requests this backend ever generated at once (a concurrency limit's proof).
        self.peak_running = 0
        self.waiting = 0
        #: Generations stopped because the client closed the connection.
        self.abandoned = 0
        self.last_body: dict[str, Any] | None = None
        self.last_raw = b""
        self.last_headers: dict[str, str] = {}
        #: The path of the last inference request (which API the router spoke).
        self.last_path = ""
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._slots: asyncio.Semaphore | None = None
        self._hung: set[asyncio.Event] = set()
        #: Set when faults.hold is turned off: what held requests wait for.
        self._held: asyncio.Event | None = None
        self._pingers: set[asyncio.Task[None]] = set()
        #: With faults.prompt_cache: the prompts kept and the cached tokens reported.
        self.prompt_cache = PromptCache()

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/embeddings", self._embeddings)
        routes = {
            "responses": fake_apis.responses,
            "messages": fake_apis.messages,
            "rerank": fake_apis.rerank,
        }
        for api in sorted(self.native):
            app.router.add_post(f"/v1/{api}", functools.partial(routes[api], self))
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/", self._root)
        return app

    async def start(self) -> FakeBackend:
        self._runner = web.AppRunner(self._app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        """Down: the port refuses connections until :meth:`start` is called again."""
        self.release_hung()
        self._release_held()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def set(self, **changes: Any) -> None:
        for key, value in changes.items():
            if not hasattr(self.faults, key):
                raise AttributeError(f"no fault switch {key!r}")
            setattr(self.faults, key, value)
        if "capacity" in changes:
            cap = changes["capacity"]
            self._slots = asyncio.Semaphore(cap) if cap else None
        if "hold" in changes:
            if not changes["hold"]:
                self._release_held()
            elif self._held is None:
                self._held = asyncio.Event()

    def heal(self) -> None:
        self.faults = Faults()
        self._slots = None
        self.prompt_cache.clear()
        self.release_hung()
        self._release_held()

    def _release_held(self) -> None:
        if self._held is not None:
            self._held.set()
            self._held = None

    def release_hung(self) -> None:
        for ev in self._hung:
            ev.set()
        self._hung.clear()

    # -- protocol -----------------------------------------------------------------------------

    def _error(
        self, status: int, message: str, kind: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        if self.faults.echo_headers:
            auth = self.last_headers.get("Authorization")
            message += f" (Authorization: {auth}; request headers: {self.last_headers})"
        body = {"error": {"message": message, "type": kind, "param": None, "code": status}}
        return web.Response(
            status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
        )

    async def _gate(self, request: web.Request) -> web.StreamResponse | None:
        """Apply the fault switches common to every inference route."""
        f = self.faults
        self.requests += 1
        if f.mode == "loading":
            return self._error(503, "Loading model", "unavailable_error")
        if f.mode == "503":
            return self._error(
                503,
                "Service temporarily unavailable",
                "unavailable_error",
                {"Retry-After": str(f.retry_after_s)},
            )
        if f.mode == "429":
            return self._error(
                429, "Too many requests", "rate_limit_error", {"Retry-After": str(f.retry_after_s)}
            )
        if f.mode == "500":
            return self._error(500, "Internal server error", "server_error")
        if f.reject_marker is not None and f.reject_marker.encode() in self.last_raw:
            return self._error(500, VALIDATION_MESSAGE, "internal_server_error")
        if f.mode == "401":
            return self._error(401, "Invalid API key", "authentication_error")
        if f.mode == "400":
            return self._error(400, "Bad request", "invalid_request_error")
        if f.mode == "crash":
            # The whole process dies as a segfaulting model server does: only for a backend
            # run as its own process (``--mode crash``), under a supervisor.
            os.kill(os.getpid(), signal.SIGSEGV)
        if f.mode == "reset":
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        if f.mode == "hang":
            ev = asyncio.Event()
            self._hung.add(ev)
            await ev.wait()
            return self._error(503, "released", "unavailable_error")
        return None

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        self.last_raw = raw
        body = orjson.loads(raw) if raw else {}
        self.last_body = body
        self.last_headers = dict(request.headers)
        self.last_path = request.path
        return body if isinstance(body, dict) else {}

    # For the agent-API routes in fake_apis.py.
    read_json = _body

    async def gate(self, request: web.Request) -> web.StreamResponse | None:
        return await self._gate(request)

    def error(self, status: int, message: str, kind: str) -> web.Response:
        return self._error(status, message, kind)

    def model_of(self, body: dict[str, Any]) -> str:
        return self._model(body)

    def next_id(self) -> int:
        return next(self._ids)

    def _model(self, body: dict[str, Any]) -> str:
        return self.served_model or str(body.get("model") or self.name)

    async def _inference(self, request: web.Request, kind: str) -> web.StreamResponse:
        body = await self._body(request)
        gated = await self._gate(request)
        if gated is not None:
            return gated
        slots = self._slots
        if slots is not None:
            self.waiting += 1
            try:
                await slots.acquire()
            finally:
                self.waiting -= 1
        self.running += 1
        self.peak_running = max(self.peak_running, self.running)
        try:
            if (held := self._held) is not None:
                await held.wait()
            return await self._answer(request, body, kind)
        finally:
            self.running -= 1
            if slots is not None:
                slots.release()

    async def _answer(
        self, request: web.Request, body: dict[str, Any], kind: str
    ) -> web.StreamResponse:
        f = self.faults
        early: web.StreamResponse | None = None
        if f.ping_s and body.get("stream") and not f.ignore_stream and f.mode == "ok":
            early = await hostile.pinging(request, f, self._pingers)
        if f.delay_s and not await self._generate(request, f.delay_s):
            return web.Response(status=499)  # nobody reads it: the client is gone
        model = self._model(body)
        cached = self.prompt_cache.serve(body, f.prompt_cache)
        rid = f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{self.name}-{next(self._ids)}"
        created = int(time.time())
        if f.mode == "garbage":
            return web.Response(
                body=b"<html>502 Bad Gateway</html>", content_type="application/json"
            )
        if f.mode in ("endless", "endless_body", "giant_headers", "huge_body", "no_events"):
            return await hostile.answer(f, request, model, rid, created)
        # Like llama-cpp-python's server, only ``max_tokens`` bounds the answer.
        limit = body.get("max_tokens")
        n = min(f.chunks, limit) if isinstance(limit, int) and limit > 0 else f.chunks
        turn = fake_apis.chat_turn(self.name, body, next(self._ids)) if kind == "chat" else None
        if body.get("stream") and not f.ignore_stream:
            usage = fake_apis.include_usage(body)
            if turn is not None and early is None:
                return await self._stream_turn(request, turn, rid, created, model, usage)
            return await self._stream(request, kind, rid, created, model, n, cached, usage, early)
        text = f"[{self.name}] " + " ".join(_WORDS[i % len(_WORDS)] for i in range(n))
        choice: dict[str, Any]
        if turn is not None:
            message, finish = fake_apis.chat_message(turn)
            choice = {"index": 0, "message": message, "finish_reason": finish}
            obj = "chat.completion"
        elif kind == "chat":
            choice = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
            obj = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}
            obj = "text_completion"
        self.completed += 1
        return web.Response(
            body=orjson.dumps(
                {
                    "id": rid,
                    "object": obj,
                    "created": created,
                    "model": model,
                    "choices": [choice],
                    "usage": fake_apis.usage(cached, n),
                }
            ),
            content_type="application/json",
        )

    async def _generate(self, request: web.Request, seconds: float) -> bool:
        """Work for ``seconds``, stopping early (False) once the client closed the connection,
        as a model server that notices a disconnect stops generating."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (left := end - loop.time()) > 0:
            transport = request.transport
            if transport is None or transport.is_closing():
                self.abandoned += 1
                return False
            await asyncio.sleep(min(left, _GENERATION_TICK_S))
        return True

    async def _stream(
        self, request: web.Request, kind: str, rid: str, created: int, model: str, chunks: int,
        cached: tuple[int, int] | None = None, usage: str | None = None,
        resp: web.StreamResponse | None = None,
    ) -> web.StreamResponse:
        f = self.faults
        if resp is None:
            resp = web.StreamResponse(
                headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
            )
            await resp.prepare(request)
        for i in range(chunks + 1):
            if f.mode == "cut" and i == f.cut_after:
                assert request.transport is not None
                request.transport.abort()
                return resp
            if i and f.chunk_delay_s and not await self._generate(request, f.chunk_delay_s):
                return resp
            word = f"[{self.name}]" if i == 0 else " " + _WORDS[(i - 1) % len(_WORDS)]
            if i and f.say is not None:
                word = f.say
            last = i == chunks
            if kind == "chat":
                delta: dict[str, Any] = {} if last else {"content": word}
                if i == 0:
                    delta["role"] = "assistant"
                choice: dict[str, Any] = {
                    "index": 0,
                    "delta": delta,
                    "finish_reason": "stop" if last else None,
                }
                obj = "chat.completion.chunk"
            else:
                choice = {
                    "index": 0,
                    "text": "" if last else word,
                    "finish_reason": "stop" if last else None,
                }
                obj = "text_completion"
            event = {"id": rid, "object": obj, "created": created, "model": model}
            event["choices"] = [choice]
            if usage == "continuous":  # vLLM's continuous_usage_stats: the figures so far
                event["usage"] = fake_apis.usage(cached, i)
            if last and cached is not None:
                event["timings"] = {"cache_n": cached[0], "prompt_n": cached[1] - cached[0]}
            if last and f.stream_timings:  # as llama-server's final chunk
                event["timings"] = {"cache_n": 0, "prompt_n": 10, "predicted_n": chunks}
            await resp.write(b"data: " + orjson.dumps(event) + b"\n\n")
        if usage:
            # OpenAI's stream_options.include_usage: one more chunk, no choices, the usage.
            event = {"id": rid, "object": obj, "created": created, "model": model, "choices": []}
            event["usage"] = fake_apis.usage(cached, chunks)
            await resp.write(b"data: " + orjson.dumps(event) + b"\n\n")
        await resp.write(f.done_event + b"\n\n")
        self.completed += 1
        await resp.write_eof()
        return resp

    async def _stream_turn(
        self,
        request: web.Request,
        turn: fake_apis.Turn,
        rid: str,
        created: int,
        model: str,
        usage: str | None = None,
    ) -> web.StreamResponse:
        deltas = fake_apis.chat_deltas(turn)
        events = [
            b"data: "
            + orjson.dumps(
                {
                    "id": rid,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                }
            )
            + b"\n\n"
            for delta, finish in deltas
        ]
        if usage:
            event: dict[str, Any] = {"id": rid, "object": "chat.completion.chunk", "choices": []}
            event["usage"] = fake_apis.usage(None, len(deltas))
            events.append(b"data: " + orjson.dumps(event) + b"\n\n")
        return await fake_apis.write_events(self, request, [*events, b"data: [DONE]\n\n"])

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._inference(request, "chat")

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._inference(request, "completions")

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body = await self._body(request)
        gated = await self._gate(request)
        if gated is not None:
            return gated
        if self.faults.delay_s:
            await asyncio.sleep(self.faults.delay_s)
        if self.faults.mode == "garbage":
            return web.Response(body=b"not json", content_type="application/json")
        inputs = body.get("input")
        items = (
            inputs
            if isinstance(inputs, list) and not all(isinstance(x, int) for x in inputs)
            else [inputs]
        )
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": [round(0.1 * (i + 1), 3), 0.5, -0.25, float(len(str(x)) % 7)],
            }
            for i, x in enumerate(items)
        ]
        self.completed += 1
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": self._model(body),
                "usage": {"prompt_tokens": 4, "total_tokens": 4},
            },
            dumps=lambda o: orjson.dumps(o).decode(),
        )

    async def _models(self, request: web.Request) -> web.StreamResponse:
        if self.faults.mode == "loading":
            return self._error(503, "Loading model", "unavailable_error")
        name = self.served_model or self.name
        return web.json_response(
            {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "fake"}]}
        )

    async def _health(self, request: web.Request) -> web.StreamResponse:
        mode = self.faults.mode
        if mode == "loading":
            return self._error(503, "Loading model", "unavailable_error")
        if mode in ("503", "500"):
            return self._error(503, "unhealthy", "unavailable_error")
        if mode == "hang":
            ev = asyncio.Event()
            self._hung.add(ev)
            await ev.wait()
        return web.json_response({"status": "ok"})

    async def _root(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="Ollama is running" if self.flavor == "ollama" else "ok")

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        if self.flavor == "ollama":
            return web.Response(status=404, text="404 page not found")
        label = f'model_name="{self.served_model or self.name}"'
        if self.flavor == "llamacpp":
            lines = [
                "# HELP llamacpp:requests_processing Number of requests processing.",
                "# TYPE llamacpp:requests_processing gauge",
                f"llamacpp:requests_processing {self.running}",
                "# HELP llamacpp:requests_deferred Number of requests deferred.",
                "# TYPE llamacpp:requests_deferred gauge",
                f"llamacpp:requests_deferred {self.waiting}",
            ]
        elif self.flavor == "sglang":
            lines = [
                "# TYPE sglang:num_queue_reqs gauge",
                f"sglang:num_queue_reqs{{{label}}} {self.waiting}",
                "# TYPE sglang:num_running_reqs gauge",
                f"sglang:num_running_reqs{{{label}}} {self.running}",
            ]
        else:
            lines = [
                "# HELP vllm:num_requests_running Number of requests in model execution batches.",
                "# TYPE vllm:num_requests_running gauge",
                f"vllm:num_requests_running{{{label}}} {float(self.running)}",
                "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
                "# TYPE vllm:num_requests_waiting gauge",
                f"vllm:num_requests_waiting{{{label}}} {float(self.waiting)}",
                "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.",
                "# TYPE vllm:kv_cache_usage_perc gauge",
                f"vllm:kv_cache_usage_perc{{{label}}} {min(1.0, 0.1 * self.running)}",
            ]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a fake OpenAI-compatible model server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--name", default="fake")
    parser.add_argument("--flavor", default="vllm")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering")
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--chunk-delay", type=float, default=0.0)
    parser.add_argument(
        "--mode", default="ok", choices=get_args(Mode), help="fault mode (crash: SIGSEGV itself)"
    )
    args = parser.parse_args(argv)

    async def serve() -> None:
        backend = FakeBackend(args.name, host=args.host, port=args.port, flavor=args.flavor)
        backend.set(
            delay_s=args.delay, chunks=args.chunks, chunk_delay_s=args.chunk_delay, mode=args.mode
        )
        await backend.start()
        print(f"fake backend {args.name} on {backend.url}", flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:  # pragma: no cover
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
