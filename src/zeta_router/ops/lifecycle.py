"""Process signals for ``zeta-router serve``: SIGTERM drains, SIGHUP reloads.

SIGTERM is how orchestrators ask a service to stop: stop accepting, let open requests and
streams finish for up to ``server.shutdown_timeout_s``, then run the lifespan shutdown
(``Router.close``: probes, managed replicas, telemetry flush) and exit with status 0. A second
SIGTERM cuts the wait short.

uvicorn's own shutdown is not used for the wait: when its timeout passes it cancels the request
tasks, which aborts streams mid-body (the client gets a truncated answer and the log a traceback
per stream), and after a second signal it skips the lifespan shutdown altogether (unclosed
sessions, unflushed logs). Here the requests still running are cut by the app
(:meth:`App.cut <zeta_router.http.server.App.cut>`): every stream ends with the explicit SSE error
event, every waiting request gets a 503, and the lifespan shutdown always runs. uvicorn would
also re-raise the signal afterwards (death-by-signal, status 143); that is not done either.

SIGHUP re-reads the config file and reloads it in place (see :mod:`zeta_router.ops.reload`); a bad
file is logged and the running config kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket
import threading
from types import FrameType

import uvicorn

from zeta_router.errors import ConfigError
from zeta_router.http.server import App
from zeta_router.ops.reload import reload_from
from zeta_router.router import Router

log = logging.getLogger("zeta_router")


#: The cyclic collector's thresholds once serving. CPython's default (700, 10, 10) runs a young
#: collection every few dozen requests, and each one walks the objects of every request still in
#: flight, then promotes them, so that the full collections walking the whole heap come often
#: too; requests free almost everything they make by reference counting, so a larger first
#: generation collects the same garbage at a fraction of the passes (BENCHMARKS.md, "CPU per
#: request: the cyclic collector").
GC_THRESHOLDS = (20_000, 50, 100)


def tune_gc() -> None:
    """Move what start-up built (modules, config, analysis tables: most of the heap) out of the
    collector's view, since it lives as long as the process, and space the collections."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


#: After the cut, how long the cut requests get to send their last bytes.
CUT_GRACE_S = 2.0
#: How often the drain checks whether the open requests are done.
_POLL_S = 0.05


class GatewayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, router: Router, app: App) -> None:
        super().__init__(config)
        self.router = router
        self.app = app
        self._reloads: set[asyncio.Task[None]] = set()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM:
            super().handle_exit(sig, frame)
            return
        if self.should_exit:
            log.warning("second SIGTERM: not waiting for in-flight requests any longer")
            self.force_exit = True
            return
        log.info(
            "SIGTERM: no new connections; waiting up to %.0f s for in-flight requests",
            self.config.timeout_graceful_shutdown or 0,
        )
        self.should_exit = True

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        state = self.server_state
        # Idle keep-alive connections close now; busy ones once their response is sent.
        for connection in list(state.connections):
            connection.shutdown()
        await self._drain(self.router.config.server.shutdown_timeout_s, until_forced=True)
        if state.tasks:
            cut = self.app.cut()
            log.warning("shutdown: cut %d request(s) still running", cut)
            await self._drain(CUT_GRACE_S, until_forced=False)
            for task in list(state.tasks):
                task.cancel()  # not an inference request, or stuck writing to its client
        for connection in list(state.connections):
            connection.shutdown()
        # Always: the router's sessions, managed replicas and log lines are closed and flushed.
        await self.lifespan.shutdown()

    async def _drain(self, timeout_s: float, *, until_forced: bool) -> None:
        """Wait for the open requests to finish, at most ``timeout_s``; a second SIGTERM
        (``force_exit``, set by the signal handler) ends the wait when ``until_forced``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        tasks = self.server_state.tasks
        while tasks and not (until_forced and self.force_exit):
            left = deadline - loop.time()
            if left <= 0:
                return
            # In slices: the signal handler cannot wake a wait, it only sets the flag.
            await asyncio.wait(set(tasks), timeout=min(left, _POLL_S))

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        tune_gc()
        if (
            hasattr(signal, "SIGHUP")
            and self.router.config_path is not None
            and threading.current_thread() is threading.main_thread()
        ):
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)

    def _on_sighup(self) -> None:
        task = asyncio.get_running_loop().create_task(self._reload())
        # Held so the task is not garbage-collected mid-flight.
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def _reload(self) -> None:
        log.info("SIGHUP: reloading %s", self.router.config_path)
        # A bad file was logged by reload_from; the running config stays.
        with contextlib.suppress(ConfigError):
            await reload_from(self.router, None)
