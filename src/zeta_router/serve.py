"""Running the gateway under uvicorn (uvloop event loop, httptools parser)."""

from __future__ import annotations

import logging
import math
from typing import Any

import uvicorn

from .config import Config
from .lifecycle import GatewayServer
from .router import Router
from .server import create_app

log = logging.getLogger("zeta_router")


def uvicorn_config(app: Any, host: str, port: int) -> uvicorn.Config:
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported OS
        loop = "asyncio"
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop=loop,
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=30,
        # Keep client connections as long as typical SDK pools do.
        timeout_keep_alive=30,
        # Nothing reads the client address; the X-Forwarded-* middleware was a per-request
        # layer for nothing.
        proxy_headers=False,
    )


def run(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    config_path: str | None = None,
) -> int:
    router = Router(config)
    router.config_path = config_path
    app = create_app(router)
    h = host or config.listen.host
    p = port if port is not None else config.listen.port
    uv_config = uvicorn_config(app, h, p)
    uv_config.timeout_graceful_shutdown = math.ceil(config.server.shutdown_timeout_s)
    server = GatewayServer(uv_config, router)
    log.info("zeta-router listening on http://%s:%d (%d models)", h, p, len(config.models))
    server.run()
    return 0
