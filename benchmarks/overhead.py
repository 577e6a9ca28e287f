"""Added latency of the gateway: direct-to-backend vs through zeta-router, in one run.

    python benchmarks/overhead.py                 # 500 non-stream + 500 stream requests each way
    python benchmarks/overhead.py -n 200 --json out.json

Three processes: the fake backend (``python -m zeta_router.testing.fake_backend``), the gateway
(``zeta-router serve --config <generated yaml>``, every default feature on: heuristic analysis,
p2c-ewma balancing, breakers, health probes, metric scrapes, access log to a file) and this
script, the client: one keep-alive aiohttp session that interleaves direct and routed requests
(alternating which goes first) so machine noise hits both paths alike.

"Added" at a percentile is routed minus direct at that percentile; the median of the per-pair
differences is printed too. Stream timings: time to first byte (first body chunk) and to the
last byte (end of stream). Targets (issue 2): median added <= 0.5 ms, p99 added <= 2 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

import _common as common

PROMPTS = (
    "What is the capital of France?",
    "Write a Python function that merges two sorted lists.\n```python\ndef merge(a, b):\n```",
    "Prove that the square root of 2 is irrational, step by step.",
    "Summarise the following text in one sentence: the quick brown fox jumps over the lazy dog.",
    "Traceback (most recent call last):\n  File \"app.py\", line 3\nKeyError: 'x'\nWhy?",
)


def body(i: int, *, stream: bool, model: str = "auto") -> bytes:
    return json.dumps(
        {
            "model": model,
            # A distinct prompt per request: the decision cache must not hide the analyzer.
            "messages": [{"role": "user", "content": f"{PROMPTS[i % len(PROMPTS)]} ({i})"}],
            "max_tokens": 32,
            "stream": stream,
        }
    ).encode()


@dataclass
class Target:
    name: str
    #: Base URL up to and including /v1.
    base: str
    model: str = "auto"
    #: Extra request headers (a proxy's API key).
    headers: dict[str, str] = field(default_factory=dict)
    total: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    errors: int = 0

    def reset(self) -> None:
        self.total.clear()
        self.ttfb.clear()
        self.errors = 0


async def one(session: aiohttp.ClientSession, t: Target, i: int, *, stream: bool) -> bool:
    """One request; records total time (and TTFB for streams). False on a failure."""
    data = body(i, stream=stream, model=t.model)
    headers = {"Content-Type": "application/json", **t.headers}
    start = time.perf_counter()
    try:
        async with session.post(t.base + "/chat/completions", data=data, headers=headers) as r:
            if r.status != 200:
                await r.read()
                t.errors += 1
                return False
            if stream:
                first = await r.content.readany()
                ttfb = time.perf_counter() - start
                seen = first
                while chunk := await r.content.readany():
                    seen = chunk
                if b"[DONE]" not in seen:
                    t.errors += 1
                    return False
                t.ttfb.append(ttfb)
            else:
                await r.read()
    except (aiohttp.ClientError, TimeoutError):
        t.errors += 1
        return False
    t.total.append(time.perf_counter() - start)
    return True


async def interleaved(
    session: aiohttp.ClientSession,
    targets: Sequence[Target],
    n: int,
    *,
    stream: bool,
    start: int = 0,
) -> None:
    """``n`` sequential requests per target, round-robin, rotating which target goes first.
    Prompts are numbered from ``start``: callers give each phase its own range."""
    k = len(targets)
    for i in range(n):
        for j in range(k):
            await one(session, targets[(i + j) % k], start + i, stream=stream)


def added(routed: Sequence[float], direct: Sequence[float]) -> dict[str, float]:
    out = {
        f"p{q}": common.percentile(routed, q) - common.percentile(direct, q) for q in (50, 90, 99)
    }
    pairs = [r - d for r, d in zip(routed, direct, strict=False)]
    out["pair_median"] = common.median(pairs)
    return out


def new_session(limit: int = 100) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, keepalive_timeout=60, force_close=False)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=30),
        skip_auto_headers=("User-Agent",),
    )


def start_gateway(
    backends: dict[str, list[str]], log_dir: Path, *, name: str = "zeta-router", **extra: object
) -> tuple[common.Proc, str]:
    """``zeta-router serve`` on a free port over ``backends``; returns it and its /v1 URL."""
    port = common.free_port()
    cfg = log_dir / f"{name}.yaml"
    cfg.write_text(common.gateway_config(backends, port, **extra))
    exe = Path(sys.executable).with_name("zeta-router")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "zeta_router"]
    proc = common.start(name, [*cmd, "serve", "--config", str(cfg)], log_dir=log_dir)
    proc.wait_ready(f"http://{common.HOST}:{port}/health", 30)
    return proc, f"http://{common.HOST}:{port}/v1"


def report(targets: Sequence[Target], label: str, *, ttfb: bool = False) -> dict[str, object]:
    direct = targets[0]
    rows: dict[str, object] = {}
    kinds = [("total", lambda t: t.total)]
    if ttfb:
        kinds.insert(0, ("ttfb", lambda t: t.ttfb))
    for kind, get in kinds:
        print(f"\n{label} - {kind} (ms)")
        print(
            f"{'target':<14}{'n':>6}{'err':>5}{'p50':>9}{'p90':>9}{'p99':>9}"
            f"{'+p50':>9}{'+p99':>9}{'+pair50':>9}"
        )
        for t in targets:
            v = get(t)
            a = added(v, get(direct))
            print(
                f"{t.name:<14}{len(v):>6}{t.errors:>5}"
                f"{common.ms(common.percentile(v, 50)):>9}{common.ms(common.percentile(v, 90)):>9}"
                f"{common.ms(common.percentile(v, 99)):>9}"
                f"{common.ms(a['p50']):>9}{common.ms(a['p99']):>9}{common.ms(a['pair_median']):>9}"
            )
            rows[f"{label}/{kind}/{t.name}"] = {
                "n": len(v),
                "errors": t.errors,
                "p50_ms": common.percentile(v, 50) * 1000,
                "p90_ms": common.percentile(v, 90) * 1000,
                "p99_ms": common.percentile(v, 99) * 1000,
                "added_p50_ms": a["p50"] * 1000,
                "added_p99_ms": a["p99"] * 1000,
                "added_pair_median_ms": a["pair_median"] * 1000,
            }
    return rows


async def measure(targets: Sequence[Target], n: int, warmup: int) -> dict[str, object]:
    """Non-stream then stream: warm-up, then ``n`` interleaved requests per target. Returns the
    summary rows plus the raw samples in ms (``"<mode>/<total|ttfb>/<target>"``)."""
    results: dict[str, object] = {}
    async with new_session() as session:
        for stream in (False, True):
            # Each phase (warm-up, measured; non-stream, stream) gets prompts of its own:
            # repeating one would let the gateway's decision cache answer instead of the
            # analyzer.
            base = 4_000_000 if stream else 0
            for t in targets:
                t.reset()
            await interleaved(session, targets, warmup, stream=stream, start=base + 2_000_000)
            for t in targets:
                t.reset()
            await interleaved(session, targets, n, stream=stream, start=base)
            label = "stream" if stream else "non-stream"
            results.update(report(targets, label, ttfb=stream))
            for t in targets:
                results[f"{label}/total/{t.name}"] = [x * 1e3 for x in t.total]
                if stream:
                    results[f"{label}/ttfb/{t.name}"] = [x * 1e3 for x in t.ttfb]
    return results


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", type=int, default=500, help="requests per path and mode (default 500)")
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--json", type=Path, help="write the numbers here")
    args = ap.parse_args(argv)

    print(f"machine: {common.machine_line()}")
    with tempfile.TemporaryDirectory(prefix="zeta-overhead-") as tmp:
        log_dir = Path(tmp)
        bport = common.free_port()
        backend = common.start_fake_backend(bport, log_dir)
        gateway = None
        try:
            burl = f"http://{common.HOST}:{bport}/v1"
            gateway, gurl = start_gateway({"m": [burl]}, log_dir)
            print(f"gateway ready in {gateway.ready_s:.3f} s (pid {gateway.pid})")
            targets = [Target("direct", burl, model="m"), Target("zeta-router", gurl)]
            results = asyncio.run(measure(targets, args.n, args.warmup))
        finally:
            if gateway is not None:
                gateway.stop()
            backend.stop()
    results["machine"] = common.machine()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
