"""Honest load signals: what a cancelled attempt, a failure and silence tell the balancer, and
where hedges may go. Socket-free and deterministic: hand-set replica state, explicit times, and
a virtual-time simulation of the whole router (its real retry, hedge and balancer code) in front
of a fake transport. Two tests then check the same over real sockets: the fake fleet, the
gateway and the openai SDK."""

from __future__ import annotations

import asyncio
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest

from zeta_router.config import parse_config
from zeta_router.errors import FailureKind, UpstreamError
from zeta_router.fleet.breaker import BreakerState
from zeta_router.fleet.state import Fleet, ReplicaState
from zeta_router.routing.balancer import P2CEwma, load_cost
from zeta_router.routing.hedge import LATER, hedge_candidates, race
from zeta_router.testing import Harness
from zeta_router.testing.virtual import BREAKER_OFF, Run, simulate

NOW = 1000.0
TAU = 10.0  # balancer.ewma_decay_s


def replicas(n: int = 2, **config: Any) -> list[ReplicaState]:
    reps = [{"url": f"http://127.0.0.1:{9000 + i}/v1", "id": f"r{i}"} for i in range(n)]
    cfg = parse_config({"models": {"m": {"replicas": reps}}, **config})
    return list(Fleet(cfg).models["m"].replicas)


def answered(r: ReplicaState, seconds: float, at: float, n: int = 1) -> None:
    for _ in range(n):
        r.on_success(at, seconds)


# -- what one attempt tells the estimate -------------------------------------------------------


def test_a_cancelled_attempt_counts_as_a_lower_bound() -> None:
    (r,) = replicas(1)
    answered(r, 0.02, NOW)
    r.on_given_up(0.3, NOW + 1)  # a hedge won after 300 ms, or the client left
    assert r.latency.decayed(NOW + 1) == pytest.approx(0.3)
    # A bound below the estimate says nothing new.
    r.on_given_up(0.1, NOW + 1)
    assert r.latency.decayed(NOW + 1) == pytest.approx(0.3)
    assert r.breaker.state is BreakerState.CLOSED and r.failures == 0


def test_failures_raise_the_estimate_so_failing_fast_never_looks_fast() -> None:
    (r,) = replicas(1)
    answered(r, 0.02, NOW)
    err = UpstreamError(FailureKind.SERVER_ERROR, "500", status=500)
    for i, expected in enumerate((0.04, 0.08, 0.16)):
        r.on_failure(err, NOW + i * 0.001, 0.001)  # a 500 in one millisecond
        assert r.latency.value == pytest.approx(expected, rel=0.01)
    # A slow failure counts at least as long as it took.
    r.on_failure(UpstreamError(FailureKind.FIRST_BYTE_TIMEOUT), NOW + 1, 2.0)
    assert r.latency.value == pytest.approx(2.0)
    # The request's own fault (a 400) is no penalty.
    (q,) = replicas(1)
    answered(q, 0.02, NOW)
    q.on_failure(UpstreamError(FailureKind.CLIENT_ERROR, status=400), NOW, 0.001)
    assert q.latency.value == pytest.approx(0.02)


def test_a_silent_replica_looks_slower_by_the_second() -> None:
    (r,) = replicas(1)
    answered(r, 0.02, NOW)
    token = r.begin_wait(NOW)
    assert r.expected_latency(NOW + 0.01) == pytest.approx(0.02, rel=0.01)
    assert r.expected_latency(NOW + 1.5) == pytest.approx(1.5)
    r.end_wait(token)
    assert r.expected_latency(NOW + 1.5) < 0.02


def test_silence_decays_towards_the_typical_latency_not_towards_fast() -> None:
    fast, slow = replicas(2)
    answered(fast, 0.02, NOW, n=20)
    answered(slow, 0.2, NOW)  # slow once, then avoided
    p2c = P2CEwma(random.Random(0), outlier_ratio=5.0)
    assert p2c.prior([fast, slow], NOW) == pytest.approx(0.02)
    later = NOW + 10 * TAU
    fast.on_success(later, 0.02)
    # Long silent, the slow replica is "unknown": as good as the model's typical replica, and
    # never better. Decayed towards zero (prior 0) it would look ten thousand times faster.
    assert slow.expected_latency(later, 0.02) == pytest.approx(0.02, rel=1e-3)
    assert slow.expected_latency(later, 0.02) >= fast.expected_latency(later, 0.02)
    assert slow.expected_latency(later, 0.0) < 0.0001
    assert load_cost(slow, later, 0.0, prior=0.02) >= load_cost(fast, later, 0.0, prior=0.02)
    assert {p2c.pick([fast, slow], later).id for _ in range(20)} == {"r0"}
    # With the fast replica busy, the unknown one gets a trial request, as it should.
    fast.in_flight = 2
    assert p2c.pick([fast, slow], later) is slow


def test_a_replica_back_from_being_avoided_gets_one_request_until_it_answers() -> None:
    fast, slow = replicas(2)
    answered(fast, 0.02, NOW, n=20)
    answered(slow, 0.2, NOW, n=20)
    later = NOW + 8.0  # slow's estimate decayed to about 0.11 s, but it is stale
    # A stall of the shared machine: one 150 ms answer lifts fast's peak-sensitive estimate.
    answered(fast, 0.15, later)
    fast.in_flight = 3
    p2c = P2CEwma(random.Random(0), outlier_ratio=5.0)
    assert p2c.pick([fast, slow], later) is slow  # a trial, as it should
    slow.begin_wait(later)
    slow.in_flight = 1
    # Its trial is out: no burst on a decayed estimate while the answer is pending.
    assert slow.probing(later + 0.01)
    assert {p2c.pick([fast, slow], later + 0.01).id for _ in range(20)} == {"r0"}
    # Alone, it still serves.
    assert p2c.pick([slow], later + 0.01) is slow


def test_a_restarted_replica_is_unknown_again() -> None:
    fast, crashed = replicas(2)
    answered(fast, 0.02, NOW, n=20)
    err = UpstreamError(FailureKind.RESET, "server closed the connection")
    for i in range(4):
        crashed.on_failure(err, NOW + i * 0.001, 0.001)
    assert crashed.expected_latency(NOW + 1, 0.02) > 0.1  # shunned as an outlier
    crashed.latency.forget()  # its process was restarted
    assert crashed.expected_latency(NOW + 1, 0.02) == pytest.approx(0.02)
    answered(crashed, 0.03, NOW + 2)
    assert crashed.expected_latency(NOW + 2, 0.02) == pytest.approx(0.03)


# -- where a hedge may go ---------------------------------------------------------------------


def test_hedges_go_only_to_a_replica_expected_to_answer_sooner() -> None:
    fast, slow = replicas(2)
    answered(fast, 0.02, NOW, n=20)
    answered(slow, 0.2, NOW, n=20)
    # The fast replica is overdue (60 ms): the slow one is no help.
    fast.begin_wait(NOW + 1 - 0.06)
    assert hedge_candidates(fast, [slow], NOW + 1) == []
    # The slow replica is overdue: the fast one is.
    slow.begin_wait(NOW + 1 - 0.25)
    assert hedge_candidates(slow, [fast], NOW + 1) == [fast]


def test_a_hung_primary_is_hedged_and_a_silent_peer_is_not_a_target() -> None:
    a, b = replicas(2)
    answered(a, 0.02, NOW, n=20)
    answered(b, 0.02, NOW, n=20)
    a.begin_wait(NOW + 1 - 0.05)
    assert hedge_candidates(a, [b], NOW + 1) == [b]
    b.begin_wait(NOW + 1 - 0.5)  # b has an attempt unanswered for 500 ms
    assert hedge_candidates(a, [b], NOW + 1) == []


async def test_race_hands_an_overdue_primary_that_lost_to_keep_instead_of_cancelling() -> None:
    primary_go = asyncio.Event()

    async def primary() -> str:
        await primary_go.wait()
        return "primary"

    async def hedge() -> str:
        return "hedge"

    kept: list[asyncio.Future[str]] = []
    out = await race(
        primary(),
        0.0,
        hedge,
        won=lambda r: True,
        discard=lambda r: None,
        keep=kept.append,
    )
    assert out.result == "hedge" and out.winner_is_hedge
    assert len(kept) == 1 and not kept[0].done()
    primary_go.set()
    assert await kept[0] == "primary"  # it ran on to its own end


def test_a_peer_that_just_looked_slow_gets_the_hedge_once_the_wait_passes_its_estimate() -> None:
    a, b = replicas(2)
    answered(a, 0.02, NOW, n=20)
    answered(b, 0.02, NOW, n=20)
    answered(b, 0.054, NOW + 1)  # one slow answer: b's peak-sensitive estimate jumps
    a.begin_wait(NOW + 1)
    assert hedge_candidates(a, [b], NOW + 1.05) == []
    assert hedge_candidates(a, [b], NOW + 1.10) == [b]


async def test_race_asks_again_while_no_hedge_is_worth_it_yet() -> None:
    primary_go = asyncio.Event()
    asked: list[float] = []

    async def primary() -> str:
        await primary_go.wait()
        return "primary"

    async def hedge() -> str:
        return "hedge"

    answers: list[Any] = [LATER, LATER, hedge()]

    async def sleep(seconds: float) -> None:
        asked.append(seconds)

    out = await race(
        primary(),
        0.05,
        lambda: answers.pop(0),
        won=lambda r: True,
        discard=lambda r: None,
        sleep=sleep,
    )
    assert out.result == "hedge" and asked == [0.05, 0.05, 0.05]
    primary_go.set()


# -- the whole router in virtual time (zeta_router.testing.virtual) ---------------------------


def side_by_side(**kw: Any) -> tuple[Run, Run]:
    return simulate(hedge=False, **kw), simulate(hedge=True, **kw)


def test_one_replica_ten_times_slow_hedging_serves_as_much_and_avoids_it() -> None:
    off, on = side_by_side(r0=("ok", 0.2))
    assert on.served >= off.served
    assert on.p90() <= off.p90()
    assert on.share("r0") <= 0.10 and off.share("r0") <= 0.10
    assert on.failed == off.failed == 0


def test_one_replica_hung_hedging_sends_it_no_more_and_its_breaker_opens_in_time() -> None:
    # One failure opens the breaker here, so the test sees when the first verdict arrives: the
    # hung attempt's timeout, first_byte_s (1 s) plus the allowance for generating a
    # non-stream answer (8 max tokens x 0.05 s x 3 headroom x requests on the replica, at most
    # the 4 clients) after the first request sent to the hung replica.
    configured = 1.0 + 8 * 0.05 * 3 * 4
    breaker = {"consecutive_failures": 1}
    off, on = side_by_side(r0=("hang", 0.0), breaker=breaker)
    assert on.sent["r0"] <= off.sent["r0"]
    assert on.attempts["r0"] <= off.attempts["r0"]
    assert off.breaker_open_at is not None and on.breaker_open_at is not None
    assert off.breaker_open_at <= configured
    # Hedging does not delay the verdict: the lost primary runs on to its own timeout.
    assert on.breaker_open_at <= off.breaker_open_at + 0.05
    assert on.failed == off.failed == 0
    # With default thresholds, the balancer alone keeps it out: a handful of requests.
    off, on = side_by_side(r0=("hang", 0.0))
    assert on.sent["r0"] <= off.sent["r0"] <= 8


@pytest.mark.parametrize("hedge", [False, True], ids=["hedging off", "hedging on"])
def test_a_replica_failing_instantly_gets_at_most_its_fair_share_of_first_attempts(
    hedge: bool,
) -> None:
    run = simulate(("fail", 0.001), hedge=hedge, breaker=BREAKER_OFF)
    assert run.first_share("r0") <= 0.5
    # In fact far less: each failure doubles its estimate, and it is left out as an outlier.
    assert run.first_share("r0") < 0.05
    assert run.served > 0


# -- over real sockets: the fake fleet, the gateway and the openai SDK ------------------------


def hammer(h: Harness, seconds: float, clients: int = 4) -> tuple[int, int, list[str]]:
    """``clients`` threads asking through the openai SDK for ``seconds``: (ok, failed,
    serving replica per answer)."""
    stop = time.monotonic() + seconds
    served: list[str] = []
    failed = 0

    def one_client() -> None:
        nonlocal failed
        client = openai.OpenAI(base_url=h.base_url, api_key="x", max_retries=0, timeout=10)
        try:
            while time.monotonic() < stop:
                try:
                    raw = client.chat.completions.with_raw_response.create(
                        model="m", messages=[{"role": "user", "content": "hi"}]
                    )
                    served.append(raw.headers["x-zeta-replica"])
                except openai.APIError:
                    failed += 1
        finally:
            client.close()

    with ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(one_client) for _ in range(clients)]:
            f.result()
    return len(served), failed, served


def two_replica_gateway(**overrides: Any) -> Harness:
    return Harness(
        ["r0", "r1"],
        {
            "health": {"enabled": False},
            "analysis": {"analyzer": "heuristic"},
            "timeouts": {"first_byte_s": 1.0},
            "models": {
                "m": {
                    "replicas": [{"url": "fake:r0", "id": "r0"}, {"url": "fake:r1", "id": "r1"}]
                }
            },
            **overrides,
        },
    )


def test_over_http_hedging_keeps_traffic_off_a_ten_times_slow_replica() -> None:
    h = two_replica_gateway(hedge={"enabled": True})
    try:
        for name in ("r0", "r1"):
            h.set(name, delay_s=0.02)
        hammer(h, 1.0)  # warm-up: both healthy, enough samples for the hedge delay
        h.set("r0", delay_s=0.2)
        before = {n: h.backend(n).requests for n in ("r0", "r1")}
        ok, failed, _ = hammer(h, 2.5)
        sent = {n: h.backend(n).requests - before[n] for n in ("r0", "r1")}
        assert failed == 0 and ok > 0
        assert sent["r0"] <= 0.10 * (sent["r0"] + sent["r1"]), sent
    finally:
        h.close()


def test_over_http_a_replica_failing_instantly_gets_at_most_its_fair_share() -> None:
    h = two_replica_gateway(breaker=BREAKER_OFF)
    try:
        h.set("r0", delay_s=0.02)
        h.set("r1", delay_s=0.02)
        hammer(h, 0.5)
        h.set("r0", mode="500")
        before = {n: h.backend(n).requests for n in ("r0", "r1")}
        ok, failed, replicas_seen = hammer(h, 2.0)
        sent = {n: h.backend(n).requests - before[n] for n in ("r0", "r1")}
        # Each request that reached r0 was a first attempt (retries go elsewhere): its share of
        # first attempts is at most sent["r0"] / (ok + failed).
        assert sent["r0"] <= 0.5 * (ok + failed), (sent, ok, failed)
        assert set(replicas_seen) == {"r1"}
    finally:
        h.close()
