"""Process signals for ``zeta-router serve``: SIGTERM drains, SIGHUP reloads.

SIGTERM is how orchestrators ask a service to stop. uvicorn already stops accepting, lets open
connections (streams included) finish up to ``timeout_graceful_shutdown`` and then runs the
lifespan shutdown (``Router.close``: probes, managed replicas, telemetry flush). What it also
does is re-raise the signal afterwards, which turns an orderly stop into death-by-signal (exit
status 143). Here a SIGTERM ends with exit status 0; a second SIGTERM cuts the wait short.

SIGHUP re-reads the config file and reloads it in place (see :mod:`zeta_router.reload`); a bad
file is logged and the running config kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from types import FrameType

import uvicorn

from .errors import ConfigError
from .reload import reload_from
from .router import Router

log = logging.getLogger("zeta_router")


class GatewayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, router: Router) -> None:
        super().__init__(config)
        self.router = router
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

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
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
