"""Performance of zeta-router against the direct path and LiteLLM's proxy, in one run.

    python benchmarks/perf.py                     # direct vs zeta-router
    python benchmarks/perf.py --litellm           # ... vs LiteLLM's proxy too (venv built once)
    python benchmarks/perf.py --litellm --plot benchmarks/perf_latency.png --json out.json
    python benchmarks/perf.py --soak 200000       # RSS and open fds of the gateway over time

Processes: fake backends (``python -m zeta_router.testing.fake_backend``), the gateway
(``zeta-router serve``, default config: heuristic or semantic analysis as "auto" picks, p2c-ewma
balancing, breakers, health probes, metric scrapes, JSON access log to a file), LiteLLM's proxy
(``benchmarks/litellm_env.py``, same backends, same retries and fallbacks), and this script as
the load generator. Sections, each printed with ratios against the direct path:

1. sequential added latency (interleaved, non-stream and stream TTFB / last byte);
2. closed-loop throughput at concurrency 64 (rounds interleaved across targets), p99 latency,
   and the proxy's CPU time per request from /proc/<pid>/stat (utime + stime, whole tree);
3. streaming relay: SSE events per second through one proxy process;
4. memory: RSS idle and after load;
5. routing decision cost in-process (analysis + policy + balancer, no I/O);
6. start-up to ready.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

import _common as common
import overhead
from overhead import Target

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Peer:
    """One way to reach the backend: direct, zeta-router or LiteLLM."""

    target: Target
    pid: int | None = None
    ready_s: float | None = None
    rss_idle: int = 0
    #: Where and as what model to ask for a long stream (the many-chunk backend).
    long_base: str = ""
    long_model: str = "m-long"
    results: dict[str, Any] = field(default_factory=dict)


# -- load ------------------------------------------------------------------------------------


async def closed_loop(
    session: aiohttp.ClientSession,
    peer: Peer,
    concurrency: int,
    duration_s: float,
    stream: bool,
    first: int = 0,
) -> tuple[int, int, list[float], float]:
    """``concurrency`` workers, each sending the next request when its last one finishes.
    Prompts are numbered from ``first`` (a range per round, so no round repeats another's
    prompts into the gateway's decision cache).

    Returns (ok, errors, latencies, elapsed)."""
    t = peer.target
    lat: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + duration_s
    url = t.base + "/chat/completions"
    headers = {"Content-Type": "application/json", **t.headers}

    async def worker(w: int) -> None:
        nonlocal errors
        i = first + w
        while time.perf_counter() < stop_at:
            data = overhead.body(i, stream=stream, model=t.model)
            i += concurrency
            start = time.perf_counter()
            try:
                async with session.post(url, data=data, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        errors += 1
                        continue
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
                continue
            lat.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return len(lat), errors, lat, time.perf_counter() - start


async def throughput(
    peers: Sequence[Peer],
    concurrency: int,
    duration_s: float,
    rounds: int,
    backend_pid: int,
    key: str = "throughput",
    backend_note: str = "",
) -> None:
    print(
        f"\n## closed-loop throughput, concurrency {concurrency}, {rounds} x {duration_s:.0f} s"
        + backend_note
    )
    print("(load generator: this process, Python + aiohttp, one core at most)")
    acc: dict[str, dict[str, Any]] = {
        p.target.name: {
            "ok": 0,
            "err": 0,
            "lat": [],
            "elapsed": 0.0,
            "cpu": 0.0,
            "client_cpu": 0.0,
            "backend_cpu": 0.0,
        }
        for p in peers
    }
    async with overhead.new_session(limit=concurrency) as session:
        for p in peers:  # warm the pools
            await closed_loop(session, p, concurrency, 0.5, False)
        for r in range(rounds):
            for p in peers:
                cpu0 = common.cpu_seconds(p.pid) if p.pid else 0.0
                own0, b0 = _own_cpu(), common.cpu_seconds(backend_pid)
                ok, err, lat, elapsed = await closed_loop(
                    session, p, concurrency, duration_s, False, first=(r + 1) * 10_000_000
                )
                a = acc[p.target.name]
                a["cpu"] += (common.cpu_seconds(p.pid) - cpu0) if p.pid else 0.0
                a["client_cpu"] += _own_cpu() - own0
                a["backend_cpu"] += common.cpu_seconds(backend_pid) - b0
                a["ok"] += ok
                a["err"] += err
                a["lat"] += lat
                a["elapsed"] += elapsed
    direct = acc[peers[0].target.name]
    direct_rps = direct["ok"] / direct["elapsed"]
    d99 = common.percentile(direct["lat"], 99)
    print(
        f"{'target':<14}{'req/s':>9}{'ratio':>8}{'err':>6}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'+p99 ms':>9}{'cpu ms/req':>12}{'client ms/req':>15}{'backend ms/req':>16}"
    )
    for p in peers:
        a = acc[p.target.name]
        rps = a["ok"] / a["elapsed"]
        p50, p99 = common.percentile(a["lat"], 50), common.percentile(a["lat"], 99)
        n = max(1, a["ok"] + a["err"])
        cpu_req = a["cpu"] / n if p.pid else float("nan")
        print(
            f"{p.target.name:<14}{rps:>9.0f}{rps / direct_rps:>8.2f}{a['err']:>6}"
            f"{p50 * 1e3:>9.2f}{p99 * 1e3:>9.2f}{(p99 - d99) * 1e3:>9.2f}{cpu_req * 1e3:>12.3f}"
            f"{a['client_cpu'] / n * 1e3:>15.3f}{a['backend_cpu'] / n * 1e3:>16.3f}"
        )
        p.results[key] = {
            "concurrency": concurrency,
            "rps": rps,
            "ratio": rps / direct_rps,
            "errors": a["err"],
            "p50_ms": p50 * 1e3,
            "p99_ms": p99 * 1e3,
            "added_p99_ms": (p99 - d99) * 1e3,
            "cpu_ms_per_req": cpu_req * 1e3 if p.pid else None,
            "client_cpu_ms_per_req": a["client_cpu"] / n * 1e3,
            "backend_cpu_ms_per_req": a["backend_cpu"] / n * 1e3,
            "latencies_ms": sorted(x * 1e3 for x in a["lat"]),
        }


async def think_throughput(
    peers: Sequence[Peer], model: str, url: str, pid: int, ms: float, args: argparse.Namespace
) -> None:
    """The throughput section again, every peer asking for ``model``: a backend that takes
    ``ms`` per answer, so the backend's own CPU is no longer nearly free. The gateways pin the
    model by name, which still runs the whole decision path (analysis included)."""
    think = [
        Peer(
            Target(
                p.target.name,
                url if p.target.name == "direct" else p.target.base,
                model=model,
                headers=p.target.headers,
            ),
            p.pid,
        )
        for p in peers
    ]
    key = f"throughput_think_{ms:g}ms"
    note = f", backend answering in {ms:g} ms"
    await throughput(think, args.concurrency, args.duration, args.rounds, pid, key, note)
    for p, t in zip(peers, think, strict=True):
        p.results[key] = t.results[key]


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


# -- a second load generator: wrk (C, epoll), so the client is not the bottleneck ------------

_WRK_LUA = """
local prompts = {%(prompts)s}
local counter = 0
-- The first prompt number comes after "--" on wrk's command line: a range per run.
init = function(args)
  counter = tonumber(args[1] or "0")
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%(headers)s
request = function()
  counter = counter + 1
  local p = prompts[(counter %% #prompts) + 1]
  local body = '{"model": %(model)s, "messages": [{"role": "user", "content": "' .. p ..
    ' (' .. counter .. ')"}], "max_tokens": 32, "stream": false}'
  return wrk.format(nil, nil, nil, body)
end
"""


def _wrk_script(path: Path, t: Target) -> Path:
    """A wrk script sending the same bodies as :func:`overhead.body`: a distinct prompt per
    request (the counter), so the gateway classifies every one."""
    # JSON string contents (escapes included) inside Lua long brackets, which take them as is.
    prompts = ", ".join("[==[" + json.dumps(q)[1:-1] + "]==]" for q in overhead.PROMPTS)
    headers = "\n".join(f"wrk.headers[{json.dumps(k)}] = [==[{v}]==]" for k, v in t.headers.items())
    path.write_text(
        _WRK_LUA % {"prompts": prompts, "headers": headers, "model": json.dumps(t.model)}
    )
    return path


def _wrk_once(
    script: Path, url: str, concurrency: int, duration_s: float, first: int = 0
) -> tuple[float, int, float, float, int]:
    """One wrk run; returns (req/s, non-2xx + socket errors, p50 ms, p99 ms, requests)."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{duration_s:g}s",
            "--latency",
            "-s",
            str(script),
            url,
            "--",
            str(first),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(m) for m in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    for m in re.finditer(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        errors += sum(int(x) for x in m.groups())
    pct = {
        q: _wrk_ms(v, unit)
        for q, v, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    }
    return rps, errors, pct.get("50", float("nan")), pct.get("99", float("nan")), total


def _wrk_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def wrk_throughput(
    peers: Sequence[Peer],
    concurrency: int,
    duration_s: float,
    rounds: int,
    backend_pid: int,
    tmp: Path,
) -> None:
    """The throughput section again with wrk as the load generator (one thread, C): its CPU
    per request is a few microseconds, so the direct path is bounded by the backend, not by
    the client. Rounds interleave the targets as above."""
    if shutil.which("wrk") is None:
        print("\nwrk not found (Debian: apt-get install wrk): wrk throughput skipped")
        return
    print(
        f"\n## closed-loop throughput with wrk -t1 -c{concurrency}, {rounds} x {duration_s:.0f} s"
    )
    scripts = {
        p.target.name: _wrk_script(tmp / f"wrk-{p.target.name}.lua", p.target) for p in peers
    }
    acc: dict[str, dict[str, Any]] = {
        p.target.name: {"rps": [], "err": 0, "p50": [], "p99": [], "n": 0, "cpu": 0.0, "bcpu": 0.0}
        for p in peers
    }
    for p in peers:  # warm-up
        _wrk_once(scripts[p.target.name], p.target.base + "/chat/completions", concurrency, 1)
    for r in range(rounds):
        for p in peers:
            cpu0 = common.cpu_seconds(p.pid) if p.pid else 0.0
            b0 = common.cpu_seconds(backend_pid)
            rps, err, p50, p99, n = _wrk_once(
                scripts[p.target.name],
                p.target.base + "/chat/completions",
                concurrency,
                duration_s,
                first=(r + 1) * 10_000_000,
            )
            a = acc[p.target.name]
            a["cpu"] += (common.cpu_seconds(p.pid) - cpu0) if p.pid else 0.0
            a["bcpu"] += common.cpu_seconds(backend_pid) - b0
            a["rps"].append(rps)
            a["p50"].append(p50)
            a["p99"].append(p99)
            a["err"] += err
            a["n"] += n
    direct_rps = common.median(acc[peers[0].target.name]["rps"])
    print(
        f"{'target':<14}{'req/s':>9}{'ratio':>8}{'err':>6}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'cpu ms/req':>12}{'backend ms/req':>16}   (medians over rounds)"
    )
    for p in peers:
        a = acc[p.target.name]
        rps = common.median(a["rps"])
        n = max(1, a["n"])
        cpu_req = a["cpu"] / n if p.pid else float("nan")
        print(
            f"{p.target.name:<14}{rps:>9.0f}{rps / direct_rps:>8.2f}{a['err']:>6}"
            f"{common.median(a['p50']):>9.2f}{common.median(a['p99']):>9.2f}"
            f"{cpu_req * 1e3:>12.3f}{a['bcpu'] / n * 1e3:>16.3f}"
        )
        p.results["throughput_wrk"] = {
            "concurrency": concurrency,
            "rps": rps,
            "ratio": rps / direct_rps,
            "errors": a["err"],
            "p50_ms": common.median(a["p50"]),
            "p99_ms": common.median(a["p99"]),
            "cpu_ms_per_req": cpu_req * 1e3 if p.pid else None,
            "backend_cpu_ms_per_req": a["bcpu"] / n * 1e3,
        }


async def _long_streams(
    session: aiohttp.ClientSession, p: Peer, worker_id: int, duration_s: float
) -> int:
    """Long streams one after another (at least one) for ``duration_s``; returns the SSE
    events received."""
    url = (p.long_base or p.target.base) + "/chat/completions"
    headers = {"Content-Type": "application/json", **p.target.headers}
    events = 0
    stop_at = time.perf_counter() + duration_s
    i = 0
    while i == 0 or time.perf_counter() < stop_at:
        data = overhead.body(worker_id * 1000 + i, stream=True, model=p.long_model)
        i += 1
        async with session.post(url, data=data, headers=headers) as r:
            body = await r.read()
        events += body.count(b"data:")
    return events


async def stream_relay(peers: Sequence[Peer], streams: int, duration_s: float) -> None:
    """SSE events per second through each peer: ``streams`` concurrent workers sending long
    streams for ``duration_s``, against the backend that answers with many chunks."""
    print(f"\n## streaming relay ({streams} concurrent long streams)")
    print(f"{'target':<14}{'events/s':>10}{'ratio':>8}{'cpu us/event':>14}")
    base = 0.0
    async with overhead.new_session(limit=streams) as session:
        for p in peers:
            events, elapsed, cpu = await _timed_streams(session, p, streams, duration_s)
            rate = events / elapsed
            base = base or rate
            per_event = cpu / max(events, 1) * 1e6
            print(f"{p.target.name:<14}{rate:>10.0f}{rate / base:>8.2f}{per_event:>14.2f}")
            p.results["stream_relay"] = {
                "events_per_s": rate,
                "ratio": rate / base,
                "events": events,
                "cpu_us_per_event": per_event,
            }


async def _timed_streams(
    session: aiohttp.ClientSession, p: Peer, streams: int, duration_s: float
) -> tuple[int, float, float]:
    """One warm-up stream, then ``streams`` concurrent ones: (events, seconds, proxy CPU s)."""
    await _long_streams(session, p, 0, 0)
    cpu0 = common.cpu_seconds(p.pid) if p.pid else 0.0
    start = time.perf_counter()
    counts = await asyncio.gather(
        *(_long_streams(session, p, w, duration_s) for w in range(streams))
    )
    elapsed = time.perf_counter() - start
    cpu = (common.cpu_seconds(p.pid) - cpu0) if p.pid else float("nan")
    return sum(counts), elapsed, cpu


async def paced_relay(peers: Sequence[Peer], base_of: dict[str, str], streams: int) -> None:
    """The relay's worst case: ``streams`` concurrent streams from a backend that paces its
    events (2 ms apart), so each event arrives, and is relayed, on its own. Reports the proxy's
    CPU per event (1 / that is its events/s ceiling on one core)."""
    print(f"\n## paced streaming relay ({streams} streams, one event per read)")
    print(f"{'target':<14}{'events/s':>10}{'cpu us/event':>14}{'ceiling ev/s':>14}")
    async with overhead.new_session(limit=streams) as session:
        for p in peers:
            base = base_of.get(p.target.name)
            if base is None:
                continue
            paced = Peer(Target(p.target.name, base, p.target.model, p.target.headers), p.pid)
            paced.long_model = p.target.model if p.target.name == "direct" else "m-paced"
            events, elapsed, cpu = await _timed_streams(session, paced, streams, 0)
            per_event = cpu / max(events, 1) * 1e6
            print(
                f"{p.target.name:<14}{events / elapsed:>10.0f}{per_event:>14.2f}"
                f"{1e6 / per_event if p.pid else float('nan'):>14.0f}"
            )
            p.results["paced_relay"] = {
                "events_per_s": events / elapsed,
                "cpu_us_per_event": per_event if p.pid else None,
            }


# -- in-process: routing decision -----------------------------------------------------------


def decision_cost(
    n: int, analyzer: str = "heuristic", affinity: bool = True
) -> dict[str, float]:
    """Analysis + policy + balancer per request, with the analyzer's cache off, over the
    conversations of the eval sets (made unique: a cache would hide the analyzer)."""
    import gc

    from zeta_router.config import parse_config
    from zeta_router.http.protocol import parse_request
    from zeta_router.router import Router

    conversations: list[list[dict[str, Any]]] = []
    for name in ("heldout.jsonl", "tune.jsonl"):
        for line in (ROOT / "benchmarks" / "data" / name).read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                if "messages" in item:
                    conversations.append(item["messages"])
                else:
                    conversations.append([{"role": "user", "content": item["prompt"]}])
    cfg = {
        "health": {"enabled": False},
        "analysis": {"analyzer": analyzer, "cache_size": 0},
        "balancer": {"affinity": {"enabled": affinity}},
        "models": {
            "brain": {
                "endpoints": ["chat", "completions"],
                "context_window": 131072,
                "replicas": [{"url": "http://127.0.0.1:1/v1"}, {"url": "http://127.0.0.1:2/v1"}],
            },
            "coder": {
                "endpoints": ["chat", "completions"],
                "context_window": 131072,
                "replicas": [{"url": "http://127.0.0.1:3/v1"}, {"url": "http://127.0.0.1:4/v1"}],
            },
        },
        "routes": {
            "code": ["coder", "brain"],
            "reasoning": ["brain", "coder"],
            "simple": ["coder", "brain"],
            "retrieval": ["brain", "coder"],
        },
    }
    router = Router(parse_config(cfg, "<perf>"))
    reqs = []
    for i in range(n):
        messages = [dict(m) for m in conversations[i % len(conversations)]]
        if i >= len(conversations):  # unique text, so nothing could be served from a cache
            last = messages[-1]
            if isinstance(last.get("content"), str):
                last["content"] += f" (variant {i})"
        raw = json.dumps({"model": "auto", "messages": messages}).encode()
        reqs.append(parse_request("chat", raw))
    clock = time.perf_counter_ns
    # CPU time of this thread too: on a shared 2-core machine, wall-clock tails are mostly other
    # processes preempting us; thread time shows what the decision itself costs.
    cpu_clock = time.thread_time_ns
    samples = []
    cpu_samples = []
    parse_samples = []
    gc.collect()
    for i, req in enumerate(reqs):
        c0 = cpu_clock()
        t0 = clock()
        profile = router.profile(req, None)
        task, _ = router.route_task(profile)
        p = router.plan_for(req, profile, task)
        now = router.clock()
        ms = router.fleet.models[p.candidates[0].model]
        usable = [r for r in ms.replicas if r.available(now)]
        # As the router does: cache affinity (when on) hashes the prompt and chooses.
        key = router.affinity.key(req.endpoint, req.body, None)
        router.affinity.pick(usable, now, key, router.strategy)
        samples.append(clock() - t0)
        cpu_samples.append(cpu_clock() - c0)
        t0 = clock()
        parse_request("chat", req.raw)
        parse_samples.append(clock() - t0)
        del i
    out: dict[str, Any] = {
        "analyzer": type(router.analyzer).__name__,
        "n": n,
        "p50_us": common.percentile(samples, 50) / 1e3,
        "p99_us": common.percentile(samples, 99) / 1e3,
        "max_us": max(samples) / 1e3,
        "cpu_p50_us": common.percentile(cpu_samples, 50) / 1e3,
        "cpu_p99_us": common.percentile(cpu_samples, 99) / 1e3,
        "parse_p50_us": common.percentile(parse_samples, 50) / 1e3,
        "parse_p99_us": common.percentile(parse_samples, 99) / 1e3,
    }
    print(
        f"\n## routing decision, in-process, analyzer {analyzer} ({out['analyzer']}), "
        f"cache off, {n} prompts"
    )
    print(
        f"analysis+policy+balancer: p50 {out['p50_us']:.1f} us, p99 {out['p99_us']:.1f} us, "
        f"max {out['max_us']:.1f} us (target p99 <= 100 us with the heuristic analyzer)"
    )
    print(
        f"  same, thread CPU time: p50 {out['cpu_p50_us']:.1f} us, p99 {out['cpu_p99_us']:.1f} us"
    )
    print(
        f"body parse + validation (separate): p50 {out['parse_p50_us']:.1f} us, "
        f"p99 {out['parse_p99_us']:.1f} us"
    )
    return out


# -- start-up, memory, soak ------------------------------------------------------------------


def startup_times(backends: dict[str, list[str]], log_dir: Path, runs: int) -> dict[str, float]:
    out = {}
    for analyzer in ("auto", "heuristic"):
        times = []
        for i in range(runs):
            proc, _ = overhead.start_gateway(
                backends,
                log_dir,
                name=f"startup-{analyzer}-{i}",
                analysis=f"{{analyzer: {analyzer}}}",
            )
            times.append(proc.ready_s or float("nan"))
            proc.stop()
        out[analyzer] = common.median(times)
    print(f"\n## start-up to ready (process start to GET /health = 200, median of {runs})")
    for k, v in out.items():
        print(f"analyzer {k}: {v:.3f} s (target <= 1 s)")
    return out


async def soak(peer: Peer, n: int, concurrency: int, samples: int) -> None:
    """``n`` requests (every 4th a stream) in ``samples`` slices; RSS and fds after each."""
    t = peer.target
    assert peer.pid is not None
    url = t.base + "/chat/completions"
    print(f"\n## soak: {n} requests at concurrency {concurrency} through {t.name} (pid {peer.pid})")
    print(f"{'requests':>10}{'elapsed s':>11}{'req/s':>8}{'rss MB':>9}{'fds':>6}{'errors':>8}")
    print(
        f"{0:>10}{0:>11.1f}{'-':>8}{common.rss_bytes(peer.pid) / 2**20:>9.1f}"
        f"{common.open_fds(peer.pid):>6}{0:>8}"
    )
    done = errors = 0
    start = time.perf_counter()
    rows = []
    per_slice = max(1, n // samples)
    async with overhead.new_session(limit=concurrency) as session:
        while done < n:
            todo = min(per_slice, n - done)
            nxt = iter(range(done, done + todo))

            async def worker(nxt: Any = nxt) -> None:
                nonlocal errors
                for i in nxt:
                    data = overhead.body(i, stream=i % 4 == 0, model=t.model)
                    try:
                        async with session.post(
                            url, data=data, headers={"Content-Type": "application/json"}
                        ) as r:
                            await r.read()
                            errors += r.status != 200
                    except (aiohttp.ClientError, TimeoutError):
                        errors += 1

            await asyncio.gather(*(worker() for _ in range(concurrency)))
            done += todo
            elapsed = time.perf_counter() - start
            rss, fds = common.rss_bytes(peer.pid), common.open_fds(peer.pid)
            rows.append((done, rss, fds))
            print(
                f"{done:>10}{elapsed:>11.1f}{done / elapsed:>8.0f}{rss / 2**20:>9.1f}"
                f"{fds:>6}{errors:>8}",
                flush=True,
            )
    # Bounded caches (decision cache, feedback ids, embedder memo) fill during the first tens
    # of thousands of distinct requests; a leak keeps growing after that. So growth is judged
    # from the end of the first quarter of the run, and reported from the first slice too.
    first, warm, last = rows[0], rows[max(0, len(rows) // 4 - 1)], rows[-1]
    growth = (last[1] - warm[1]) / warm[1]
    print(
        f"RSS growth after warm-up ({warm[0]} requests): {growth * 100:+.1f}% (target within 10%); "
        f"from the first slice: {(last[1] - first[1]) / first[1] * 100:+.1f}%; "
        f"fds {first[2]} -> {last[2]}"
    )
    peer.results["soak"] = {"rows": rows, "rss_growth": growth, "errors": errors}


# -- plot -------------------------------------------------------------------------------------


def plot(peers: Sequence[Peer], path: Path, seq: dict[str, Any]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: pip install matplotlib (no plot)", file=sys.stderr)
        return
    qs = [50, 75, 90, 95, 99, 99.9]
    panels = [
        ("sequential non-stream", "seq", "non-stream/total"),
        ("sequential stream, last byte", "seq", "stream/total"),
        ("concurrency 64, non-stream", "tp", None),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(15, 4.5))
    for ax, (title, kind, key) in zip(axes, panels, strict=True):
        for p in peers:
            name = p.target.name
            if kind == "seq":
                values = seq.get(f"{key}/{name}")
            else:
                values = p.results.get("throughput", {}).get("latencies_ms")
            if not values:
                continue
            ys = [common.percentile(values, q) for q in qs]
            ax.plot([str(q) for q in qs], ys, marker="o", label=name)
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency, ms (log)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(
        f"zeta-router vs direct vs LiteLLM: latency percentiles ({common.machine_line()})",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"\nplot written to {path}")


# -- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--litellm", action="store_true", help="include LiteLLM's proxy (own venv)")
    ap.add_argument(
        "--bare-relay",
        action="append",
        choices=("aiohttp", "httpx"),
        default=[],
        help="include a featureless relay with this upstream client (the floor; repeatable)",
    )
    ap.add_argument("-n", type=int, default=500, help="sequential requests per target and mode")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per throughput round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--wrk",
        action="store_true",
        help="repeat the throughput section with wrk (C load generator) as the client",
    )
    ap.add_argument("--stream-chunks", type=int, default=2000, help="events per long stream")
    ap.add_argument("--streams", type=int, default=4, help="concurrent long streams")
    ap.add_argument(
        "--paced",
        type=int,
        default=48,
        metavar="N",
        help="concurrent paced streams (400 events, 2 ms apart) for the per-event relay cost; "
        "0 skips it",
    )
    ap.add_argument(
        "--think-ms",
        type=float,
        action="append",
        default=[],
        metavar="MS",
        help="repeat the throughput section against a backend that takes MS ms per answer, as "
        "a model server does (repeatable)",
    )
    ap.add_argument("--decisions", type=int, default=5000)
    ap.add_argument("--startup-runs", type=int, default=3)
    ap.add_argument(
        "--analyzer",
        action="append",
        default=[],
        help="one gateway per analysis.analyzer given (repeatable; default: the product "
        "default, auto)",
    )
    ap.add_argument(
        "--redis",
        action="store_true",
        help="also run each gateway with state.backend: redis (a redis-server started here), "
        "and report the difference to memory mode",
    )
    ap.add_argument(
        "--max-concurrency",
        type=int,
        metavar="N",
        help="give every replica of every gateway max_concurrency N (with --redis: the "
        "request path's fleet-wide check, one Redis round trip per request)",
    )
    ap.add_argument("--soak", type=int, metavar="N", help="only the soak: N requests")
    ap.add_argument("--soak-samples", type=int, default=20)
    ap.add_argument("--plot", type=Path, help="write a PNG of latency percentiles here")
    ap.add_argument("--json", type=Path, help="write all numbers here")
    args = ap.parse_args(argv)

    print(f"machine: {common.machine_line()}")
    procs: list[common.Proc] = []
    proxy = None
    peers: list[Peer] = []
    report: dict[str, Any] = {
        "machine": common.machine(),
        "args": vars(args) | {"plot": str(args.plot), "json": str(args.json)},
    }
    with tempfile.TemporaryDirectory(prefix="zeta-perf-") as tmp:
        log_dir = Path(tmp)
        try:
            bport, lport = common.free_port(), common.free_port()
            procs.append(common.start_fake_backend(bport, log_dir))
            procs.append(
                common.start_fake_backend(
                    lport, log_dir, chunks=args.stream_chunks, name="backend-long"
                )
            )
            burl, lurl = f"http://{common.HOST}:{bport}/v1", f"http://{common.HOST}:{lport}/v1"
            backends = {"m": [burl], "m-long": [lurl]}
            if args.paced:
                pport = common.free_port()
                procs.append(
                    common.start_fake_backend(
                        pport, log_dir, chunks=400, chunk_delay_s=0.002, name="backend-paced"
                    )
                )
                backends["m-paced"] = [f"http://{common.HOST}:{pport}/v1"]
            think: dict[float, tuple[str, str, int]] = {}  # ms -> (model, base URL, pid)
            for ms in args.think_ms:
                tport = common.free_port()
                tproc = common.start_fake_backend(
                    tport, log_dir, delay_s=ms / 1000, name=f"backend-think-{ms:g}ms"
                )
                procs.append(tproc)
                model = f"m-think-{ms:g}ms"
                think[ms] = (model, f"http://{common.HOST}:{tport}/v1", tproc.pid)
                backends[model] = [think[ms][1]]
            peers.append(Peer(Target("direct", burl, model="m"), long_base=lurl))
            variants: list[tuple[str, dict[str, str]]] = [("", {})]
            redis_proc = None
            if args.redis:
                redis_proc, redis_url = common.start_redis(log_dir)
                procs.append(redis_proc)
                state = f"{{backend: redis, url: '{redis_url}'}}"
                variants.append(("-redis", {"state": state}))
            limit = f"max_concurrency: {args.max_concurrency}" if args.max_concurrency else ""
            for analyzer, (suffix, state_extra) in (
                (a, v) for a in args.analyzer or [None] for v in variants
            ):
                extra = {"analysis": f"{{analyzer: {analyzer}}}"} if analyzer else {}
                extra |= state_extra
                name = (f"zeta-{analyzer}" if analyzer else "zeta-router") + suffix
                if suffix and not analyzer:
                    name = "zeta" + suffix
                gateway, gurl = overhead.start_gateway(
                    backends, log_dir, name=name, replica=limit, **extra
                )
                procs.append(gateway)
                # model "auto": the gateway classifies every request (the full decision path).
                peers.append(
                    Peer(
                        Target(name, gurl, model="auto"),
                        gateway.pid,
                        ready_s=gateway.ready_s,
                        rss_idle=common.rss_bytes(gateway.pid),
                    )
                )
            time.sleep(0.5)
            if args.soak:
                asyncio.run(soak(peers[1], args.soak, args.concurrency, args.soak_samples))
                report["soak"] = peers[1].results["soak"]
                return _finish(report, args)
            for client in args.bare_relay:
                rport = common.free_port()
                relay = common.start(
                    f"bare-relay-{client}",
                    [
                        sys.executable,
                        str(Path(__file__).with_name("bare_relay.py")),
                        str(rport),
                        burl,
                        "--long",
                        lurl,
                        "--client",
                        client,
                        *(f"--route={m}={url}" for m, url, _ in think.values()),
                    ],
                    log_dir=log_dir,
                )
                procs.append(relay)
                relay.wait_ready(f"http://{common.HOST}:{rport}/health", 30)
                rurl = f"http://{common.HOST}:{rport}/v1"
                peers.append(
                    Peer(
                        Target(f"relay-{client}", rurl, model="m"),
                        relay.pid,
                        ready_s=relay.ready_s,
                        rss_idle=common.rss_bytes(relay.pid),
                    )
                )
            if args.litellm:
                import litellm_env

                proxy = litellm_env.start_proxy(
                    backends, fallbacks={"m": ["m-long"]}, retries=3, log_dir=log_dir
                )
                time.sleep(0.5)
                peers.append(
                    Peer(
                        Target("litellm", proxy.url + "/v1", model="m", headers=proxy.headers),
                        proxy.pid,
                        proxy.ready_s,
                        common.rss_bytes(proxy.pid),
                    )
                )
            seq = asyncio.run(sequential(peers, args.n))
            seq_raw = {k: v for k, v in seq.items() if isinstance(v, list)}
            report["sequential"] = {k: v for k, v in seq.items() if not isinstance(v, list)}
            backend_pid = procs[0].pid
            redis_cpu0 = common.cpu_seconds(redis_proc.pid) if args.redis else 0.0
            asyncio.run(
                throughput(peers, args.concurrency, args.duration, args.rounds, backend_pid)
            )
            if args.redis:
                report["redis_vs_memory"] = redis_vs_memory(peers, seq_raw)
                # Redis's own CPU over the section, per request of the Redis-mode gateways
                # (the memory-mode rounds leave it idle but for nothing).
                served = sum(
                    p.results["throughput"]["rps"] * args.duration * args.rounds
                    for p in peers
                    if p.target.name.endswith("-redis")
                )
                redis_ms = (common.cpu_seconds(redis_proc.pid) - redis_cpu0) / served * 1e3
                print(f"redis-server CPU: {redis_ms:.4f} ms per Redis-mode request")
                report["redis_server_cpu_ms_per_req"] = redis_ms
            for ms, (model, url, pid) in think.items():
                asyncio.run(think_throughput(peers, model, url, pid, ms, args))
            if args.wrk:
                wrk_throughput(
                    peers, args.concurrency, args.duration, args.rounds, backend_pid, log_dir
                )
            asyncio.run(stream_relay(peers, args.streams, args.duration))
            if args.paced:
                # The fake backend serves any model name; zeta pins "m-paced" to that backend.
                bases = {p.target.name: p.target.base for p in peers if p.target.name != "direct"}
                bases = {k: v for k, v in bases.items() if k.startswith("zeta")}
                bases["direct"] = backends["m-paced"][0]
                asyncio.run(paced_relay(peers, bases, args.paced))
            print("\n## memory (RSS, whole process tree)")
            for p in peers[1:]:
                after = common.rss_bytes(p.pid) if p.pid else 0
                p.results["rss_idle_mb"] = p.rss_idle / 2**20
                p.results["rss_after_load_mb"] = after / 2**20
                p.results["ready_s"] = p.ready_s
                print(
                    f"{p.target.name:<14} idle {p.rss_idle / 2**20:7.1f} MB, after load "
                    f"{after / 2**20:7.1f} MB, open fds {common.open_fds(p.pid or 0)}"
                )
            if args.plot:
                plot(peers, args.plot, seq)
        finally:
            if proxy is not None:
                proxy.stop()
            for proc in reversed(procs):
                proc.stop()
        report["decision"] = {a: decision_cost(args.decisions, a) for a in ("heuristic", "auto")}
        report["startup_s"] = startup_times(
            {"m": ["http://127.0.0.1:9/v1"]}, log_dir, args.startup_runs
        )
        if proxy is not None:
            print(f"litellm proxy: {proxy.ready_s:.3f} s")
            report["startup_s"]["litellm"] = proxy.ready_s
    for p in peers:
        for key, value in p.results.items():
            if key.startswith("throughput"):
                value.pop("latencies_ms", None)
        report[p.target.name] = p.results
    return _finish(report, args)


def redis_vs_memory(peers: Sequence[Peer], seq: dict[str, list[float]]) -> dict[str, Any]:
    """Each gateway in Redis mode against the same gateway in memory mode, from the sections
    above (the same run, interleaved; ``seq``: the sequential section's samples in ms): what
    sharing the fleet view costs."""
    print("\n## redis mode vs memory mode (the same gateway and config otherwise)")
    print(
        f"{'pair':<30}{'seq +p50 ms':>12}{'seq +p99 ms':>12}{'c64 +p50 ms':>12}"
        f"{'c64 +p99 ms':>12}{'+cpu ms/req':>12}"
    )
    by_name = {p.target.name: p for p in peers}
    out: dict[str, Any] = {}
    for p in peers:
        name = p.target.name
        if not name.endswith("-redis"):
            continue
        base = by_name.get(name.removesuffix("-redis")) or by_name.get("zeta-router")
        if base is None:
            continue
        s_red = seq[f"non-stream/total/{name}"]
        s_mem = seq[f"non-stream/total/{base.target.name}"]
        t_red, t_mem = p.results["throughput"], base.results["throughput"]
        pct = common.percentile
        row = {
            "seq_added_p50_ms": pct(s_red, 50) - pct(s_mem, 50),
            "seq_added_p99_ms": pct(s_red, 99) - pct(s_mem, 99),
            "c64_added_p50_ms": t_red["p50_ms"] - t_mem["p50_ms"],
            "c64_added_p99_ms": t_red["p99_ms"] - t_mem["p99_ms"],
            "added_cpu_ms_per_req": (t_red["cpu_ms_per_req"] or 0.0)
            - (t_mem["cpu_ms_per_req"] or 0.0),
        }
        pair = f"{name} vs {base.target.name}"
        print(
            f"{pair:<30}{row['seq_added_p50_ms']:>12.3f}{row['seq_added_p99_ms']:>12.3f}"
            f"{row['c64_added_p50_ms']:>12.3f}{row['c64_added_p99_ms']:>12.3f}"
            f"{row['added_cpu_ms_per_req']:>12.4f}"
        )
        out[pair] = row
    return out


async def sequential(peers: Sequence[Peer], n: int) -> dict[str, Any]:
    """Interleaved sequential requests: added latency per peer against the direct path."""
    print(f"\n## sequential, {n} requests per target and mode, interleaved")
    return await overhead.measure([p.target for p in peers], n, min(n, 50))


def _finish(report: dict[str, Any], args: argparse.Namespace) -> int:
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
        print(f"numbers written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
