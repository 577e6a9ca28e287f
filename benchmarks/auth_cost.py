"""What client keys and per-key limits cost per request (issue 19), two ways.

    nice -n -10 python benchmarks/auth_cost.py --rounds 6 --duration 3

1. In process: the request path's auth and limit steps alone, CPU time per request: the key
   lookup (SHA-256 of the presented key, digest table), the allow-list and cap checks, the
   limiter's admit and settle (memory store, rpm + tpm + max_parallel all set), and the size
   bounds every request now passes (with or without keys).
   Also: what a key's ``max_tokens`` cap adds to a request that names no max_tokens (its body
   is re-encoded with the cap).
2. End to end: two ``zeta-router serve`` of this tree over one fake backend, one without
   ``auth`` and one with a key (rpm, tpm, max_parallel set, never reached; no cap), in
   interleaved closed-loop rounds (as ab.py does); CPU per request of each gateway process.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import orjson

import _common as common
import ab
import perf
from zeta_router.config import parse_config
from zeta_router.http import server as server_module
from zeta_router.http.bounds import apply_cap, check_sizes
from zeta_router.http.protocol import parse_request
from zeta_router.http.response import Response
from zeta_router.http.server import App
from zeta_router.router import Router

KEY = "sk-bench-0123456789abcdef"


def _config(keys: int) -> dict[str, object]:
    auth = {
        "keys": [
            {
                "name": f"k{i}",
                "key_sha256": hashlib.sha256(f"{KEY}-{i}".encode()).hexdigest(),
                "models": ["m"],
                "rpm": 10**9,
                "tpm": 10**12,
                "max_parallel": 10**6,
            }
            for i in range(keys)
        ]
    }
    return {
        "health": {"enabled": False, "scrape_metrics": False},
        "models": {"m": {"replicas": [{"url": "http://127.0.0.1:9"}]}},
        "auth": auth,
    }


async def _micro(n: int, keys: int) -> tuple[float, float, float]:
    router = Router(parse_config(_config(keys)))
    app = App(router)
    scope = {"headers": [(b"content-type", b"application/json"),
                         (b"authorization", f"Bearer {KEY}-{keys - 1}".encode())]}
    body = {"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi " * 40}]}
    req = parse_request("chat", orjson.dumps(body))
    server = router.config.server
    done = Response(200, [], b"")
    opts = server_module._NO_OPTIONS  # what a request without x-zeta-* headers gets
    t0 = time.process_time()
    for _ in range(n):
        caller = app.caller(scope)
        assert caller is not None
        _, ticket = await app._admit(caller, req, opts)
        assert ticket is not None
        app._settle(ticket, done)
    auth_us = (time.process_time() - t0) / n * 1e6
    t0 = time.process_time()
    for _ in range(n):
        check_sizes(req, server)
    bounds_us = (time.process_time() - t0) / n * 1e6
    # A key's max_tokens cap on a request that names none: the body is sent with the cap.
    bare = orjson.dumps({k: v for k, v in body.items() if k != "max_tokens"})
    t0 = time.process_time()
    for _ in range(n):
        apply_cap(parse_request("chat", bare), 4096)
    capped_us = (time.process_time() - t0) / n * 1e6
    t0 = time.process_time()
    for _ in range(n):
        parse_request("chat", bare)
    capped_us -= (time.process_time() - t0) / n * 1e6
    return auth_us, bounds_us, capped_us


async def _asgi(n: int, keyed: bool) -> float:
    """CPU time per request of the whole app (routing included, no sockets): an upstream that
    answers at once (MockTransport), driven through the ASGI interface."""
    from zeta_router.clock import SystemClock
    from zeta_router.testing.mock_transport import MockTransport
    from zeta_router.upstream.transport import Reply

    reply = orjson.dumps(
        {"id": "x", "object": "chat.completion", "model": "m",
         "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                      "finish_reason": "stop"}],
         "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}
    )

    async def answer(_: object) -> Reply:
        return Reply(200, "application/json", reply)

    cfg = _config(1)
    if not keyed:
        cfg.pop("auth")
    clock = SystemClock()
    router = Router(parse_config(cfg), clock=clock, transport=MockTransport(answer, clock))
    app = App(router)
    router.telemetry.access_log_enabled = False  # no log lines to format: the router alone
    headers = [(b"host", b"x"), (b"content-type", b"application/json"),
               (b"user-agent", b"bench"), (b"accept", b"*/*")]
    if keyed:
        headers.append((b"authorization", f"Bearer {KEY}-0".encode()))
    body = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": "hi " * 40}]})
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions",
             "headers": headers, "http_version": "1.1", "client": ("127.0.0.1", 1)}
    statuses: list[int] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(int(message["status"]))  # type: ignore[call-overload]

    # Warmed first: caches, plan cache.
    took = await common.cpu_us_per_call(lambda: app(dict(scope), receive, send), n, warm=2000)
    assert set(statuses) == {200}, set(statuses)
    await router.close()
    return took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--micro", type=int, default=200_000, help="iterations in process")
    ap.add_argument("--skip-e2e", action="store_true")
    args = ap.parse_args(argv)
    print(f"machine: {common.machine_line()}")
    for keys in (1, 1000):
        auth_us, bounds_us, capped_us = asyncio.run(_micro(args.micro, keys))
        print(
            f"in process, {keys} keys: auth + limits {auth_us:.2f} us/request, "
            f"size bounds {bounds_us:.2f} us/request, max_tokens cap sent {capped_us:.2f} us"
        )
    for r in range(4):  # interleaved, each first in turn, so machine noise hits both alike
        if r % 2:
            keyed = asyncio.run(_asgi(args.micro // 10, True))
            plain = asyncio.run(_asgi(args.micro // 10, False))
        else:
            plain = asyncio.run(_asgi(args.micro // 10, False))
            keyed = asyncio.run(_asgi(args.micro // 10, True))
        print(
            f"whole app in process, run {r + 1}: no auth {plain:.1f} us/request, "
            f"key + limits {keyed:.1f} us/request ({keyed - plain:+.1f} us)"
        )
    if args.skip_e2e:
        return 0
    src = Path(__file__).resolve().parents[1] / "src"
    with tempfile.TemporaryDirectory(prefix="zeta-auth-") as tmp:
        log = Path(tmp)
        procs: list[common.Proc] = []
        peers: list[perf.Peer] = []
        try:
            bport = common.free_port()
            procs.append(common.start_fake_backend(bport, log))
            burl = f"http://{common.HOST}:{bport}/v1"
            digest = hashlib.sha256(KEY.encode()).hexdigest()
            key = (
                f"{{keys: [{{name: bench, key_sha256: '{digest}', rpm: 1000000000, "
                "tpm: 1000000000000, max_parallel: 1000000}]}"
            )
            for name, extra in (("no-auth", {}), ("auth+limits", {"auth": key})):
                port = common.free_port()
                cfg = log / f"{name}.yaml"
                extra = {"analysis": "{analyzer: heuristic}", **extra}
                cfg.write_text(common.gateway_config({"m": [burl]}, port, **extra))
                cmd = [sys.executable, "-m", "zeta_router", "serve", "--config", str(cfg)]
                proc = common.start(name, cmd, log_dir=log, env={"PYTHONPATH": str(src)})
                proc.wait_ready(f"http://{common.HOST}:{port}/health", 30)
                procs.append(proc)
                url = f"http://{common.HOST}:{port}/v1"
                headers = {"Authorization": f"Bearer {KEY}"} if "auth" in extra else {}
                peers.append(perf.Peer(perf.Target(name, url, "auto", headers), proc.pid))
            asyncio.run(ab.interleaved_rounds(peers, args))
        finally:
            for proc in reversed(procs):
                proc.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
