"""Replica choice: P2C over peak-EWMA x load, the baselines, weights, scraped queues and stale
metrics. Deterministic: seeded rng, hand-set replica state, explicit times."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from zeta_router.config import BalancerSettings, parse_config
from zeta_router.errors import ConfigError
from zeta_router.fleet.state import Fleet, ReplicaState, ScrapedLoad
from zeta_router.routing.balancer import (
    STALE_PENALTY,
    LeastRequest,
    P2CEwma,
    Random,
    RoundRobin,
    build_strategy,
    load_cost,
)

NOW = 1000.0


def replicas(n: int = 3, **model: Any) -> list[ReplicaState]:
    reps = [{"url": f"http://127.0.0.1:{9000 + i}/v1", "id": f"r{i}"} for i in range(n)]
    for key, values in model.items():
        for rep, v in zip(reps, values, strict=True):
            rep[key] = v
    cfg = parse_config({"models": {"m": {"replicas": reps}}})
    return list(Fleet(cfg).models["m"].replicas)


def set_latency(r: ReplicaState, seconds: float) -> None:
    r.latency.value = seconds


def test_p2c_never_picks_the_slow_replica_when_load_is_equal() -> None:
    reps = replicas()
    for r, lat in zip(reps, (0.02, 0.02, 0.2), strict=True):
        set_latency(r, lat)
    p2c = P2CEwma(random.Random(7))
    picks = Counter(p2c.pick(reps, NOW).id for _ in range(600))
    assert picks["r2"] == 0
    # Both fast replicas share the traffic.
    assert picks["r0"] > 200 and picks["r1"] > 200


def test_p2c_sends_to_the_slow_replica_once_the_fast_ones_are_busy() -> None:
    reps = replicas()
    for r, lat in zip(reps, (0.02, 0.02, 0.2), strict=True):
        set_latency(r, lat)
    reps[0].in_flight = reps[1].in_flight = 20  # 0.02 x 21 = 0.42 > 0.2 x 1
    p2c = P2CEwma(random.Random(7))
    picks = Counter(p2c.pick(reps, NOW).id for _ in range(300))
    # Every pair that contains r2 now chooses it: two of the three possible pairs.
    assert 150 < picks["r2"] < 250


def test_p2c_with_two_replicas_compares_both() -> None:
    a, b = replicas(2)
    set_latency(a, 0.1)
    set_latency(b, 0.05)
    p2c = P2CEwma(random.Random(1))
    assert {p2c.pick([a, b], NOW).id for _ in range(20)} == {"r1"}
    b.in_flight = 3  # 0.05 x 4 = 0.2 > 0.1
    assert {p2c.pick([a, b], NOW).id for _ in range(20)} == {"r0"}


def test_weight_divides_the_cost() -> None:
    a, b = replicas(2, weight=[1.0, 4.0])
    set_latency(a, 0.1)
    set_latency(b, 0.1)
    b.in_flight = 2  # 0.1 x 3 / 4 < 0.1 x 1 / 1
    assert load_cost(b, NOW, 0.0) < load_cost(a, NOW, 0.0)
    assert P2CEwma(random.Random(3)).pick([a, b], NOW) is b


def test_scraped_backend_queue_counts_only_beyond_our_in_flight() -> None:
    a, b = replicas(2)
    set_latency(a, 0.1)
    set_latency(b, 0.1)
    a.in_flight = 2
    a.scraped = ScrapedLoad(waiting=0.0, running=2.0, at=NOW)  # only our own two requests
    b.scraped = ScrapedLoad(waiting=6.0, running=4.0, at=NOW)  # other clients' work
    assert load_cost(a, NOW, 0.0) == pytest.approx(0.1 * 3)
    assert load_cost(b, NOW, 0.0) == pytest.approx(0.1 * 11)
    assert P2CEwma(random.Random(0)).pick([a, b], NOW) is a


def test_stale_scraped_load_counts_as_saturated() -> None:
    a, b = replicas(2)
    set_latency(a, 0.1)
    set_latency(b, 0.5)
    a.scraped = ScrapedLoad(waiting=0.0, running=0.0, at=NOW - 30)
    p2c = P2CEwma(random.Random(0), stale_after_s=10.0)
    assert load_cost(a, NOW, 0.0, 10.0) == pytest.approx(0.1 * STALE_PENALTY)
    assert {p2c.pick([a, b], NOW).id for _ in range(10)} == {"r1"}
    # Fresh again: the fast replica wins back its traffic.
    a.scraped = ScrapedLoad(at=NOW - 1)
    assert {p2c.pick([a, b], NOW).id for _ in range(10)} == {"r0"}


def test_slow_start_ramps_a_recovered_replica() -> None:
    a, b = replicas(2)
    set_latency(a, 0.1)
    set_latency(b, 0.1)
    a.ready_since = NOW - 1.0  # recovered a second ago, slow start 10 s
    assert load_cost(a, NOW, 10.0) == pytest.approx(0.1 * 10.0)
    assert load_cost(a, NOW + 20, 10.0) == pytest.approx(0.1)
    assert P2CEwma(random.Random(0), slow_start_s=10.0).pick([a, b], NOW) is b


def test_round_robin_cycles_and_ignores_load() -> None:
    reps = replicas()
    reps[0].in_flight = 100
    rr = RoundRobin()
    seq = [rr.pick(reps, NOW).id for _ in range(6)]
    assert seq == ["r1", "r2", "r0", "r1", "r2", "r0"]


def test_random_follows_weights() -> None:
    reps = replicas(2, weight=[1.0, 3.0])
    rnd = Random(random.Random(11))
    picks = Counter(rnd.pick(reps, NOW).id for _ in range(4000))
    assert 0.7 < picks["r1"] / 4000 < 0.8


def test_least_request_prefers_fewest_in_flight_then_lower_latency() -> None:
    a, b, c = replicas()
    a.in_flight, b.in_flight, c.in_flight = 3, 1, 1
    set_latency(b, 0.2)
    set_latency(c, 0.1)
    assert LeastRequest().pick([a, b, c], NOW) is c


def test_build_strategy_registry() -> None:
    rng = random.Random(0)
    for name in ("p2c-ewma", "least-request", "round-robin", "random"):
        assert build_strategy(BalancerSettings(strategy=name), rng).name == name
    with pytest.raises(ConfigError, match=r"balancer\.strategy: unknown strategy 'fastest'"):
        build_strategy(BalancerSettings(strategy="fastest"), rng)


def test_latency_outliers_are_left_out_while_peers_are_usable() -> None:
    reps = replicas()
    for r, lat in zip(reps, (0.02, 0.06, 0.2), strict=True):
        set_latency(r, lat)
    reps[0].in_flight = 20  # 0.02 x 21 > 0.2: r2 would win against r0 on the cost alone
    assert load_cost(reps[2], NOW, 0.0) < load_cost(reps[0], NOW, 0.0)
    p2c = P2CEwma(random.Random(7), outlier_ratio=5.0)
    picks = Counter(p2c.pick(reps, NOW).id for _ in range(300))
    # r2 is 10x the best: out. r1 at 3x stays in the draw.
    assert picks["r2"] == 0 and picks["r1"] > 0
    # Alone (its peers full or down), the outlier still serves.
    assert p2c.pick([reps[2]], NOW) is reps[2]


def test_an_avoided_replicas_estimate_decays_so_it_gets_a_trial_again() -> None:
    a, b = replicas(2)
    a.latency.observe(0.2, NOW)  # slow once, then never chosen
    b.latency.observe(0.02, NOW)
    assert a.latency.decayed(NOW) == pytest.approx(0.2)
    tau = 10.0  # balancer.ewma_decay_s
    assert a.latency.decayed(NOW + tau) == pytest.approx(0.2 / 2.718281828, rel=1e-6)
    p2c = P2CEwma(random.Random(0), outlier_ratio=5.0)
    assert p2c.pick([a, b], NOW + 1) is b
    b.latency.observe(0.02, NOW + 40)
    b.in_flight = 1
    # 40 s later a's estimate fell below b's cost: it gets the next request and a fresh sample.
    assert p2c.pick([a, b], NOW + 40) is a
