"""Memory and CPU of the per-second history (GET /v1/router/history, the dashboard's charts).

    python benchmarks/history_memory.py

Fills a full ring (900 one-second samples) for two fleets, worst case: every model serves
requests every second (so every sample carries latency and TTFT quantiles per model) and every
replica reports a backend queue. Memory is what ``tracemalloc`` sees allocated by the ring and
kept; CPU is per finished request (``RequestWindow.observe``, on the telemetry drain task),
per sample (``Sampler``'s once-a-second work) and per full read of the ring (a dashboard's
first poll: the JSON of all 900 samples).
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc
from typing import Any

import orjson

from zeta_router.analysis.profile import TaskProfile
from zeta_router.config import parse_config
from zeta_router.fleet.state import Fleet, ScrapedLoad
from zeta_router.ops.history import HISTORY_SECONDS, History, RequestWindow
from zeta_router.routing.decision import Attempt, Decision


def fleet(shape: tuple[int, ...]) -> Fleet:
    """A fleet with ``shape[i]`` replicas for model i."""
    cfg: dict[str, Any] = {"models": {}}
    port = 10000
    for m, replicas in enumerate(shape):
        reps = []
        for _ in range(replicas):
            port += 1
            reps.append({"url": f"http://127.0.0.1:{port}/v1"})
        cfg["models"][f"model-{m}"] = {"replicas": reps}
    return Fleet(parse_config(cfg))


def decision(model: str, rng: random.Random) -> Decision:
    d = Decision("zr-bench-1", "chat", 0.0)
    d.profile = TaskProfile("code", 0.4, 0.9, 10, "heuristic", ())
    d.model = d.preferred = model
    d.status = 200
    d.duration_s = rng.uniform(0.05, 2.0)
    d.ttfb_s = d.duration_s / 4
    d.attempts = [Attempt(model, model + "-0", "ok", d.duration_s)]
    return d


def measure(shape: tuple[int, ...], per_model_per_s: int) -> dict[str, float]:
    rng = random.Random(1)
    f = fleet(shape)
    names = list(f.models)
    reps = list(f.replicas.values())
    decisions = [decision(m, rng) for m in names for _ in range(per_model_per_s)]
    # Windows are built before measuring: they live only one second in the router.
    windows = []
    for _ in range(HISTORY_SECONDS):
        w = RequestWindow(rng)
        for d in decisions:
            w.observe(d)
        windows.append(w)

    def fill(h: History) -> float:
        """Seconds of CPU per recorded sample (the replica updates excluded)."""
        spent = 0.0
        for i, w in enumerate(windows):
            for r in reps:
                r.in_flight = rng.randrange(0, 8)
                r.requests += rng.randrange(0, 50)
                r.scraped = ScrapedLoad(waiting=float(rng.randrange(0, 20)), at=float(i))
            t0 = time.perf_counter()
            h.record(w, reps, 1000.0 + i, 1.0)
            spent += time.perf_counter() - t0
        return spent / len(windows)

    record_s = fill(History())  # timed without tracemalloc, which slows every allocation
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    h = History()
    fill(h)
    windows.clear()
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()

    # One second's worth of requests per fresh window, as the telemetry drain feeds it.
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.5:
        w = RequestWindow(rng)
        for d in decisions:
            w.observe(d)
        n += len(decisions)
    observe_s = (time.perf_counter() - t0) / n

    t0 = time.perf_counter()
    body = b"[" + b",".join(h.since(0)) + b"]"
    read_s = time.perf_counter() - t0
    orjson.loads(body)
    return {
        "models": len(shape),
        "replicas": sum(shape),
        "samples": len(h),
        "kept_mib": kept / 2**20,
        "bytes_per_sample": kept / len(h),
        "observe_us": observe_s * 1e6,
        "record_us": record_s * 1e6,
        "read_all_ms": read_s * 1e3,
        "json_kib": len(body) / 1024,
    }


def _cell(v: float) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-model", type=int, default=20, help="requests per model per second")
    args = ap.parse_args(argv)
    cols = ("models", "replicas", "samples", "kept_mib", "bytes_per_sample", "observe_us",
            "record_us", "read_all_ms", "json_kib")
    print(" | ".join(cols))
    # (A row per fleet shape: replicas per model.)
    # The tests' fleet (brain x2, coder, small, embed), then a large one.
    for shape in ((2, 1, 1, 1), (3,) * 20):
        row = measure(shape, args.per_model)
        print(" | ".join(_cell(row[c]) for c in cols))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
