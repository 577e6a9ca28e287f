"""Fault injection through the real gateway: replicas switched at runtime to down, 503, 429,
slow, hang, garbage, cut stream, loading and reset. The router's clock is a fake one, so breaker
ejection and half-open timing are stepped by the test instead of slept through."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import pytest

from zeta_router.fleet.breaker import BreakerState
from zeta_router.router import Router
from zeta_router.routing.hedge import race
from zeta_router.testing import Harness
from zeta_router.testing.clock import ManualClock

from .conftest import BACKENDS, SECRET, fleet_template

REASONING = (
    "A train leaves at 3pm going 60 km/h and another at 4pm going 90 km/h. "
    "When does the second catch up? Think step by step and prove your answer."
)


class Fleet:
    """A harness whose router runs on a fake clock."""

    def __init__(self, h: Harness, clock: ManualClock) -> None:
        self.h = h
        self.clock = clock
        self.router = h.router

    def chat(
        self, *, stream: bool = False, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return httpx.post(
            self.h.base_url + "/chat/completions",
            json={"stream": stream, "messages": [{"role": "user", "content": REASONING}]},
            headers=headers,
            timeout=20,
        )

    def replica(self, rid: str) -> Any:
        return self.router.fleet.replicas[rid]

    def prefer(self, rid: str) -> None:
        """Make the balancer pick ``rid`` among brain's replicas. The frozen clock measures
        every latency as 0, so this is re-stated before each request that depends on it."""
        for r in self.router.fleet.models["brain"].replicas:
            r.latency.value = 0.0001 if r.id == rid else 1.0


MakeFleet = Callable[..., Fleet]


@pytest.fixture()
def make(monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeFleet]:
    monkeypatch.setenv("ZETA_TEST_BRAIN_KEY", SECRET)
    made: list[Harness] = []

    def build(*, real_clock: bool = False, **overrides: Any) -> Fleet:
        clock = ManualClock(5000.0)
        h = Harness(
            BACKENDS,
            fleet_template(**overrides),
            router_factory=Router if real_clock else lambda c: Router(c, clock=clock),
        )
        made.append(h)
        return Fleet(h, clock)

    yield build
    for h in made:
        h.close()


def served_by(r: httpx.Response) -> tuple[str, str]:
    assert r.status_code == 200, r.text
    return r.headers["x-zeta-model"], r.headers["x-zeta-replica"]


def sse_events(r: httpx.Response) -> list[str]:
    return [e for e in r.text.split("\n\n") if e.strip()]


# -- each fault: the client still gets an answer from the same model -------------------------


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"mode": "500"}, "5xx"),
        ({"mode": "garbage"}, "malformed body"),
        ({"mode": "reset"}, "connection reset"),
        ({"mode": "hang"}, "first byte timeout"),
        ({"delay_s": 1.0}, "first byte timeout"),
    ],
    ids=["500", "garbage", "reset", "hang", "slow"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_failing_replica_is_retried_on_the_other_replica(
    make: MakeFleet, fault: dict[str, Any], reason: str, stream: bool
) -> None:
    # generation_s: a non-stream answer may take that long on top of first_byte_s.
    timeouts = {"connect_s": 1.0, "first_byte_s": 0.3, "idle_s": 1.0, "total_s": 10.0}
    f = make(timeouts={**timeouts, "generation_s": 0.1})
    f.h.set("b1", **fault)
    f.prefer("brain-a")  # the faulty one is tried first
    r = f.chat(stream=stream)
    assert served_by(r) == ("brain", "brain-b")
    assert r.headers["x-zeta-attempts"] == "2"
    assert "x-zeta-fallback" not in r.headers
    if stream:
        assert sse_events(r)[-1] == "data: [DONE]"
    a = f.replica("brain-a")
    assert a.failures == 1
    assert a.breaker.last_reason.startswith(reason)
    f.h.backend("b1").release_hung()


def test_hung_replica_costs_one_timeout_per_request_then_is_ejected(make: MakeFleet) -> None:
    f = make(
        timeouts={"connect_s": 1.0, "first_byte_s": 0.2, "idle_s": 1.0, "total_s": 10.0},
        breaker={"consecutive_failures": 2},
    )
    f.h.set("b1", mode="hang")
    for _ in range(2):
        f.prefer("brain-a")
        r = f.chat()
        assert served_by(r) == ("brain", "brain-b")
        assert r.headers["x-zeta-attempts"] == "2", "one timeout on brain-a, then brain-b"
    assert f.replica("brain-a").breaker.state is BreakerState.OPEN
    hit = f.h.backend("b1").requests
    for _ in range(3):
        f.prefer("brain-a")
        r = f.chat()
        assert r.headers["x-zeta-attempts"] == "1"
    assert f.h.backend("b1").requests == hit, "ejected: no more requests wait on it"
    f.h.backend("b1").release_hung()


def test_503_and_429_retry_after_keeps_the_replica_out_until_it_passes(make: MakeFleet) -> None:
    f = make()
    for mode, wait in (("503", 4), ("429", 7)):
        f.h.heal("b1")
        f.h.set("b1", mode=mode, retry_after_s=wait)
        f.prefer("brain-a")
        before = f.h.backend("b1").requests
        r = f.chat()
        assert served_by(r) == ("brain", "brain-b")
        assert r.headers["x-zeta-attempts"] == "2"
        a = f.replica("brain-a")
        assert a.cooldown_until == pytest.approx(f.clock.now + wait)
        # While cooling down, nothing is sent to it, however cheap it looks.
        for _ in range(3):
            f.prefer("brain-a")
            assert served_by(f.chat())[1] == "brain-b"
        assert f.h.backend("b1").requests == before + 1
        f.h.heal("b1")
        f.clock.now += wait
        f.prefer("brain-a")
        assert served_by(f.chat())[1] == "brain-a", "back in rotation once Retry-After passed"


def test_loading_replica_steps_aside_and_others_serve(make: MakeFleet) -> None:
    f = make()
    f.h.set("b1", mode="loading")
    f.prefer("brain-a")
    r = f.chat()
    assert served_by(r) == ("brain", "brain-b")
    a = f.replica("brain-a")
    assert "model loading" in a.breaker.last_reason
    assert not a.available(f.clock.now)


def test_down_replica_retried_then_ejected_then_half_open_probe_brings_it_back(
    make: MakeFleet,
) -> None:
    f = make(breaker={"consecutive_failures": 2, "eject_base_s": 10.0, "eject_max_s": 60.0})
    f.h.down("b1")
    a = f.replica("brain-a")
    for _ in range(2):
        f.prefer("brain-a")
        r = f.chat()
        assert served_by(r) == ("brain", "brain-b")
        assert r.headers["x-zeta-attempts"] == "2"
    assert a.breaker.state is BreakerState.OPEN
    # Ejected: requests go straight to brain-b, one attempt each, however cheap brain-a looks.
    for _ in range(3):
        f.prefer("brain-a")
        assert f.chat().headers["x-zeta-attempts"] == "1"
    f.clock.now += 9.9
    f.prefer("brain-a")
    assert f.chat().headers["x-zeta-attempts"] == "1"
    # Past the ejection: one half-open probe; still down, so it is ejected for twice as long.
    f.clock.now += 0.2
    f.prefer("brain-a")
    r = f.chat()
    assert r.headers["x-zeta-attempts"] == "2"
    assert a.breaker.state is BreakerState.OPEN
    assert a.breaker.open_until == pytest.approx(f.clock.now + 20.0)
    f.h.up("b1")
    f.clock.now += 20.0
    f.prefer("brain-a")
    assert served_by(f.chat()) == ("brain", "brain-a")
    assert a.breaker.state is BreakerState.CLOSED
    assert a.ready_since == f.clock.now, "re-enters with the balancer's slow start"


def test_all_replicas_of_preferred_model_down_falls_back_and_says_why(make: MakeFleet) -> None:
    f = make(breaker={"consecutive_failures": 1})
    f.h.down("b1")
    f.h.down("b2")
    r = f.chat()
    assert served_by(r)[0] == "coder"
    assert r.headers["x-zeta-attempts"] == "3"
    assert r.headers["x-zeta-fallback"].startswith("brain->coder (brain: connect failed")
    # Both brain circuits are open now: the fallback costs no attempt on brain at all.
    r = f.chat()
    assert served_by(r)[0] == "coder"
    assert r.headers["x-zeta-attempts"] == "1"
    assert r.headers["x-zeta-fallback"] == "brain->coder (brain: circuit open)"
    # And the whole chain: coder goes too, the small generalist is the one that is always there.
    f.h.down("c1")
    r = f.chat()
    assert served_by(r)[0] == "small"
    assert r.headers["x-zeta-fallback"].startswith("brain->small (brain: circuit open; coder: ")


def test_nothing_can_serve_503_retry_after_is_time_to_next_half_open(make: MakeFleet) -> None:
    f = make(breaker={"consecutive_failures": 1, "eject_base_s": 30.0})
    for n in ("b1", "b2", "c1", "s1"):
        f.h.down(n)
    r = f.chat()
    assert r.status_code == 503
    f.clock.now += 12.0
    r = f.chat()
    assert r.status_code == 503
    assert r.headers["retry-after"] == "18"
    err = r.json()["error"]
    assert err["code"] == "no_capacity"
    assert err["zeta"]["attempts"] == 0, "open circuits are not even tried"
    tried = {t["model"]: t["reason"] for t in err["zeta"]["tried"]}
    assert tried == {"brain": "circuit open", "coder": "circuit open", "small": "circuit open"}


def test_stream_cut_after_first_byte_is_never_retried_and_is_counted(make: MakeFleet) -> None:
    f = make()
    f.h.set("b1", mode="cut", cut_after=3)
    f.prefer("brain-a")
    before_b2 = f.h.backend("b2").requests
    r = f.chat(stream=True)
    assert r.headers["x-zeta-replica"] == "brain-a"
    assert r.headers["x-zeta-attempts"] == "1"
    events = sse_events(r)
    assert len(events) == 4, "three chunks, then the error event"
    assert '"code":"stream_interrupted"' in events[-1]
    assert f.h.backend("b2").requests == before_b2, "no second answer spliced into the stream"
    f.h.thread.call(f.router.telemetry.flush)
    assert sum(f.router.telemetry.stats.stream_errors.values()) == 1
    assert f.replica("brain-a").failures == 1


def test_retry_budget_stops_a_retry_storm(make: MakeFleet) -> None:
    f = make(
        retry={"budget_ratio": 0.0, "budget_min_per_s": 0.0, "backoff_base_s": 0.0},
        breaker={"consecutive_failures": 1000, "min_samples": 1000},
    )
    # Resets: a replica's fault on every reply (two alike 500s would be the request's).
    for n in ("b1", "b2", "c1", "s1"):
        f.h.set(n, mode="reset")
    statuses = []
    for _ in range(6):
        r = f.chat()
        statuses.append((r.status_code, int(r.headers["x-zeta-attempts"])))
    # The bucket starts with 10 retries and, on a frozen clock with ratio 0, never refills.
    assert sum(a - 1 for _, a in statuses) == 10
    assert {s for s, _ in statuses} == {503}
    last = f.chat()
    assert last.headers["x-zeta-attempts"] == "1"
    assert "retry budget exhausted" in last.json()["error"]["message"]


def test_deadline_header_bounds_all_attempts(make: MakeFleet) -> None:
    # The one test on the real clock: the deadline is wall time by definition.
    f = make(real_clock=True)
    for n in ("b1", "b2", "c1", "s1"):
        f.h.set(n, mode="hang")
    r = f.chat(headers={"x-zeta-timeout-ms": "300"})
    for n in ("b1", "b2", "c1", "s1"):
        f.h.backend(n).release_hung()
    assert r.status_code == 504
    err = r.json()["error"]
    assert err["code"] == "deadline_exceeded"
    assert "brain: first byte timeout" in err["message"]
    # The first attempt's first-byte wait was cut to the deadline: no second attempt fit.
    assert r.headers["x-zeta-attempts"] == "1"


def test_openai_sdk_sees_a_fallback_as_a_normal_answer(make: MakeFleet) -> None:
    f = make()
    f.h.set("b1", mode="503")
    f.h.set("b2", mode="429")
    c = openai.OpenAI(base_url=f.h.base_url, api_key="x", max_retries=0, timeout=20)
    raw = c.chat.completions.with_raw_response.create(
        model="brain", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().model == "coder"
    assert raw.headers["x-zeta-fallback"].startswith("brain->coder (brain: ")


# -- hedging -------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_hedge_to_another_replica_when_first_byte_is_overdue(make: MakeFleet, stream: bool) -> None:
    # A real clock: the primary's growing wait is what makes the peer the faster one.
    f = make(
        real_clock=True,
        hedge={"enabled": True, "quantile": 0.95, "min_delay_s": 0.02},
        timeouts={
            "connect_s": 1.0,
            "first_byte_s": 0.5,
            "idle_s": 1.0,
            "total_s": 10.0,
            "generation_s": 0.1,  # what a non-stream answer may take on top of first_byte_s
        },
    )
    a, b = f.replica("brain-a"), f.replica("brain-b")
    for _ in range(10):
        a.ttfb_samples.append(0.01)
    # Equal estimates: the balancer takes the first, brain-a, which now hangs.
    a.latency.value = b.latency.value = 0.01
    f.h.set("b1", mode="hang")
    before = f.h.backend("b1").requests
    r = f.chat(stream=stream)
    assert served_by(r) == ("brain", "brain-b")
    if stream:
        assert sse_events(r)[-1] == "data: [DONE]"
    assert r.headers["x-zeta-attempts"] == "2"
    assert f.h.backend("b1").requests == before + 1
    # The loser was not cancelled: it waits out its own first-byte timeout, so the hung
    # replica gets the same verdict as without hedging.
    assert a.in_flight == 1 and a.failures == 0
    for _ in range(200):
        if a.failures:
            break
        f.h.thread.run(asyncio.sleep(0.01))
    assert a.failures == 1 and a.in_flight == 0 and not a.pending
    assert a.breaker.last_reason == "first byte timeout"
    f.h.backend("b1").release_hung()


def test_no_hedge_without_ttfb_history_or_when_disabled(make: MakeFleet) -> None:
    f = make(
        hedge={"enabled": True, "min_delay_s": 0.02},
        timeouts={"connect_s": 1.0, "first_byte_s": 0.3, "idle_s": 1.0, "total_s": 10.0},
    )
    f.h.set("b1", mode="hang")
    f.prefer("brain-a")
    r = f.chat()
    # Without samples there is no p95: the request waits out the first-byte timeout instead.
    assert served_by(r) == ("brain", "brain-b")
    assert f.replica("brain-a").breaker.last_reason == "first byte timeout"
    f.h.backend("b1").release_hung()


class Gate:
    """A controllable attempt: finishes with ``value`` when released."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.started = False
        self.cancelled = False
        self._go = asyncio.Event()

    async def run(self) -> str:
        self.started = True
        try:
            await self._go.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return self.value

    def release(self) -> None:
        self._go.set()


class ManualSleep:
    def __init__(self) -> None:
        self.asked: list[float] = []
        self._go = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        await self._go.wait()

    def fire(self) -> None:
        self._go.set()


async def _until(cond: Callable[[], bool]) -> None:
    for _ in range(100):
        if cond():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


async def test_race_fast_primary_never_starts_a_hedge() -> None:
    primary, sleep = Gate("a"), ManualSleep()
    primary.release()
    out = await race(
        primary.run(), 0.5, lambda: pytest.fail("no hedge"), won=_ok, discard=_no, sleep=sleep
    )
    assert (out.result, out.hedged) == ("a", False)
    assert sleep.asked == [0.5]


async def test_race_hedge_wins_and_the_primary_is_cancelled() -> None:
    primary, hedge, sleep = Gate("a"), Gate("b"), ManualSleep()
    discarded: list[str] = []
    task = asyncio.ensure_future(
        race(primary.run(), 0.5, hedge.run, won=_ok, discard=discarded.append, sleep=sleep)
    )
    await _until(lambda: primary.started)
    assert not hedge.started, "no hedge before the delay"
    sleep.fire()
    await _until(lambda: hedge.started)
    hedge.release()
    out = await task
    assert (out.result, out.hedged, out.winner_is_hedge) == ("b", True, True)
    assert primary.cancelled
    assert discarded == []


async def test_race_failed_primary_waits_for_the_hedge_and_late_success_is_discarded() -> None:
    primary, hedge, sleep = Gate("fail"), Gate("b"), ManualSleep()
    discarded: list[str] = []
    task = asyncio.ensure_future(
        race(primary.run(), 0.5, hedge.run, won=_ok, discard=discarded.append, sleep=sleep)
    )
    await _until(lambda: primary.started)
    sleep.fire()
    await _until(lambda: hedge.started)
    primary.release()  # the primary fails: keep waiting for the hedge
    await _until(lambda: primary.value == "fail" and not task.done())
    hedge.release()
    out = await task
    assert (out.result, out.winner_is_hedge) == ("b", True)
    assert discarded == []

    # Both succeed in the same tick: the primary is preferred, the hedge's answer discarded.
    primary, hedge, sleep = Gate("a"), Gate("b"), ManualSleep()
    task = asyncio.ensure_future(
        race(primary.run(), 0.5, hedge.run, won=_ok, discard=discarded.append, sleep=sleep)
    )
    await _until(lambda: primary.started)
    sleep.fire()
    await _until(lambda: hedge.started)
    primary.release()
    hedge.release()
    out = await task
    assert out.result == "a"
    assert discarded == ["b"]


async def test_race_both_fail_returns_the_primary_failure_and_no_hedge_when_none_offered() -> None:
    primary, hedge, sleep = Gate("fail-a"), Gate("fail-b"), ManualSleep()
    task = asyncio.ensure_future(
        race(primary.run(), 0.5, hedge.run, won=_ok, discard=_no, sleep=sleep)
    )
    await _until(lambda: primary.started)
    sleep.fire()
    await _until(lambda: hedge.started)
    hedge.release()
    primary.release()
    out = await task
    assert (out.result, out.hedged) == ("fail-a", True)

    primary, sleep = Gate("a"), ManualSleep()
    task = asyncio.ensure_future(
        race(primary.run(), 0.5, lambda: None, won=_ok, discard=_no, sleep=sleep)
    )
    await _until(lambda: primary.started)
    sleep.fire()
    await asyncio.sleep(0)
    primary.release()
    out = await task
    assert (out.result, out.hedged) == ("a", False)


async def test_race_cancelled_by_the_client_cancels_both() -> None:
    primary, hedge, sleep = Gate("a"), Gate("b"), ManualSleep()
    task = asyncio.ensure_future(
        race(primary.run(), 0.5, hedge.run, won=_ok, discard=_no, sleep=sleep)
    )
    await _until(lambda: primary.started)
    sleep.fire()
    await _until(lambda: hedge.started)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert primary.cancelled and hedge.cancelled


def _ok(value: str) -> bool:
    return not value.startswith("fail")


def _no(value: str) -> None:
    raise AssertionError(f"nothing should be discarded, got {value!r}")
