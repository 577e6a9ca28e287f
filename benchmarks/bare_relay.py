"""The floor for a Python gateway: a featureless relay (uvicorn + httptools + uvloop, raw ASGI,
one pooled upstream client) that forwards the body and the answer unchanged.

    python benchmarks/bare_relay.py PORT UPSTREAM_V1_URL [--long URL] [--route MODEL=URL ...]
        [--client aiohttp|httpx]

perf.py runs it beside zeta-router (``--bare-relay``) so the cost of the gateway's features is
the distance between the two, measured in the same run; ``--client`` compares the upstream
clients the product brief asks about on exactly the same server.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Forward = Callable[[str, str, bytes, bool, Send], Awaitable[None]]
_JSON = [(b"content-type", b"application/json")]
_SSE = [(b"content-type", b"text/event-stream")]


def aiohttp_forward() -> Forward:
    import aiohttp

    session: aiohttp.ClientSession | None = None

    async def forward(upstream: str, path: str, body: bytes, stream: bool, send: Send) -> None:
        nonlocal session
        if session is None:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        headers = {"Content-Type": "application/json"}
        async with session.post(upstream + path, data=body, headers=headers) as r:
            if not stream:
                data = await r.read()
                await send({"type": "http.response.start", "status": r.status, "headers": _JSON})
                await send({"type": "http.response.body", "body": data})
                return
            await send({"type": "http.response.start", "status": r.status, "headers": _SSE})
            async for chunk in r.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    return forward


def httpx_forward() -> Forward:
    import httpx

    client = httpx.AsyncClient(limits=httpx.Limits(max_connections=None), timeout=60)

    async def forward(upstream: str, path: str, body: bytes, stream: bool, send: Send) -> None:
        headers = {"Content-Type": "application/json"}
        req = client.build_request("POST", upstream + path, content=body, headers=headers)
        r = await client.send(req, stream=True)
        try:
            if not stream:
                data = await r.aread()
                await send(
                    {"type": "http.response.start", "status": r.status_code, "headers": _JSON}
                )
                await send({"type": "http.response.body", "body": data})
                return
            await send({"type": "http.response.start", "status": r.status_code, "headers": _SSE})
            async for chunk in r.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await r.aclose()

    return forward


def make_app(
    forward: Forward, upstream: str, long: str | None, routes: dict[str, str] | None = None
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    # Looked up by substring, like "-long" below: enough for the bodies perf.py sends.
    by_model = [(f'"{m}"'.encode(), url) for m, url in (routes or {}).items()]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                done = message["type"] == "lifespan.shutdown"
                kind = "lifespan.shutdown.complete" if done else "lifespan.startup.complete"
                await send({"type": kind})
                if done:
                    return
        if scope["path"] == "/health":
            await send({"type": "http.response.start", "status": 200, "headers": _JSON})
            await send({"type": "http.response.body", "body": b'{"status":"ok"}'})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        # Enough for a relay benchmark: the client always sends "stream": true unspaced or not.
        stream = b'"stream": true' in body or b'"stream":true' in body
        # The many-chunk backend of perf.py's relay test serves the models named "*-long".
        target = long if long and b'-long"' in body else upstream
        for quoted, url in by_model:
            if quoted in body:
                target = url
                break
        await forward(target, scope["path"].removeprefix("/v1"), body, stream, send)

    return app


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("upstream", help="upstream base URL ending in /v1")
    ap.add_argument("--long", help="upstream for models named *-long")
    ap.add_argument(
        "--route", action="append", default=[], metavar="MODEL=URL", help="upstream for MODEL"
    )
    ap.add_argument("--client", choices=("aiohttp", "httpx"), default="aiohttp")
    args = ap.parse_args()
    forward = (aiohttp_forward if args.client == "aiohttp" else httpx_forward)()
    uvicorn.run(
        make_app(forward, args.upstream, args.long, dict(r.split("=", 1) for r in args.route)),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
