"""Hedging and honest load signals on the fake fleet: hedging off and on, side by side.

One model, two replicas on 127.0.0.1 (fake backends in a child process, as in balance.py), the
default balancer, ``--concurrency`` closed-loop workers calling ``Router.handle`` (the whole
routing path and real HTTP to the backends). Health probes are off, so what ejects a replica is
the balancer and the breaker alone; ``timeouts.first_byte_s`` is ``--first-byte-s``. After a
warm-up with both replicas healthy, replica r0 gets one fault for ``--seconds``:

- ``slow``: r0 answers 10x slower than ``--base-ms``;
- ``hung``: r0 accepts requests and never answers (its first-byte timeout ends each one);
- ``hung-cf1``: the same with ``breaker.consecutive_failures: 1``, so the time at which r0's
  breaker opens shows when the first verdict on it arrived;
- ``fail-fast``: r0 answers every request at once with a 500, and the breaker is effectively
  off (thresholds no replica reaches), so only the balancer's estimate can keep traffic away.

Each (scenario, hedging) pair gets a fresh router; ``--rounds`` repeats everything, hedging off
first in odd rounds and on first in even ones. Reported per pair: requests served and failed,
p50/p90 of the served ones, attempts (and first attempts) that went to r0, requests in which a
hedge raced, and when r0's breaker opened (seconds after the fault began).

    python benchmarks/hedge.py              # about 2 min
    python benchmarks/hedge.py --quick      # 3 s per run, one round
    python benchmarks/hedge.py --virtual    # the same scenarios in virtual time, in seconds
    python benchmarks/hedge.py --cost       # CPU per p2c pick and per hedge race

``--virtual`` runs the router against a fake transport on a virtual clock
(``zeta_router.testing.virtual``): no sockets, no CPU contention, the same numbers every time.
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
from balance import BackendHost
from zeta_router.config import parse_config
from zeta_router.fleet.breaker import BreakerState
from zeta_router.http.protocol import parse_request
from zeta_router.router import RequestOptions, Router
from zeta_router.testing.virtual import BREAKER_OFF, simulate

BODY = orjson.dumps(
    {"model": "m", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
)
SCENARIOS = ("slow", "hung", "hung-cf1", "fail-fast")
BREAKER = {"fail-fast": BREAKER_OFF}
BREAKER_ON_1 = {"consecutive_failures": 1}


@dataclass
class RunStats:
    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    attempts: Counter[str] = field(default_factory=Counter)
    first: Counter[str] = field(default_factory=Counter)
    hedged: int = 0
    breaker_open_s: float | None = None

    def summary(self) -> dict[str, Any]:
        lat = self.latencies
        total = sum(self.attempts.values())
        firsts = sum(self.first.values())
        return {
            "served": len(lat),
            "failed": self.failed,
            "p50_ms": round(common.percentile(lat, 50) * 1000, 1) if lat else None,
            "p90_ms": round(common.percentile(lat, 90) * 1000, 1) if lat else None,
            "attempts": total,
            "attempts_r0": self.attempts["r0"],
            "share_r0": round(self.attempts["r0"] / max(1, total), 3),
            "first_attempts_r0": self.first["r0"],
            "first_share_r0": round(self.first["r0"] / max(1, firsts), 3),
            "hedged": self.hedged,
            "breaker_open_s": (
                None if self.breaker_open_s is None else round(self.breaker_open_s, 2)
            ),
        }


def faults_for(scenario: str, base_s: float) -> dict[str, Any]:
    if scenario == "slow":
        return {"delay_s": 10 * base_s}
    if scenario.startswith("hung"):
        return {"mode": "hang"}
    return {"mode": "500"}


async def run_one(
    scenario: str, hedge: bool, host: BackendHost, args: argparse.Namespace
) -> dict[str, Any]:
    base = args.base_ms / 1000
    config = parse_config(
        {
            "health": {"enabled": False},
            "analysis": {"analyzer": "heuristic"},
            "timeouts": {"first_byte_s": args.first_byte_s},
            "hedge": {"enabled": hedge},
            "breaker": BREAKER_ON_1 if scenario == "hung-cf1" else BREAKER.get(scenario, {}),
            "models": {
                "m": {"replicas": [{"url": u, "id": f"r{i}"} for i, u in enumerate(host.urls)]}
            },
        }
    )
    for i in range(len(host.urls)):
        await host.set_faults(i, delay_s=base)
    router = Router(config, rng=random.Random(args.seed))
    await router.start()
    opts = RequestOptions(task="simple")
    r0 = router.fleet.replicas["r0"]
    stats = RunStats()
    measuring = False
    stop = False

    async def worker() -> None:
        while not stop:
            counted = measuring
            t0 = time.perf_counter()
            resp = await router.handle(parse_request("chat", BODY), opts)
            dt = time.perf_counter() - t0
            d = resp.decision
            if d is not None:
                router.finish(d)
            if not counted:
                continue
            if resp.status == 200:
                stats.latencies.append(dt)
            else:
                stats.failed += 1
            if d is not None and d.attempts:
                # A hedge that lost to the primary is recorded when it is cancelled, before
                # the primary's own outcome: the first attempt is the one after it.
                lead = d.attempts[0]
                if lead.outcome == "cancelled" and len(d.attempts) > 1:
                    lead = d.attempts[1]
                stats.first[lead.replica] += 1
                for a in d.attempts:
                    stats.attempts[a.replica] += 1
                if any(a.outcome.startswith("cancelled") for a in d.attempts):
                    stats.hedged += 1

    tasks = [asyncio.create_task(worker()) for _ in range(args.concurrency)]
    try:
        await asyncio.sleep(args.warmup_s)
        # Counted from here: requests sent while the fault is being switched on count too.
        measuring = True
        began = time.perf_counter()
        await host.set_faults(0, **{"delay_s": base, **faults_for(scenario, base)})
        while time.perf_counter() - began < args.seconds:
            if stats.breaker_open_s is None and r0.breaker.state is not BreakerState.CLOSED:
                stats.breaker_open_s = time.perf_counter() - began
            await asyncio.sleep(0.02)
        measuring = False
    finally:
        stop = True
        # Hung requests end at their first-byte timeout; release them so the run ends now.
        await host.set_faults(0, delay_s=base)
        await asyncio.gather(*tasks)
        await router.close()
    return stats.summary()


#: (round, scenario) -> hedging "off"/"on" -> summary
Results = dict[str, dict[str, dict[str, Any]]]


async def run_all(args: argparse.Namespace) -> Results:
    host = await BackendHost.start(2)
    out: Results = {}
    try:
        for rnd in range(1, args.rounds + 1):
            for scenario in args.scenarios:
                key = f"{rnd} {scenario}"
                out[key] = {}
                for hedge in (False, True) if rnd % 2 else (True, False):
                    label = "on" if hedge else "off"
                    out[key][label] = await run_one(scenario, hedge, host, args)
    finally:
        await host.stop()
    return out


def report(results: Results) -> str:
    lines = [
        "| round | scenario | hedging | served | failed | p50 ms | p90 ms "
        "| attempts to r0 (share) | first attempts to r0 (share) | hedged | r0 breaker opened |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, runs in results.items():
        rnd, scenario = key.split(" ", 1)
        for label in ("off", "on"):
            s = runs[label]
            opened = "-" if s["breaker_open_s"] is None else f"{s['breaker_open_s']} s"
            lines.append(
                f"| {rnd} | {scenario} | {label} | {s['served']} | {s['failed']} | {s['p50_ms']} "
                f"| {s['p90_ms']} | {s['attempts_r0']} ({s['share_r0']:.1%}) "
                f"| {s['first_attempts_r0']} ({s['first_share_r0']:.1%}) | {s['hedged']} "
                f"| {opened} |"
            )
    return "\n".join(lines)


VIRTUAL: dict[str, tuple[tuple[str, float], dict[str, Any]]] = {
    "slow": (("ok", 0.2), {}),
    "hung": (("hang", 0.0), {}),
    "hung-cf1": (("hang", 0.0), BREAKER_ON_1),
    "fail-fast": (("fail", 0.001), BREAKER_OFF),
}


def run_virtual(args: argparse.Namespace) -> str:
    lines = [
        "| scenario | hedging | served | failed | p90 ms | attempts to r0 (share) "
        "| first attempts to r0 | r0 breaker opened |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in args.scenarios:
        behaviour, breaker = VIRTUAL[scenario]
        for hedge in (False, True):
            s = simulate(
                behaviour,
                hedge=hedge,
                seconds=args.seconds,
                clients=args.concurrency,
                breaker=breaker,
                seed=args.seed,
            ).summary()
            opened = "-" if s["breaker_open_s"] is None else f"{s['breaker_open_s']} s"
            lines.append(
                f"| {scenario} | {'on' if hedge else 'off'} | {s['served']} | {s['failed']} "
                f"| {s['p90_ms']} | {s['attempts_r0']} ({s['share_r0']:.1%}) "
                f"| {s['first_share_r0']:.1%} | {opened} |"
            )
    return "\n".join(lines)


def cost() -> str:
    """CPU of the decisions on the request path: one p2c pick (two replicas, one with an
    attempt waiting for its first byte) and one hedge race around an answer already there."""
    import timeit

    from zeta_router.fleet.state import Fleet
    from zeta_router.routing.balancer import P2CEwma
    from zeta_router.routing.hedge import race

    config = parse_config(
        {"models": {"m": {"replicas": [{"url": "http://a/v1"}, {"url": "http://b/v1"}]}}}
    )
    reps = list(Fleet(config).models["m"].replicas)
    for r in reps:
        for _ in range(20):
            r.on_success(1000.0, 0.02)
    reps[0].in_flight = 2
    if hasattr(reps[0], "begin_wait"):
        reps[0].begin_wait(1000.0)
    p2c = P2CEwma(random.Random(0), 10.0, 10.0, 5.0)
    n = 100_000
    pick = min(timeit.repeat(lambda: p2c.pick(reps, 1000.05), number=n, repeat=7)) / n

    async def answer() -> int:
        await asyncio.sleep(0)
        return 1

    async def races(k: int) -> float:
        t0 = time.process_time()
        for _ in range(k):
            await race(answer(), 0.05, lambda: None, won=lambda r: True, discard=lambda r: None)
        return (time.process_time() - t0) / k

    try:
        import uvloop  # the gateway's loop

        per_race = uvloop.run(races(20_000))
    except ImportError:  # pragma: no cover
        per_race = asyncio.run(races(20_000))
    return (
        f"p2c pick: {pick * 1e6:.2f} us (timeit, min of 7 x {n}); "
        f"hedge race around a ready answer: {per_race * 1e6:.1f} us CPU (20000 calls)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--base-ms", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup-s", type=float, default=1.5)
    parser.add_argument("--first-byte-s", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="3 s per run, one round")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--virtual", action="store_true", help="virtual time, fake transport")
    parser.add_argument("--cost", action="store_true", help="CPU per pick and per race")
    args = parser.parse_args(argv)
    if args.cost:
        print(cost())
        return 0
    if args.virtual:
        print(
            f"virtual time: concurrency {args.concurrency}, replicas answer in 20 ms, "
            f"{args.seconds} s per run after 2 s warm-up, first_byte_s 1.0, seed {args.seed}"
        )
        print(run_virtual(args))
        return 0
    if args.quick:
        args.seconds = 3.0
        args.rounds = 1

    try:
        import uvloop

        results = uvloop.run(run_all(args))
    except ImportError:  # pragma: no cover
        results = asyncio.run(run_all(args))
    print(common.machine_line())
    print(
        f"concurrency {args.concurrency}, base {args.base_ms} ms, {args.seconds} s per run "
        f"after {args.warmup_s} s warm-up, first_byte_s {args.first_byte_s}, seed {args.seed}, "
        f"{args.rounds} round(s)"
    )
    print(report(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
