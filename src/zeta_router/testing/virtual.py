"""The router in virtual time: its real retry, hedge and balancer code in front of a fake
transport, driven by a clock that jumps to the next timer once every task waits. Seconds of
closed-loop load take milliseconds and repeat exactly, so balancing decisions can be tested and
compared (hedging off and on, before and after a change) without sockets or noise.

Used by tests/test_load_signals.py and ``benchmarks/hedge.py --virtual``.
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson

from zeta_router.clock import Timer
from zeta_router.config import parse_config
from zeta_router.errors import FailureKind, UpstreamError
from zeta_router.fleet.breaker import BreakerState
from zeta_router.fleet.outcome import CANCELLED
from zeta_router.http.protocol import parse_request
from zeta_router.router import RequestOptions, Router
from zeta_router.testing.mock_transport import MockRequest, MockTransport, hang
from zeta_router.upstream.transport import Reply

T = TypeVar("T")
#: (kind, seconds): "ok" answers after seconds, "fail" fails with a 500 after seconds, "hang"
#: never answers (the attempt ends at its first-byte timeout, as a real one does).
Behaviour = tuple[str, float]
NOW = 1000.0
#: Breaker thresholds no replica reaches in a run: "breakers effectively off".
BREAKER_OFF = {"consecutive_failures": 1_000_000, "failure_rate": 1.0, "min_samples": 1_000_000}


class VirtualTime:
    """A :class:`~zeta_router.clock.Clock` for the router and the fake transport: reading,
    sleeping and timers on one virtual time base. Time jumps to the next timer once every task
    is blocked, so a run of many seconds takes milliseconds and repeats exactly.

    Timers due at the same instant fire one step apart, unless ``together``: then they all
    fire at once, in one loop iteration, as asyncio's own timers that are due together do (so
    what two tasks do in the same iteration, before either's follow-up work runs, shows).
    """

    def __init__(self, *, together: bool = False) -> None:
        self.now = NOW
        self.together = together
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._timers, (self.now + max(0.0, delay), self._seq, fut))
        await fut

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._timers, (self.now + max(0.0, delay), self._seq, fut))

        def fire(f: asyncio.Future[None]) -> None:
            if not f.cancelled():
                callback()

        fut.add_done_callback(fire)
        return fut

    async def run_until(self, end: float) -> None:
        while self.now < end:
            if not await self._step():
                return

    async def run(self, aw: Awaitable[T], limit_s: float = 3600.0) -> T:
        """Await ``aw`` while time jumps from timer to timer; raises when it waits with no
        timer left (nothing could ever wake it) or past ``limit_s`` of virtual time."""
        task = asyncio.ensure_future(aw)
        end = self.now + limit_s
        try:
            while not task.done():
                if self.now > end:
                    raise TimeoutError(f"still waiting after {limit_s:g} virtual seconds")
                if not await self._step(task.done) and not task.done():
                    raise RuntimeError("waiting with no timer left: nothing can wake it")
        finally:
            task.cancel()
        return task.result()

    async def _step(self, stop: Callable[[], bool] | None = None) -> bool:
        """Let every runnable task reach its next wait, then fire the next timer (unless
        ``stop`` says the wait is over); False when there was none."""
        # A request's chain of awaits and done callbacks is a few dozen loop iterations at most.
        for _ in range(60):
            await asyncio.sleep(0)
        if stop is not None and stop():
            return True
        while self._timers and self._timers[0][2].done():
            heapq.heappop(self._timers)  # cancelled
        if not self._timers:
            return False
        at, _, fut = heapq.heappop(self._timers)
        self.now = max(self.now, at)
        fut.set_result(None)
        while self.together and self._timers and self._timers[0][0] <= at:
            _, _, due = heapq.heappop(self._timers)
            if not due.done():
                due.set_result(None)
        return True


BODY = orjson.dumps(
    {"model": "m", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 8}
)
REPLY = orjson.dumps(
    {
        "id": "x",
        "object": "chat.completion",
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
    }
)


class FakeTransport(MockTransport):
    """Each replica answers per its behaviour, in virtual time. ``hang`` never answers: the
    attempt ends at its first-byte timeout (plus, for a non-stream answer, the generation
    allowance), enforced by the transport's watchdog as in production."""

    def __init__(self, vt: VirtualTime, behaviour: dict[str, Behaviour]) -> None:
        super().__init__(self._answer, vt)
        self.vt = vt
        self.behaviour = behaviour

    async def _answer(self, req: MockRequest) -> Reply:
        kind, seconds = self.behaviour[req.replica.id]
        if kind == "hang":
            return await hang()
        await self.vt.sleep(seconds)
        if kind == "fail":
            raise UpstreamError(FailureKind.SERVER_ERROR, "500", status=500)
        return Reply(200, "application/json", REPLY)


@dataclass
class Run:
    """What one simulated run measured, counting requests started after the warm-up."""

    served: int = 0
    failed: int = 0
    latencies: list[float] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    first: Counter[str] = field(default_factory=Counter)
    breaker_open_at: float | None = None
    sent: Counter[str] = field(default_factory=Counter)

    def p90(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(0.9 * (len(ordered) - 1))]

    def share(self, rid: str) -> float:
        return self.attempts[rid] / sum(self.attempts.values())

    def first_share(self, rid: str) -> float:
        return self.first[rid] / sum(self.first.values())

    def summary(self) -> dict[str, Any]:
        return {
            "served": self.served,
            "failed": self.failed,
            "p90_ms": round(self.p90() * 1000, 1),
            "attempts_r0": self.attempts["r0"],
            "share_r0": round(self.share("r0"), 3),
            "first_share_r0": round(self.first_share("r0"), 3),
            "breaker_open_s": (
                None if self.breaker_open_at is None else round(self.breaker_open_at, 2)
            ),
        }


def simulate(
    r0: Behaviour,
    *,
    hedge: bool,
    seconds: float = 8.0,
    clients: int = 4,
    breaker: dict[str, Any] | None = None,
    seed: int = 1,
) -> Run:
    """Two replicas answering in 20 ms; after a 2 s warm-up, r0 behaves as ``r0`` for
    ``seconds``. ``clients`` closed-loop clients send requests through ``Router.handle``."""
    config = parse_config(
        {
            "health": {"enabled": False, "scrape_metrics": False},
            "analysis": {"analyzer": "heuristic"},
            "timeouts": {"first_byte_s": 1.0},
            "hedge": {"enabled": hedge},
            "breaker": breaker or {},
            "models": {
                "m": {
                    "replicas": [
                        {"url": "http://r0/v1", "id": "r0"},
                        {"url": "http://r1/v1", "id": "r1"},
                    ]
                }
            },
        }
    )

    async def main() -> Run:
        vt = VirtualTime()
        ids = ["r0", "r1"]
        normal = {rid: ("ok", 0.02) for rid in ids}
        transport = FakeTransport(vt, dict(normal))
        router = Router(config, clock=vt, rng=random.Random(seed), transport=transport)
        run = Run()
        start = vt.now + 2.0
        end = start + seconds
        stop = False
        opts = RequestOptions(task="simple")

        async def client() -> None:
            while not stop:
                t0 = vt.now
                resp = await router.handle(parse_request("chat", BODY), opts)
                d = resp.decision
                assert d is not None
                router.finish(d)
                if t0 < start:
                    continue
                if resp.status == 200:
                    run.served += 1
                    run.latencies.append(vt.now - t0)
                else:
                    run.failed += 1
                lead = d.attempts[0]
                if lead.outcome is CANCELLED and len(d.attempts) > 1:
                    lead = d.attempts[1]  # a hedge that lost to the primary is recorded first
                run.first[lead.replica] += 1
                for a in d.attempts:
                    run.attempts[a.replica] += 1

        async def watch_breaker() -> None:
            r = router.fleet.replicas[ids[0]]
            while not stop:
                if run.breaker_open_at is None and r.breaker.state is not BreakerState.CLOSED:
                    run.breaker_open_at = vt.now - start
                await vt.sleep(0.01)

        tasks = [asyncio.create_task(client()) for _ in range(clients)]
        tasks.append(asyncio.create_task(watch_breaker()))
        await vt.run_until(start)
        transport.sent.clear()
        transport.behaviour[ids[0]] = r0
        await vt.run_until(end)
        stop = True
        transport.behaviour[ids[0]] = normal[ids[0]]
        await vt.run_until(end + 5.0)
        await asyncio.gather(*tasks)
        await router.close()
        run.sent = transport.sent
        return run

    return asyncio.run(main())
