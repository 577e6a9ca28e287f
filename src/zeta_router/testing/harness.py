"""Run fake backends and a real gateway (uvicorn on a real socket) on a background event loop.

Tests and benchmarks drive the gateway from the outside, with the official ``openai`` SDK (sync
or async) or any HTTP client, exactly as users would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, Literal, TypeVar

import uvicorn

from zeta_router.app import create_app
from zeta_router.config import Config, parse_config
from zeta_router.http.server import App
from zeta_router.ops.serve import uvicorn_config
from zeta_router.router import Router
from zeta_router.testing.fake_backend import FakeBackend, Flavor

T = TypeVar("T")


class LoopThread:
    """An event loop in a daemon thread; ``run`` executes a coroutine there and waits.

    ``event_loop`` is uvloop's (the gateway's own, see ``ops.serve.uvicorn_config``) or the
    standard library's ``"asyncio"``: the two run timers and I/O callbacks in different orders.
    """

    def __init__(self, event_loop: Literal["uvloop", "asyncio"] = "uvloop") -> None:
        self.loop: asyncio.AbstractEventLoop
        if event_loop == "uvloop":
            try:
                import uvloop

                self.loop = uvloop.new_event_loop()
            except ImportError:  # pragma: no cover
                self.loop = asyncio.new_event_loop()
        else:
            self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="zeta-loop")
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        fut: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return fn()

        return self.run(wrapper())

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class Harness:
    """Fake backends plus a gateway built from a config template.

    ``template`` is a config dict whose replica URLs may name a backend as ``"fake:NAME"``;
    they are replaced by that backend's real URL once it listens.
    """

    def __init__(
        self,
        backends: dict[str, Flavor] | list[str],
        template: dict[str, Any],
        *,
        router_factory: Callable[[Config], Router] | None = None,
        app_hook: Callable[[App], Awaitable[None] | None] | None = None,
        event_loop: Literal["uvloop", "asyncio"] = "uvloop",
    ) -> None:
        self.thread = LoopThread(event_loop)
        names: list[tuple[str, Flavor]] = (
            list(backends.items())
            if isinstance(backends, dict)
            else [(n, "vllm") for n in backends]
        )
        self.backends: dict[str, FakeBackend] = {}
        for name, flavor in names:
            self.backends[name] = self.thread.run(FakeBackend(name, flavor=flavor).start())
        self.config = parse_config(self._resolve(template))
        self.router = (router_factory or Router)(self.config)
        self.app = create_app(self.router)
        if app_hook is not None:
            maybe = app_hook(self.app)
            if maybe is not None:
                self.thread.run(_await(maybe))
        self._server = uvicorn.Server(uvicorn_config(self.app, "127.0.0.1", 0))
        self._server.config.setup_event_loop = lambda: None  # type: ignore[method-assign]
        self._serve_task: Future[None] = asyncio.run_coroutine_threadsafe(
            self._server.serve(), self.thread.loop
        )
        self.thread.run(self._wait_started())
        sock = self._server.servers[0].sockets[0]
        self.port: int = sock.getsockname()[1]

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, dict):
            return {k: self._resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self._resolve(v) for v in node]
        if isinstance(node, str) and node.startswith("fake:"):
            return self.backends[node[5:]].url
        return node

    async def _wait_started(self) -> None:
        for _ in range(500):
            if self._server.started:
                return
            await asyncio.sleep(0.01)
        raise RuntimeError("the gateway did not start")

    def connections(self) -> set[Any]:
        """The gateway's open client connections (its HTTP protocol objects). Read them on the
        loop's thread (``thread.call``): the loop changes them."""
        return self._server.server_state.connections

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def backend(self, name: str) -> FakeBackend:
        return self.backends[name]

    def down(self, name: str) -> None:
        self.thread.run(self.backends[name].stop())

    def up(self, name: str) -> None:
        self.thread.run(self.backends[name].start())

    def set(self, name: str, **faults: Any) -> None:
        b = self.backends[name]
        self.thread.call(lambda: b.set(**faults))

    def heal(self, name: str) -> None:
        b = self.backends[name]
        self.thread.call(b.heal)

    def close(self) -> None:
        self._server.should_exit = True
        # Shutting down regardless of how serving ended.
        with contextlib.suppress(Exception):
            self._serve_task.result(15)
        for b in self.backends.values():
            self.thread.run(b.stop())
        self.thread.close()


async def _await(aw: Awaitable[None]) -> None:
    await aw
