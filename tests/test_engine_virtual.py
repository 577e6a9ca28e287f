"""Routing, retry, spill-over, queueing and hedging through the real router, with no socket: an
in-memory transport answers on the virtual clock, which is also the clock of every deadline,
back-off and I/O timeout. Timings are therefore exact, and each test takes milliseconds."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
import pytest

from zeta_router.config import parse_config
from zeta_router.errors import FailureKind, UpstreamError
from zeta_router.fleet.breaker import BreakerState
from zeta_router.fleet.outcome import Outcome
from zeta_router.fleet.state import ReplicaState
from zeta_router.http.protocol import parse_request
from zeta_router.http.response import Response
from zeta_router.ops.reload import reload
from zeta_router.router import RequestOptions, Router
from zeta_router.testing.mock_transport import (
    MockRequest,
    MockStream,
    MockTransport,
    chat_chunks,
    chat_reply,
    hang,
)
from zeta_router.testing.virtual import VirtualTime
from zeta_router.upstream.dispatch import release
from zeta_router.upstream.transport import Reply

Answer = Callable[[MockRequest], Awaitable[Reply | MockStream]]


def config(**over: Any) -> dict[str, Any]:
    return {
        "health": {"enabled": False, "scrape_metrics": False},
        "analysis": {"analyzer": "heuristic"},
        "timeouts": {"first_byte_s": 1.0, "generation_s": 0.5, "total_s": 30.0},
        "models": {
            "brain": {
                "replicas": [{"url": "http://a/v1", "id": "a"}, {"url": "http://b/v1", "id": "b"}]
            },
            "coder": {"replicas": [{"url": "http://c/v1", "id": "c"}]},
        },
        "routes": {"reasoning": ["brain", "coder"]},
        **over,
    }


class Setup:
    def __init__(
        self, answers: dict[str, Answer], *, vt: VirtualTime | None = None, **over: Any
    ) -> None:
        self.vt = vt or VirtualTime()
        self.answers = answers
        self.transport = MockTransport(self._answer, self.vt)
        self.router = Router(
            parse_config(config(**over)),
            clock=self.vt,
            transport=self.transport,
            rng=random.Random(7),
        )

    async def _answer(self, req: MockRequest) -> Reply | MockStream:
        return await self.answers[req.replica.id](req)

    def prefer(self, rid: str) -> None:
        """Make the balancer pick ``rid`` first among its model's replicas."""
        for r in self.router.fleet.replicas.values():
            r.latency.value = 0.0001 if r.id == rid else 1.0

    async def ask(self, *, stream: bool = False, pinned: str = "auto", **opts: Any) -> Response:
        return await self.vt.run(self.handle(stream=stream, pinned=pinned, **opts))

    async def handle(self, *, stream: bool = False, pinned: str = "auto", **opts: Any) -> Response:
        body = orjson.dumps(
            {
                "model": pinned,
                "stream": stream,
                "max_tokens": 8,
                "messages": [{"role": "user", "content": "think hard"}],
            }
        )
        req = parse_request("chat", body)
        return await self.router.handle(req, RequestOptions(task="reasoning", **opts))

    def spy_on_picks(
        self, also: Callable[[list[ReplicaState]], None] | None = None
    ) -> list[dict[str, int]]:
        """Record, at each pick of the balancing strategy (primary or hedge), the in-flight
        count of every candidate; ``also`` is called with the candidates too."""
        views: list[dict[str, int]] = []
        strategy = self.router.engine.strategy
        pick = strategy.pick

        def spy(replicas: Sequence[ReplicaState], now: float) -> ReplicaState:
            views.append({r.id: r.in_flight for r in replicas})
            if also is not None:
                also(list(replicas))
            return pick(replicas, now)

        strategy.pick = spy  # type: ignore[method-assign]
        return views


def ok(after_s: float, vt: VirtualTime) -> Answer:
    async def answer(req: MockRequest) -> Reply:
        await vt.sleep(after_s)
        return chat_reply("hi", model=req.replica.upstream_model)

    return answer


def fail(kind: FailureKind, status: int, **kw: Any) -> Answer:
    async def answer(req: MockRequest) -> Reply:
        raise UpstreamError(kind, f"HTTP {status}", status, **kw)

    return answer


async def hung(req: MockRequest) -> Reply:
    return await hang()


def headers(resp: Response) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in resp.headers}


def outcomes(resp: Response) -> list[tuple[str, str]]:
    assert resp.decision is not None
    return [(a.replica, a.outcome.text) for a in resp.decision.attempts]


async def test_the_preferred_model_serves_with_no_socket() -> None:
    s = Setup({})
    s.answers = {rid: ok(0.02, s.vt) for rid in "abc"}
    s.prefer("a")
    t0 = s.vt.now
    resp = await s.ask()
    h = headers(resp)
    assert (resp.status, h["x-zeta-model"], h["x-zeta-replica"]) == (200, "brain", "a")
    assert h["x-zeta-route"] == "route reasoning, 1st choice"
    assert s.vt.now - t0 == pytest.approx(0.02)
    assert s.transport.sent == {"a": 1}
    assert s.router.fleet.replicas["a"].in_flight == 0


async def test_a_500_is_retried_on_the_other_replica() -> None:
    s = Setup({})
    s.answers = {"a": fail(FailureKind.SERVER_ERROR, 500), "b": ok(0.02, s.vt), "c": ok(0.02, s.vt)}
    s.prefer("a")
    resp = await s.ask()
    assert (resp.status, headers(resp)["x-zeta-replica"]) == (200, "b")
    assert outcomes(resp) == [("a", "5xx: HTTP 500"), ("b", "ok")]


async def test_a_hung_replica_costs_exactly_its_first_byte_timeout_on_the_one_clock() -> None:
    s = Setup({})
    s.answers = {"a": hung, "b": ok(0.02, s.vt), "c": ok(0.02, s.vt)}
    s.prefer("a")
    t0 = s.vt.now
    resp = await s.ask()
    assert (resp.status, headers(resp)["x-zeta-replica"]) == (200, "b")
    # first_byte_s plus the non-stream generation allowance (8 tokens at the default 0.05 s a
    # token, three times over, capped by generation_s = 0.5), then b's 20 ms.
    assert s.vt.now - t0 == pytest.approx(1.0 + 0.5 + 0.02)
    assert outcomes(resp)[0] == ("a", "first byte timeout")


async def test_every_model_failing_gives_a_503_naming_each() -> None:
    s = Setup({})

    async def refused(req: MockRequest) -> Reply:
        raise UpstreamError(FailureKind.CONNECT, "ConnectionRefusedError")

    s.answers = {"a": refused, "b": refused, "c": refused}
    resp = await s.ask()
    assert resp.status == 503
    assert b"brain: connect failed" in resp.body and b"coder: connect failed" in resp.body
    assert sorted(rid for rid, _ in outcomes(resp)) == ["a", "b", "c"]


async def test_transient_failures_get_one_more_pass_after_the_retry_after() -> None:
    s = Setup({}, retry={"max_attempts": 6})
    calls: dict[str, int] = {}

    def first_busy(rid: str) -> Answer:
        async def answer(req: MockRequest) -> Reply:
            calls[rid] = calls.get(rid, 0) + 1
            if calls[rid] == 1:
                raise UpstreamError(FailureKind.RATE_LIMITED, "HTTP 429", 429, retry_after_s=0.8)
            return chat_reply()

        return answer

    s.answers = {rid: first_busy(rid) for rid in "abc"}
    t0 = s.vt.now
    resp = await s.ask()
    assert resp.status == 200
    assert headers(resp)["x-zeta-route"].endswith("after back-off")
    assert s.vt.now - t0 == pytest.approx(0.8), "the back-off is the Retry-After, in clock time"


async def test_a_saturated_model_spills_to_the_next_capable_one() -> None:
    s = Setup({})
    s.answers = {rid: ok(0.02, s.vt) for rid in "abc"}
    for rid in "ab":
        r = s.router.fleet.replicas[rid]
        r.max_concurrency, r.in_flight = 1, 1
    resp = await s.ask()
    h = headers(resp)
    assert (resp.status, h["x-zeta-model"]) == (200, "coder")
    assert h["x-zeta-route"].startswith("spill: brain saturated (2/2 in flight)")


async def test_a_pinned_saturated_model_queues_until_a_slot_frees() -> None:
    s = Setup({})
    s.answers = {rid: ok(0.02, s.vt) for rid in "abc"}
    a, b = s.router.fleet.replicas["a"], s.router.fleet.replicas["b"]
    for r in (a, b):
        r.max_concurrency, r.in_flight = 1, 1

    async def free_later() -> None:
        await s.vt.sleep(0.5)
        release(s.router.engine, a)

    freer = asyncio.ensure_future(free_later())
    t0 = s.vt.now
    resp = await s.ask(pinned="brain")
    await freer
    assert (resp.status, headers(resp)["x-zeta-replica"]) == (200, "a")
    assert resp.decision is not None
    assert resp.decision.queued_s == pytest.approx(0.5)
    assert s.vt.now - t0 == pytest.approx(0.52)


async def test_a_full_queue_past_the_deadline_is_a_429() -> None:
    s = Setup({})
    s.answers = {rid: ok(0.02, s.vt) for rid in "abc"}
    for r in (s.router.fleet.replicas["a"], s.router.fleet.replicas["b"]):
        r.max_concurrency, r.in_flight = 1, 1
    t0 = s.vt.now
    resp = await s.ask(pinned="brain", timeout_s=2.0)
    assert resp.status == 429
    assert s.vt.now - t0 <= 2.0


async def test_an_overdue_primary_is_hedged_and_the_hedge_answers() -> None:
    s = Setup({}, hedge={"enabled": True, "quantile": 0.9, "min_delay_s": 0.05})
    s.answers = {"a": hung, "b": ok(0.02, s.vt), "c": ok(0.02, s.vt)}
    a = s.router.fleet.replicas["a"]
    for _ in range(16):
        a.observe_ttfb(0.02, s.vt.now)  # enough samples: "overdue" means past 50 ms
    # b is expected to answer in 30 ms: once a's wait passes that, b is the faster bet.
    s.router.fleet.replicas["b"].latency.value = 0.03
    t0 = s.vt.now
    resp = await s.ask()
    assert (resp.status, headers(resp)["x-zeta-replica"]) == (200, "b")
    assert s.vt.now - t0 == pytest.approx(0.05 + 0.02)
    assert outcomes(resp) == [("a", "cancelled: lost the hedge race"), ("b", "ok")]
    # The primary runs on to its own verdict (a first-byte timeout), owned by the router.
    assert len(s.router.state.lost) == 1
    await s.vt.run_until(s.vt.now + 5.0)
    assert not s.router.state.lost
    assert a.failures == 1
    await s.router.close()


async def test_a_stream_is_relayed_and_its_break_ends_with_an_error_event() -> None:
    s = Setup({})
    words = ["one ", "two"]

    async def streams(req: MockRequest) -> MockStream:
        blocks = chat_chunks(words, model=req.replica.upstream_model)
        if req.replica.id == "a":
            err = UpstreamError(FailureKind.IDLE_TIMEOUT)
            return MockStream(blocks[:1], s.vt, gap_s=0.1, error=err)
        return MockStream(blocks, s.vt, gap_s=0.1)

    s.answers = {rid: streams for rid in "abc"}
    s.prefer("b")
    resp = await s.ask(stream=True)
    assert resp.stream is not None

    async def body(r: Response) -> bytes:
        assert r.stream is not None
        return b"".join([chunk async for chunk in r.stream])

    whole = await s.vt.run(body(resp))
    assert b'"content":"one "' in whole and whole.endswith(b"data: [DONE]\n\n")
    s.prefer("a")
    broken = await s.vt.run(body(await s.ask(stream=True)))
    assert b"stream_interrupted" in broken
    assert s.router.fleet.replicas["a"].in_flight == 0


async def test_subscribers_see_each_outcome_and_breaker_transition_across_reloads() -> None:
    s = Setup({}, breaker={"consecutive_failures": 2})

    async def refused(req: MockRequest) -> Reply:
        raise UpstreamError(FailureKind.CONNECT, "ConnectionRefusedError")

    s.answers = {"a": refused, "b": ok(0.02, s.vt), "c": ok(0.02, s.vt), "d": ok(0.02, s.vt)}
    seen: list[tuple[str, str, str, str]] = []

    def subscriber(rid: str, outcome: Outcome, before: BreakerState, after: BreakerState) -> None:
        seen.append((rid, type(outcome).__name__, before.value, after.value))

    s.router.fleet.subscribe(subscriber)
    for _ in range(2):
        s.prefer("a")
        assert (await s.ask()).status == 200
    assert [n for rid, n, _, _ in seen if rid == "b"][:3] == ["Sent", "Released", "Served"]
    assert ("a", "Failed", "closed", "open") in seen
    s.router.telemetry.flush()
    assert s.router.telemetry.stats.breaker_transitions[("a", "open")] == 1
    # A replica a reload adds tells the same subscribers.
    grown = config()
    grown["models"]["coder"]["replicas"].append({"url": "http://d/v1", "id": "d"})
    reload(s.router, parse_config(grown))
    await s.ask(pinned="coder")
    assert any(rid in ("c", "d") and n == "Served" for rid, n, _, _ in seen)
    d = s.router.fleet.replicas["d"]
    assert d.subscribers is s.router.fleet.subscribers


HEDGE = {"enabled": True, "quantile": 0.9, "min_delay_s": 0.05}


def overdue_after_50ms(r: ReplicaState, now: float) -> None:
    """Enough time-to-first-byte samples that ``r`` is hedged once 50 ms pass unanswered."""
    for _ in range(16):
        r.observe_ttfb(0.02, now)


async def test_a_hedge_counts_in_flight_from_its_pick_so_the_next_hedge_goes_elsewhere() -> None:
    # Two requests whose primaries (a and b) hang, and whose hedge timers fire in one loop
    # iteration, as asyncio's do when due together: the second hedge is picked before the
    # first one's task has run. c and d are healthy; least-request picks the idlest.
    four = [{"url": f"http://{rid}/v1", "id": rid} for rid in "abcd"]
    s = Setup(
        {},
        vt=VirtualTime(together=True),
        hedge=HEDGE,
        balancer={"strategy": "least-request"},
        models={
            "brain": {"replicas": four},
            "coder": {"replicas": [{"url": "http://e/v1", "id": "e"}]},
        },
    )
    s.answers = {"a": hung, "b": hung, **{rid: ok(0.02, s.vt) for rid in "cde"}}
    fleet = s.router.fleet.replicas
    for rid, latency in (("a", 0.01), ("b", 0.015), ("c", 0.03), ("d", 0.035)):
        overdue_after_50ms(fleet[rid], s.vt.now)
        fleet[rid].latency.value = latency
    views = s.spy_on_picks()
    first, second = await s.vt.run(asyncio.gather(s.handle(), s.handle()))
    # The primaries are picked in one loop iteration too: the second sees the first.
    assert views[:2] == [dict.fromkeys("abcd", 0), {"a": 1, "b": 0, "c": 0, "d": 0}], views
    # The first hedge went to c (idle, faster); the second pick already sees it in flight.
    assert views[2:] == [{"c": 0, "d": 0}, {"c": 1, "d": 0}], views
    assert sorted(headers(r)["x-zeta-replica"] for r in (first, second)) == ["c", "d"]
    assert s.transport.sent == {"a": 1, "b": 1, "c": 1, "d": 1}
    # The lost primaries run on to their own timeouts; then nothing is left in flight.
    await s.vt.run_until(s.vt.now + 5.0)
    assert {rid: r.in_flight for rid, r in fleet.items()} == dict.fromkeys(fleet, 0)
    await s.router.close()


async def test_a_hedge_cancelled_before_its_task_ran_is_given_back_exactly_once() -> None:
    s = Setup({}, hedge=HEDGE)
    s.answers = {"a": hung, "b": ok(0.02, s.vt), "c": ok(0.02, s.vt)}
    fleet = s.router.fleet.replicas
    overdue_after_50ms(fleet["a"], s.vt.now)
    fleet["b"].latency.value = 0.03  # the faster bet once a's wait passes 30 ms
    recorded: Counter[tuple[str, str]] = Counter()
    s.router.fleet.subscribe(
        lambda rid, outcome, before, after: recorded.update([(rid, type(outcome).__name__)])
    )
    shared: Counter[tuple[str, str]] = Counter()
    engine = s.router.engine
    engine.shared.started = lambda r: shared.update([(r.id, "started")])  # type: ignore[method-assign]
    engine.shared.released = lambda r: shared.update([(r.id, "released")])  # type: ignore[method-assign]
    at_pick: dict[str, int] = {}

    def tear_down_before_the_hedge_runs(candidates: list[ReplicaState]) -> None:
        if [r.id for r in candidates] != ["b"]:
            return  # the primary's pick
        request = asyncio.current_task()
        assert request is not None
        existing = asyncio.all_tasks()

        def client_leaves() -> None:
            # After the hedge was picked and its task made, before that task's first step:
            # the client leaves and the hedge is cancelled before it ever ran.
            at_pick.update({rid: r.in_flight for rid, r in fleet.items()})
            for task in asyncio.all_tasks() - existing:
                task.cancel()
            request.cancel()

        asyncio.get_running_loop().call_soon(client_leaves)

    s.spy_on_picks(tear_down_before_the_hedge_runs)
    with pytest.raises(asyncio.CancelledError):
        await s.ask()
    assert s.transport.sent == {"a": 1}  # the hedge never reached the wire
    assert at_pick == {"a": 1, "b": 1, "c": 0}  # ... but it counted from its pick on
    assert {rid: r.in_flight for rid, r in fleet.items()} == {"a": 0, "b": 0, "c": 0}
    assert not any(r.pending for r in fleet.values())
    for rid in "ab":
        assert recorded[(rid, "Sent")] == recorded[(rid, "Released")] == 1, recorded
        assert recorded[(rid, "GivenUp")] == 1, recorded
        assert shared[(rid, "started")] == shared[(rid, "released")] == 1, shared
    await s.router.close()
