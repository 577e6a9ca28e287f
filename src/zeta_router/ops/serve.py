"""Running the gateway under uvicorn (uvloop event loop, httptools parser)."""

from __future__ import annotations

import logging
import math
import socket
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from zeta_router.app import create_app
from zeta_router.config import Config
from zeta_router.errors import InvalidRequest
from zeta_router.http.response import error_response
from zeta_router.ops.lifecycle import GatewayServer
from zeta_router.ops.workers import Master, bind, check_workers
from zeta_router.router import Router

log = logging.getLogger("zeta_router")


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, except that a request the parser itself rejects (unknown
    method, garbage request line, malformed header) gets the gateway's OpenAI-style JSON error
    instead of uvicorn's plain-text 400. Such a request never reaches the app, so this is the
    only place to answer it. Framing is uvicorn's own: its default headers, Connection: close,
    then the connection is closed (the parser's state is unusable after an error).

    ``send_400_response`` is uvicorn's hook for exactly this answer (the only caller is
    ``data_received``'s parser-error branch), unchanged since at least uvicorn 0.30, the lowest
    version pyproject.toml allows; tests/test_http_errors.py fails if it ever stops being called.
    """

    def send_400_response(self, msg: str) -> None:
        resp = error_response(InvalidRequest(msg))
        head = [STATUS_LINE[resp.status]]
        for name, value in [*self.server_state.default_headers, *resp.headers]:
            head += [name, b": ", value, b"\r\n"]
        head += [b"content-length: %d\r\n" % len(resp.body), b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + resp.body)
        self.transport.close()


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
        http=HttpProtocol,
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
    workers: int = 1,
) -> int:
    h = host or config.listen.host
    p = port if port is not None else config.listen.port
    if workers == 1:
        log.info("zeta-router listening on http://%s:%d (%d models)", h, p, len(config.models))
        return _serve(config, h, p, config_path, None)
    check_workers(config, workers)
    sock = bind(h, p)
    p = int(sock.getsockname()[1])
    log.info(
        "zeta-router listening on http://%s:%d (%d models, %d workers sharing state through Redis)",
        h,
        p,
        len(config.models),
        workers,
    )
    master = Master(workers, sock, lambda s: _serve(config, h, p, config_path, s))
    return master.run()


def _serve(
    config: Config, host: str, port: int, config_path: str | None, sock: socket.socket | None
) -> int:
    router = Router(config)
    router.config_path = config_path
    app = create_app(router)
    uv_config = uvicorn_config(app, host, port)
    uv_config.timeout_graceful_shutdown = math.ceil(config.server.shutdown_timeout_s)
    server = GatewayServer(uv_config, router, app)
    server.run(sockets=None if sock is None else [sock])
    return 0
