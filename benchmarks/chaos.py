"""Chaos under load: faults injected into a live fake fleet while clients keep asking.

    python benchmarks/chaos.py                   # zeta-router only, 400 requests per scenario
    python benchmarks/chaos.py --litellm         # the same scenarios through LiteLLM's proxy too
    python benchmarks/chaos.py -n 200 --scenarios replica_killed,hung_replica

The fleet: model ``brain`` with two replicas (b1, b2), ``coder`` (c1) and ``small`` (s1), all
fake OpenAI-compatible servers on 127.0.0.1 that write their own name into every answer, so the
client can tell who served without trusting gateway headers. Every request asks for ``brain``;
its fallbacks are coder then small. The gateway is a real uvicorn server (testing.Harness); the
LiteLLM proxy, with --litellm, runs in its own venv (benchmarks/litellm_env.py) with the same
deployments, retries, fallbacks and timeouts.

Per scenario and gateway it prints: requests sent, client-visible failures (non-200, an error
before any content), streams that broke mid-answer with an explicit error event, silent
truncations (a stream that ended with neither [DONE] nor an error event: must be zero, always),
latency percentiles, and which backend served how many answers.

Scenarios (the fault fires when the given share of the requests has been sent):
- baseline         no faults
- replica_killed   b1's server stops at 25% (connection refused), comes back at 75%
- replica_503      b1 answers 503 + Retry-After: 1 from 20% to 70%
- preferred_down   b1 and b2 both down for the whole run: coder must serve
- hung_replica     b1 accepts requests and never answers; each request that hits it may cost
                   one first-byte timeout (1 s), none should cost two
- stream_cut       b1 drops the connection after 3 chunks of every stream
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zeta_router.fleet.outcome import Health
from zeta_router.router import Router
from zeta_router.testing import Harness

BACKENDS = ["b1", "b2", "c1", "s1"]
FIRST_BYTE_S = 1.0
BACKEND_DELAY_S = 0.05
CHUNK_DELAY_S = 0.003
PROMPT = "Think step by step: when does the second train catch up with the first one?"


def zeta_template() -> dict[str, Any]:
    return {
        "server": {"access_log": False},
        "timeouts": {
            "connect_s": 0.5,
            "first_byte_s": FIRST_BYTE_S,
            "idle_s": 2.0,
            "total_s": 15.0,
        },
        "health": {"interval_s": 0.5, "timeout_s": 0.5, "scrape_metrics": False},
        "retry": {"max_attempts": 4},
        "analysis": {"analyzer": "heuristic"},
        "models": {
            "brain": {"replicas": [{"url": "fake:b1", "id": "b1"}, {"url": "fake:b2", "id": "b2"}]},
            "coder": {"replicas": [{"url": "fake:c1", "id": "c1"}]},
            "small": {"replicas": [{"url": "fake:s1", "id": "s1"}]},
        },
        "routes": {t: ["brain", "coder", "small"] for t in ("code", "reasoning", "simple")},
        "fallbacks": {"brain": ["coder", "small"]},
    }


# -- scenarios ---------------------------------------------------------------------------------

Action = tuple[str, str, dict[str, Any]]  # (verb: down|up|set|heal, backend, fault switches)


@dataclass(frozen=True)
class Scenario:
    name: str
    at_start: tuple[Action, ...] = ()
    #: (share of requests sent, action)
    during: tuple[tuple[float, Action], ...] = ()
    #: Whether a capable replica stays healthy throughout (zero failures expected).
    served_throughout: bool = True


SCENARIOS = (
    Scenario("baseline"),
    Scenario(
        "replica_killed",
        during=((0.25, ("down", "b1", {})), (0.75, ("up", "b1", {}))),
    ),
    Scenario(
        "replica_503",
        during=(
            (0.2, ("set", "b1", {"mode": "503", "retry_after_s": 1})),
            (0.7, ("heal", "b1", {})),
        ),
    ),
    Scenario("preferred_down", at_start=(("down", "b1", {}), ("down", "b2", {}))),
    Scenario("hung_replica", at_start=(("set", "b1", {"mode": "hang"}),)),
    Scenario("stream_cut", at_start=(("set", "b1", {"mode": "cut", "cut_after": 3}),)),
)


# -- one client request --------------------------------------------------------------------------


@dataclass
class Outcome:
    ok: bool = False
    status: int = 0
    #: Who answered, from the answer's own text ("[b1] ...").
    backend: str = "-"
    #: The stream broke after content arrived and said so with an error event.
    stream_error: bool = False
    #: The stream ended with neither [DONE] nor an error event.
    silent: bool = False
    fallback: bool = False
    error: str = ""
    latency_s: float = 0.0


def _who(text: str) -> str:
    if text.startswith("[") and "]" in text:
        return text[1 : text.index("]")]
    return "?"


async def one_request(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], stream: bool
) -> Outcome:
    out = Outcome()
    body = {
        "model": "brain",
        "stream": stream,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    t0 = time.perf_counter()
    try:
        async with session.post(url, json=body, headers=headers) as resp:
            out.status = resp.status
            out.fallback = "x-zeta-fallback" in resp.headers
            if resp.status != 200:
                out.error = f"HTTP {resp.status}: {(await resp.text())[:160]}"
                return out
            if not stream:
                obj = await resp.json(content_type=None)
                out.backend = _who(obj["choices"][0]["message"]["content"] or "")
                out.ok = True
                return out
            await _read_stream(resp, out)
    except (TimeoutError, aiohttp.ClientError, ValueError, KeyError) as exc:
        # The connection died under the client: a failure, and silent if content had arrived.
        out.error = f"{type(exc).__name__}: {exc}"[:160]
        if out.backend != "-":
            out.silent = True
    finally:
        out.latency_s = time.perf_counter() - t0
    return out


async def _read_stream(resp: aiohttp.ClientResponse, out: Outcome) -> None:
    buf = b""
    text = ""
    async for chunk in resp.content.iter_any():
        buf += chunk
        while b"\n\n" in buf:
            event, buf = buf.split(b"\n\n", 1)
            data = event.strip()
            if not data.startswith(b"data:"):
                continue
            payload = data[5:].strip()
            if payload == b"[DONE]":
                out.ok = True
                return
            obj = json.loads(payload)
            if "error" in obj:
                out.stream_error = bool(text)
                out.error = str(obj["error"].get("message", obj["error"]))[:160]
                return
            for choice in obj.get("choices") or ():
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece and not text:
                    out.backend = _who(piece)
                text += piece
    out.silent = True
    out.error = "stream ended without [DONE] or an error event"


# -- running a scenario ---------------------------------------------------------------------------


@dataclass
class Result:
    gateway: str
    scenario: str
    outcomes: list[Outcome] = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        o = self.outcomes
        lat = sorted(x.latency_s for x in o)
        failures = [x for x in o if not x.ok and not x.stream_error and not x.silent]
        served = Counter(x.backend for x in o if x.ok)
        return {
            "gateway": self.gateway,
            "scenario": self.scenario,
            "sent": len(o),
            "ok": sum(x.ok for x in o),
            "failures": len(failures),
            "mid_stream_errors": sum(x.stream_error for x in o),
            "silent_truncations": sum(x.silent for x in o),
            "fallbacks": sum(x.fallback for x in o),
            "p50_ms": round(1000 * _pct(lat, 0.5), 1),
            "p99_ms": round(1000 * _pct(lat, 0.99), 1),
            "max_ms": round(1000 * (lat[-1] if lat else 0.0), 1),
            "over_1_timeout": sum(x.latency_s >= FIRST_BYTE_S for x in o),
            "over_2_timeouts": sum(x.latency_s >= 2 * FIRST_BYTE_S for x in o),
            "served": dict(sorted(served.items())),
            "wall_s": round(self.wall_s, 2),
            "first_errors": sorted({x.error for x in failures})[:3],
        }


def _pct(ordered: list[float], q: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _act(h: Harness, action: Action) -> None:
    verb, name, kw = action
    loop = asyncio.get_running_loop()
    if verb == "down":
        fn: Callable[[], None] = lambda: h.down(name)  # noqa: E731
    elif verb == "up":
        fn = lambda: h.up(name)  # noqa: E731
    elif verb == "heal":
        fn = lambda: h.heal(name)  # noqa: E731
    else:
        fn = lambda: h.set(name, **kw)  # noqa: E731
    await loop.run_in_executor(None, fn)


async def run_load(
    gateway: str,
    url: str,
    headers: dict[str, str],
    h: Harness,
    sc: Scenario,
    n: int,
    concurrency: int,
) -> Result:
    result = Result(gateway, sc.name)
    for action in sc.at_start:
        await _act(h, action)
    triggers = sorted((int(share * n), action) for share, action in sc.during)
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        next_index = 0
        lock = asyncio.Lock()

        async def worker() -> None:
            nonlocal next_index
            while True:
                async with lock:
                    i = next_index
                    if i >= n:
                        return
                    next_index += 1
                    while triggers and triggers[0][0] <= i:
                        await _act(h, triggers.pop(0)[1])
                # Mixed load: every other request streams.
                result.outcomes.append(await one_request(session, url, headers, stream=i % 2 == 0))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.wall_s = time.perf_counter() - t0
    return result


def reset(h: Harness) -> None:
    """Every backend up and healthy; the gateway's replica state back to a fresh start."""
    for name in BACKENDS:
        b = h.backend(name)
        if b._runner is None:
            h.up(name)
        h.heal(name)
        h.set(name, delay_s=BACKEND_DELAY_S, chunk_delay_s=CHUNK_DELAY_S)

    def fresh() -> None:
        now = h.router.clock()
        for r in h.router.fleet.replicas.values():
            r.breaker.reset(now)
            r.cooldown_until = 0.0
            r.health = Health.UNKNOWN
            r.latency.value = 0.05
            r.ttfb_samples.clear()
            r.health_detail = ""

    h.thread.call(fresh)


# -- LiteLLM ---------------------------------------------------------------------------------------


class LiteLLM:
    """LiteLLM's proxy over the same fake backends: same retries, fallbacks and timeouts."""

    def __init__(self, h: Harness, retries: int) -> None:
        import _common as common
        import litellm_env

        self._common = common
        models = {
            "brain": [h.backend("b1").url, h.backend("b2").url],
            "coder": [h.backend("c1").url],
            "small": [h.backend("s1").url],
        }
        doc = json.loads(litellm_env.proxy_config(models, {"brain": ["coder", "small"]}, retries))
        for dep in doc["model_list"]:
            # The gateway's first-byte timeout, as close as LiteLLM gets: a per-call timeout
            # (normal answers here take ~0.05 s) and the stream's time-to-first-chunk timeout.
            dep["litellm_params"]["timeout"] = FIRST_BYTE_S
            dep["litellm_params"]["stream_timeout"] = FIRST_BYTE_S
        exe = litellm_env.ensure_venv()
        self.port = common.free_port()
        workdir = Path(tempfile.mkdtemp(prefix="zeta-chaos-litellm-"))
        cfg = workdir / "litellm.yaml"
        cfg.write_text(json.dumps(doc, indent=2))
        key = "sk-bench-" + secrets.token_hex(16)
        self.headers = {"Authorization": f"Bearer {key}"}
        self.proc = common.start(
            "litellm",
            [str(exe), "--config", str(cfg), "--host", common.HOST, "--port", str(self.port)],
            log_dir=workdir,
            env={**litellm_env.PROXY_ENV, "LITELLM_MASTER_KEY": key},
            cwd=workdir,
        )
        self.url = f"http://{common.HOST}:{self.port}"
        self.ready_s = self.proc.wait_ready(self.url + "/health/liveliness", 240)
        self.log = workdir / "litellm.log"

    def stop(self) -> None:
        self.proc.stop()


# -- main ------------------------------------------------------------------------------------------


def print_table(rows: list[dict[str, Any]]) -> None:
    cols = [
        ("scenario", 15),
        ("gateway", 8),
        ("sent", 5),
        ("failures", 8),
        ("mid_stream_errors", 10),
        ("silent_truncations", 7),
        ("fallbacks", 9),
        ("p50_ms", 8),
        ("p99_ms", 8),
        ("over_2_timeouts", 8),
    ]
    heads = [
        "scenario",
        "gateway",
        "sent",
        "failed",
        "mid-strm",
        "silent",
        "fallback",
        "p50 ms",
        "p99 ms",
        ">2xTO",
    ]
    print("  ".join(h.ljust(w) for h, (_, w) in zip(heads, cols, strict=True)) + "  served by")
    for r in rows:
        cells = [str(r[k]).ljust(w) for k, w in cols]
        print("  ".join(cells) + "  " + " ".join(f"{k}={v}" for k, v in r["served"].items()))
        for e in r["first_errors"]:
            print(f"{'':17}! {e}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-n", "--requests", type=int, default=400, help="requests per scenario")
    ap.add_argument("-c", "--concurrency", type=int, default=16)
    ap.add_argument("--scenarios", default=",".join(s.name for s in SCENARIOS))
    ap.add_argument("--litellm", action="store_true", help="also run through LiteLLM's proxy")
    ap.add_argument("--json", type=Path, help="write the summaries here")
    args = ap.parse_args(argv)
    wanted = args.scenarios.split(",")
    scenarios = [s for s in SCENARIOS if s.name in wanted]
    if len(scenarios) != len(wanted):
        known = ", ".join(s.name for s in SCENARIOS)
        ap.error(f"unknown scenario in {args.scenarios!r} (known: {known})")
    if args.requests > 2000 or args.concurrency > 64:
        ap.error("keep it bounded: at most 2000 requests and concurrency 64")

    print(f"machine: nproc={os.cpu_count()} python={platform.python_version()}")
    print(
        f"load: {args.requests} requests per scenario, concurrency {args.concurrency}, "
        f"half streaming; backends answer after {BACKEND_DELAY_S * 1000:.0f} ms"
    )
    h = Harness(BACKENDS, zeta_template(), router_factory=Router)
    proxy: LiteLLM | None = None
    rows: list[dict[str, Any]] = []
    try:
        if args.litellm:
            # Retries after the first try: our max_attempts 4 is 1 try + 3 retries.
            proxy = LiteLLM(h, retries=3)
            print(f"litellm proxy ready after {proxy.ready_s:.1f} s (logs: {proxy.log})")
        for sc in scenarios:
            gateways: list[tuple[str, str, dict[str, str]]] = [
                ("zeta", h.base_url + "/chat/completions", {})
            ]
            if proxy is not None:
                gateways.append(("litellm", proxy.url + "/v1/chat/completions", proxy.headers))
            for name, url, headers in gateways:
                reset(h)
                if name == "litellm":
                    # LiteLLM keeps deployments it saw failing in cool-down (5 s by default);
                    # let the previous scenario's cool-downs run out before the next one.
                    time.sleep(6.0)
                res = asyncio.run(
                    run_load(name, url, headers, h, sc, args.requests, args.concurrency)
                )
                row = res.summary()
                rows.append(row)
                print(json.dumps(row), flush=True)
        print()
        print_table(rows)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    finally:
        for name in BACKENDS:
            h.backend(name).release_hung() if h.backend(name)._runner else None
        if proxy is not None:
            proxy.stop()
        h.close()
    bad = [r for r in rows if r["gateway"] == "zeta" and (r["silent_truncations"] or r["failures"])]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
