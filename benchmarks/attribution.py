"""Bad requests mixed into good ones: does the fleet stay up, and does a broken replica go?

    python benchmarks/attribution.py                      # fake fleet, 200 requests, c=8
    python benchmarks/attribution.py --fleet llama        # real llama-cpp-python servers
    python benchmarks/attribution.py --fleet llama --backend llama-server

Two models x two replicas behind a real gateway (uvicorn on a socket), driven with the openai
SDK (no SDK retries) at the given concurrency; one request in four is invalid for the backend.

- ``--fleet fake``: the fake servers answer 500 with llama-cpp-python's validation-error body to
  requests carrying a marker; in the same run one replica (coder-b) answers 500 to everything.
- ``--fleet llama``: four SmolLM2-135M servers (two per model); the invalid requests are issue
  13's: a json_schema ``response_format``, an assistant tool-call turn with null content, a
  completions prompt of two strings (llama-server accepts those three, so with
  ``--backend llama-server`` the invalid ones are schemas it cannot compile).

Printed (JSON): valid requests that failed, invalid requests by status and attempts, breaker
ejections per replica, the broken replica's upstream requests before it was ejected, latency of
the valid ones, wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zeta_router.config import parse_config
from zeta_router.router import Router
from zeta_router.testing import Harness

MARKER = "ZETA-INVALID-FOR-THE-BACKEND"
BREAKER = {"consecutive_failures": 5, "eject_base_s": 60.0, "eject_max_s": 120.0}
MODELS = ("brain", "coder")


def fake_template() -> dict[str, Any]:
    return {
        "health": {"enabled": False, "scrape_metrics": False},
        "timeouts": {"connect_s": 1.0, "first_byte_s": 5.0, "idle_s": 2.0, "total_s": 20.0},
        "retry": {"backoff_base_s": 0.01, "backoff_max_s": 0.02},
        "breaker": BREAKER,
        "analysis": {"analyzer": "heuristic"},
        "models": {
            "brain": {
                "health": "none",
                "replicas": [
                    {"url": "fake:b1", "id": "brain-a"},
                    {"url": "fake:b2", "id": "brain-b"},
                ],
            },
            "coder": {
                "health": "none",
                "replicas": [
                    {"url": "fake:c1", "id": "coder-a"},
                    {"url": "fake:c2", "id": "coder-b"},
                ],
            },
        },
        "routes": {"reasoning": ["brain", "coder"], "code": ["coder", "brain"]},
    }


@asynccontextmanager
async def llama_gateway(backend: str) -> AsyncIterator[tuple[str, Router]]:
    from zeta_router.localfleet import LocalModels, find_smollm2, fleet_dict, running_gateway
    from zeta_router.managed.llamabuild import find_llama_server

    binary = find_llama_server() if backend == "llama-server" else None
    if backend == "llama-server" and binary is None:
        raise SystemExit("llama-server is not built: zeta-router fleet build")
    model = find_smollm2()
    logs = tempfile.mkdtemp(prefix="zeta-attribution-")
    doc = fleet_dict(
        LocalModels(smollm2=model, gemma=model), small_replicas=4, llama_server=binary,
        log_dir=logs,
    )
    reps = doc["models"]["small"]["replicas"]
    for i, r in enumerate(reps):
        r["id"] = f"{MODELS[i // 2]}-{'ab'[i % 2]}"
    small = doc["models"]["small"]
    doc["models"] = {
        name: {**small, "replicas": reps[2 * k : 2 * k + 2]} for k, name in enumerate(MODELS)
    }
    doc["routes"] = {"reasoning": ["brain", "coder"], "code": ["coder", "brain"]}
    doc["fallbacks"] = {}
    async with running_gateway(parse_config(doc, "<attribution>")) as gw:
        if not await gw.supervisor.wait_ready(180):
            raise SystemExit(f"servers not ready: {[s.id for s in gw.supervisor.not_ready()]}")
        yield gw.base_url + "/v1", gw.router


def llama_invalid(backend: str, i: int, model: str) -> tuple[str, dict[str, Any]]:
    """(endpoint, body) of the i-th invalid request."""
    schema: dict[str, Any] = {"type": "object"}
    if backend == "llama-server":
        schema = {"type": "nonsense-type"}
        i = 0
    hi = [{"role": "user", "content": "hi"}]
    tool_call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    options: list[tuple[str, dict[str, Any]]] = [
        (
            "chat",
            {
                "messages": hi,
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "a", "schema": schema},
                },
            },
        ),
        (
            "chat",
            {
                "messages": [
                    *hi,
                    {"role": "assistant", "content": None, "tool_calls": [tool_call]},
                    {"role": "tool", "tool_call_id": "c1", "content": "42"},
                ]
            },
        ),
        ("completions", {"prompt": ["a b", "c d"]}),
    ]
    endpoint, body = options[i % len(options)]
    return endpoint, {"model": model, "max_tokens": 8, **body}


async def run(
    base_url: str, n: int, concurrency: int, fleet: str, backend: str, seed: int
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    plan = [(i % 4 == 0, MODELS[rng.random() < 0.5]) for i in range(n)]
    rng.shuffle(plan)
    sem = asyncio.Semaphore(concurrency)
    out: list[dict[str, Any]] = []
    client = openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=120)
    bad = 0

    async def one(invalid: bool, model: str) -> None:
        nonlocal bad
        if invalid and fleet == "llama":
            endpoint, body = llama_invalid(backend, bad, model)
            bad += 1
        else:
            text = f"Say hi. {MARKER}" if invalid else "Say hi."
            endpoint = "chat"
            messages = [{"role": "user", "content": text}]
            body = {"model": model, "messages": messages, "max_tokens": 8}
        async with sem:
            start = time.perf_counter()
            try:
                if endpoint == "chat":
                    raw: Any = await client.chat.completions.with_raw_response.create(**body)
                else:
                    raw = await client.completions.with_raw_response.create(**body)
                status, headers, err = raw.status_code, raw.headers, None
            except openai.APIStatusError as exc:
                status, headers = exc.status_code, exc.response.headers
                err = exc.response.json().get("error", {})
            except openai.APIConnectionError as exc:
                status, headers, err = 0, {}, {"message": str(exc)}
            out.append(
                {
                    "invalid": invalid,
                    "status": status,
                    "attempts": int(headers.get("x-zeta-attempts", 0)),
                    "blame": headers.get("x-zeta-blame"),
                    "code": (err or {}).get("code"),
                    "latency_s": time.perf_counter() - start,
                }
            )

    async with client:
        await asyncio.gather(*(one(inv, m) for inv, m in plan))
    return out


def summary(results: list[dict[str, Any]], router: Router, wall_s: float) -> dict[str, Any]:
    valid = [r for r in results if not r["invalid"]]
    invalid = [r for r in results if r["invalid"]]
    lat = sorted(r["latency_s"] for r in valid if r["status"] == 200)
    return {
        "requests": len(results),
        "valid": len(valid),
        "valid_failed": sum(r["status"] != 200 for r in valid),
        "invalid": len(invalid),
        "invalid_by_status": dict(Counter(str(r["status"]) for r in invalid)),
        "invalid_by_code": dict(Counter(str(r["code"]) for r in invalid)),
        "invalid_max_attempts": max((r["attempts"] for r in invalid), default=0),
        "invalid_blamed_on_request": sum(r["blame"] == "request" for r in invalid),
        "ejections": {rid: r.breaker.ejections for rid, r in router.fleet.replicas.items()},
        "breaker_state": {
            rid: r.breaker.state.value for rid, r in router.fleet.replicas.items()
        },
        "counted_failures": {rid: r.failures for rid, r in router.fleet.replicas.items()},
        "valid_latency_ms": {
            "p50": round(1000 * statistics.median(lat), 1) if lat else None,
            "p99": round(1000 * lat[int(0.99 * (len(lat) - 1))], 1) if lat else None,
        },
        "wall_s": round(wall_s, 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--fleet", choices=("fake", "llama"), default="fake")
    ap.add_argument("--backend", choices=("python", "llama-server"), default="python")
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("-c", "--concurrency", type=int, default=8)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()

    if args.fleet == "fake":
        h = Harness(["b1", "b2", "c1", "c2"], fake_template())
        try:
            for name in ("b1", "b2", "c1", "c2"):
                h.set(name, reject_marker=MARKER)
            h.set("c2", mode="500")  # broken: 500 to everything
            start = time.perf_counter()
            results = asyncio.run(run(h.base_url, args.n, args.concurrency, "fake", "", args.seed))
            out = summary(results, h.router, time.perf_counter() - start)
            out["broken_replica_upstream_requests"] = h.backend("c2").requests
        finally:
            h.close()
    else:

        async def live() -> dict[str, Any]:
            async with llama_gateway(args.backend) as (base_url, router):
                start = time.perf_counter()
                results = await run(
                    base_url, args.n, args.concurrency, "llama", args.backend, args.seed
                )
                return summary(results, router, time.perf_counter() - start)

        out = asyncio.run(live())
    out["fleet"] = args.fleet if args.fleet == "fake" else f"llama ({args.backend})"
    out["concurrency"] = args.concurrency
    print(json.dumps(out, indent=2))
    return 0 if out["valid_failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
