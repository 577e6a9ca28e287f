"""Balancing under load on the fake fleet: round-robin, random and p2c-ewma side by side.

Part 1 (replica choice). One model, three replicas on 127.0.0.1 (in-process fake backends):
two answer in ``--base-ms``, one is 3x slower. Closed-loop load from ``--concurrency`` workers
through ``Router.handle`` (the whole routing path and real HTTP to the backends, without the
client-facing HTTP server, whose cost is the same for every strategy). Phases:

- ``steady``: no fault;
- ``slow``: one of the fast replicas becomes 10x slower;
- ``recovered``: it is fast again.

Each strategy gets a fresh router and the same phases; p50/p99 per phase are of the requests
*started* in that phase.

Part 2 (saturation). ``brain`` (two replicas, ``max_concurrency`` 4 each) is the preferred model
of the ``reasoning`` route; ``coder`` (max_complexity 0.6) may take its spill-over. Half the
workers send ``reasoning`` requests (may spill), half pin ``brain`` (must wait in its queue); all
carry a deadline (``x-zeta-timeout-ms``) and a priority. Reported: the share that spilled, the
share that waited, the 429s (with Retry-After) and the requests that ended after their deadline
without saying so (must be zero).

    python benchmarks/balance.py            # about 45 s
    python benchmarks/balance.py --quick    # about 12 s, for a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

import _common as common
from zeta_router.config import parse_config
from zeta_router.http.protocol import PRIORITIES, parse_request
from zeta_router.router import RequestOptions, Router
from zeta_router.testing import FakeBackend

BODY = orjson.dumps(
    {"model": "auto", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
)
PINNED = orjson.dumps(
    {"model": "brain", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
)
#: Row label -> balancer settings. The last row is ours without the latency-outlier rule.
STRATEGIES: dict[str, dict[str, Any]] = {
    "round-robin": {"strategy": "round-robin"},
    "random": {"strategy": "random"},
    "p2c-ewma": {"strategy": "p2c-ewma"},
    "p2c-ewma, outlier_ratio 0": {"strategy": "p2c-ewma", "outlier_ratio": 0},
}


# -- fake backends in a child process ----------------------------------------------------------


class BackendHost:
    """Fake backends served by a child process (the second core), so their timing is not
    disturbed by the load generator and router sharing this event loop. Controlled over
    stdin: ``set <index> <delay_s>`` or ``faults <index> <json>`` (fault switches, healed
    first) answers ``ok``."""

    def __init__(self, proc: asyncio.subprocess.Process, ports: list[int]) -> None:
        self._proc = proc
        self.urls = [f"http://{common.HOST}:{p}/v1" for p in ports]

    @classmethod
    async def start(cls, n: int) -> BackendHost:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--serve-backends",
            str(n),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 20)
        return cls(proc, json.loads(line))

    async def set_delay(self, index: int, delay_s: float) -> None:
        await self._command(f"set {index} {delay_s}")

    async def set_faults(self, index: int, **faults: Any) -> None:
        """Heal backend ``index``, then apply ``faults`` (FakeBackend.set's switches)."""
        await self._command(f"faults {index} {json.dumps(faults)}")

    async def _command(self, line: str) -> None:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(line.encode() + b"\n")
        await self._proc.stdin.drain()
        ack = await asyncio.wait_for(self._proc.stdout.readline(), 5)
        assert ack.strip() == b"ok", ack

    async def stop(self) -> None:
        if self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 5)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()


async def serve_backends(n: int) -> None:
    backends = [await FakeBackend(f"b{i}").start() for i in range(n)]
    print(json.dumps([b.port for b in backends]), flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        parts = line.decode().split(maxsplit=2)
        if parts[:1] == ["set"]:
            backends[int(parts[1])].set(delay_s=float(parts[2]))
            print("ok", flush=True)
        elif parts[:1] == ["faults"]:
            b = backends[int(parts[1])]
            b.heal()
            b.set(**json.loads(parts[2]))
            print("ok", flush=True)
    for b in backends:
        await b.stop()


# -- part 1 ------------------------------------------------------------------------------------


@dataclass
class PhaseStats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    by_replica: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        lat = self.latencies
        return {
            "n": len(lat),
            "errors": self.errors,
            "p50_ms": round(common.percentile(lat, 50) * 1000, 1),
            "p99_ms": round(common.percentile(lat, 99) * 1000, 1),
            "share": {
                k: round(v / max(1, len(lat)), 3) for k, v in sorted(self.by_replica.items())
            },
        }


async def run_strategy(
    balancer: dict[str, Any],
    host: BackendHost,
    phases: list[tuple[str, float, list[float]]],
    concurrency: int,
    seed: int,
) -> dict[str, dict[str, Any]]:
    config = parse_config(
        {
            "health": {"enabled": False, "scrape_metrics": True, "scrape_interval_s": 0.5},
            "analysis": {"analyzer": "heuristic"},
            "balancer": balancer,
            "models": {
                "m": {"replicas": [{"url": u, "id": f"r{i}"} for i, u in enumerate(host.urls)]}
            },
        }
    )
    router = Router(config, rng=random.Random(seed))
    await router.start()
    opts = RequestOptions(task="simple")
    stats: dict[str, PhaseStats] = {name: PhaseStats() for name, _, _ in phases}
    current = phases[0][0]
    stop = False

    async def worker() -> None:
        while not stop:
            phase = current
            t0 = time.perf_counter()
            resp = await router.handle(parse_request("chat", BODY), opts)
            dt = time.perf_counter() - t0
            d = resp.decision
            if d is not None:
                router.finish(d)
            s = stats[phase]
            if resp.status == 200 and d is not None and d.replica:
                s.latencies.append(dt)
                s.by_replica[d.replica] += 1
            else:
                s.errors += 1

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        for name, seconds, delays in phases:
            for i, delay in enumerate(delays):
                await host.set_delay(i, delay)
            current = name
            await asyncio.sleep(seconds)
    finally:
        stop = True
        await asyncio.gather(*tasks)
        await router.close()
    return {name: s.summary() for name, s in stats.items() if not name.startswith("_")}


async def part1(args: argparse.Namespace) -> dict[str, Any]:
    base = args.base_ms / 1000
    host = await BackendHost.start(3)
    normal = [base, base, 3 * base]
    slow = [10 * base, base, 3 * base]
    d = args.phase_s
    phases = [
        ("_warmup", min(1.0, d / 2), normal),
        ("steady", d, normal),
        ("slow", d, slow),
        ("recovered", d, normal),
    ]
    out: dict[str, Any] = {}
    try:
        for label, balancer in STRATEGIES.items():
            out[label] = await run_strategy(balancer, host, phases, args.concurrency, args.seed)
    finally:
        await host.stop()
    return out


# -- part 2 ------------------------------------------------------------------------------------


async def part2(args: argparse.Namespace) -> dict[str, Any]:
    base = 2 * args.base_ms / 1000
    names = ("brain-a", "brain-b", "coder-a")
    backends = {n: await FakeBackend(n).start() for n in names}
    for b in backends.values():
        b.set(delay_s=base)
    config = parse_config(
        {
            "health": {"enabled": False, "scrape_metrics": False},
            "analysis": {"analyzer": "heuristic"},
            "admission": {"queue_size": 16, "ageing_s": 0.5},
            "models": {
                "brain": {
                    "replicas": [
                        {"url": backends["brain-a"].url, "max_concurrency": 4},
                        {"url": backends["brain-b"].url, "max_concurrency": 4},
                    ]
                },
                "coder": {"max_complexity": 0.6, "replicas": [{"url": backends["coder-a"].url}]},
            },
            "routes": {"reasoning": ["brain", "coder"]},
            "fallbacks": {"brain": []},
        }
    )
    router = Router(config, rng=random.Random(args.seed))
    await router.start()
    rng = random.Random(args.seed)
    deadline_s = args.deadline_ms / 1000
    # Within this of the deadline still counts as on time: the event loop is shared with the
    # load generator and the fake backends.
    grace = 0.02
    # (phase, workers sending reasoning requests that may spill, workers pinning brain)
    n = args.concurrency
    phases = [("light", n // 4, 0), ("busy", n, n), ("overload", n, 3 * n)]
    results: dict[str, dict[str, Any]] = {}
    current = ""

    async def worker(phase: str, pinned: bool, r: dict[str, Any]) -> None:
        body = PINNED if pinned else BODY
        kind = "pinned" if pinned else "auto"
        while current == phase:
            prio = rng.choice(("low", "normal", "high"))
            opts = RequestOptions(task="reasoning", priority=PRIORITIES[prio], timeout_s=deadline_s)
            t0 = time.perf_counter()
            resp = await router.handle(parse_request("chat", body), opts)
            dt = time.perf_counter() - t0
            d = resp.decision
            if d is not None:
                router.finish(d)
            if resp.status == 200 and d is not None:
                r["outcomes"][f"200 {kind} -> {d.model}"] += 1
                if d.queued_s:
                    r["waits"].append(d.queued_s)
                if dt > deadline_s + grace:
                    r["silent"].append(round(dt * 1000, 1))
            else:
                r["outcomes"][f"{resp.status} {kind}"] += 1
                if resp.status == 429 and any(k == b"retry-after" for k, _ in resp.headers):
                    r["retry_after"] += 1
                # A refused client comes back after a short pause rather than spinning.
                await asyncio.sleep(0.02)

    try:
        for phase, n_auto, n_pinned in phases:
            r: dict[str, Any] = {"outcomes": Counter(), "waits": [], "silent": [], "retry_after": 0}
            results[phase] = r
            current = phase
            tasks = [
                asyncio.create_task(worker(phase, i >= n_auto, r)) for i in range(n_auto + n_pinned)
            ]
            await asyncio.sleep(args.phase_s)
            current = ""
            await asyncio.gather(*tasks)
    finally:
        await router.close()
        for b in backends.values():
            await b.stop()
    out: dict[str, Any] = {}
    for phase, n_auto, n_pinned in phases:
        r = results[phase]
        o: Counter[str] = r["outcomes"]
        auto_ok = sum(v for k, v in o.items() if k.startswith("200 auto"))
        waits = r["waits"]
        out[phase] = {
            "workers": f"{n_auto} auto + {n_pinned} pinned",
            "requests": sum(o.values()),
            "outcomes": dict(sorted(o.items())),
            "spill_share_of_auto": round(o["200 auto -> coder"] / max(1, auto_ok), 3),
            "waited_in_queue": len(waits),
            "wait_p50_ms": round(common.percentile(waits, 50) * 1000, 1) if waits else 0.0,
            "wait_p99_ms": round(common.percentile(waits, 99) * 1000, 1) if waits else 0.0,
            "refused_429": sum(v for k, v in o.items() if k.startswith("429")),
            "refused_429_with_retry_after": r["retry_after"],
            "other_errors": sum(v for k, v in o.items() if not k.startswith(("200", "429"))),
            "silent_deadline_overruns": len(r["silent"]),
        }
    out["shed_by_admission"] = dict(router.admission.shed)
    return out


# -- report ------------------------------------------------------------------------------------


def report(p1: dict[str, Any], p2: dict[str, Any]) -> str:
    lines = [
        "| strategy | phase | n | p50 ms | p99 ms | share r0/r1/r2 (r2 is 3x, r0 is 10x in slow) |"
    ]
    lines.append("|---|---|---:|---:|---:|---|")
    for strategy, phases in p1.items():
        for phase, s in phases.items():
            share = "/".join(f"{s['share'].get(r, 0):.2f}" for r in ("r0", "r1", "r2"))
            lines.append(
                f"| {strategy} | {phase} | {s['n']} | {s['p50_ms']} | {s['p99_ms']} | {share} |"
            )
    ours = p1["p2c-ewma"]
    rr = p1["round-robin"]
    ratio_self = ours["slow"]["p99_ms"] / ours["steady"]["p99_ms"]
    ratio_rr = rr["slow"]["p99_ms"] / ours["slow"]["p99_ms"]
    plain = p1.get("p2c-ewma, outlier_ratio 0")
    lines.append("")
    lines.append(
        f"p2c-ewma p99 slow/steady = {ratio_self:.2f} (target <= 1.5); "
        f"round-robin p99 / p2c-ewma p99 in the slow phase = {ratio_rr:.2f} (target >= 2)"
    )
    if plain is not None:
        lines.append(
            "without the outlier rule: p99 slow/steady = "
            f"{plain['slow']['p99_ms'] / plain['steady']['p99_ms']:.2f}, round-robin / it = "
            f"{rr['slow']['p99_ms'] / plain['slow']['p99_ms']:.2f}"
        )
    lines.append("")
    lines.append(
        "| saturation phase | workers | requests | auto spilled to coder | waited in queue "
        "| wait p50/p99 ms | 429 (with Retry-After) | other errors | silent deadline overruns |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for phase, r in p2.items():
        if phase == "shed_by_admission":
            continue
        lines.append(
            f"| {phase} | {r['workers']} | {r['requests']} | {r['spill_share_of_auto']:.1%} "
            f"| {r['waited_in_queue']} | {r['wait_p50_ms']}/{r['wait_p99_ms']} "
            f"| {r['refused_429']} ({r['refused_429_with_retry_after']}) | {r['other_errors']} "
            f"| {r['silent_deadline_overruns']} |"
        )
    lines.append("")
    lines.append("saturation outcomes: " + json.dumps({k: v for k, v in p2.items()}))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--base-ms", type=float, default=20.0)
    parser.add_argument("--phase-s", type=float, default=4.0)
    parser.add_argument("--deadline-ms", type=float, default=250.0)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="1.5 s phases")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--serve-backends", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_backends:
        asyncio.run(serve_backends(args.serve_backends))
        return 0
    if args.quick:
        args.phase_s = 1.5

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        return await part1(args), await part2(args)

    try:
        import uvloop

        p1, p2 = uvloop.run(run())
    except ImportError:  # pragma: no cover
        p1, p2 = asyncio.run(run())
    print(common.machine_line())
    print(
        f"concurrency {args.concurrency}, base {args.base_ms} ms, phases {args.phase_s} s, "
        f"seed {args.seed}"
    )
    print(report(p1, p2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"replica_choice": p1, "saturation": p2}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
