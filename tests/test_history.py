"""The per-second fleet history: what one second records, the bounded ring, and
GET /v1/router/history on a real gateway."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import openai
import orjson
import pytest

from zeta_router.analysis.profile import TaskProfile
from zeta_router.config import parse_config
from zeta_router.errors import FailureKind
from zeta_router.fleet.breaker import BreakerState
from zeta_router.fleet.outcome import CLIENT_LEFT, SERVED, Health, Reason, saturated_by
from zeta_router.fleet.state import Fleet, ScrapedLoad
from zeta_router.ops.history import (
    FIELDS,
    RESERVOIR,
    History,
    RequestWindow,
    Sampler,
    StatusClass,
    quantiles,
    status_class,
)
from zeta_router.router import Router
from zeta_router.routing.decision import Attempt, Decision
from zeta_router.testing import Harness
from zeta_router.top import decode

from .conftest import fleet_template

CODE_PROMPT = "Fix this bug:\n```python\ndef add(a, b):\n    return a - b\n```"


def decision(
    model: str | None,
    *,
    status: int = 200,
    preferred: str | None = None,
    duration: float | None = 0.2,
    ttfb: float | None = 0.1,
    attempts: int = 1,
    passed_over: tuple[tuple[str, Reason], ...] = (),
    stream_error: Reason | None = None,
) -> Decision:
    d = Decision("zr-x-1", "chat", 0.0)
    d.profile = TaskProfile("code", 0.4, 0.9, 10, "heuristic", ())
    d.model, d.preferred, d.status = model, preferred or model, status
    d.duration_s, d.ttfb_s, d.stream_error = duration, ttfb, stream_error
    d.attempts = [Attempt(model or "m", "r", SERVED, 0.01) for _ in range(attempts)]
    d.passed_over = list(passed_over)
    return d


CONFIG = {
    "analysis": {"analyzer": "heuristic"},
    "models": {
        "brain": {"replicas": [{"url": "http://127.0.0.1:1/v1", "id": "brain-a"}]},
        "coder": {"replicas": [{"url": "http://127.0.0.1:2/v1"}]},
    },
}


def fleet() -> Fleet:
    return Fleet(parse_config(CONFIG))


def test_status_classes() -> None:
    assert status_class(decision("m")) is StatusClass.OK
    assert status_class(decision("m", status=404)) is StatusClass.CLIENT
    assert status_class(decision(None, status=429)) is StatusClass.SHED
    assert status_class(decision(None, status=503)) is StatusClass.SERVER
    cut = Reason(FailureKind.IDLE_TIMEOUT, "read timeout")
    assert status_class(decision("m", stream_error=cut)) is StatusClass.CUT
    # The client leaving is not a broken answer.
    assert status_class(decision("m", stream_error=CLIENT_LEFT)) is StatusClass.OK


def test_quantiles_nearest_rank() -> None:
    assert quantiles(None) is None and quantiles([]) is None
    assert quantiles([3.0]) == (3.0, 3.0)
    values = [float(i) for i in range(1, 101)]
    random.Random(1).shuffle(values)
    assert quantiles(values) == (50.0, 99.0)
    assert quantiles([1.0, 2.0]) == (1.0, 2.0)


def test_one_second_of_requests_and_fleet_state() -> None:
    f = fleet()
    brain, coder = f.replicas["brain-a"], f.replicas["coder-0"]
    h = History(capacity=5)
    h.baseline(f.replicas.values())
    w = RequestWindow(random.Random(0))
    for ms in (100, 200, 300, 400):
        w.observe(decision("brain", duration=ms / 1000, ttfb=ms / 2000))
    # coder failed (retried once), brain served: a fallback; and one spill for saturation.
    w.observe(
        decision(
            "brain",
            preferred="coder",
            attempts=2,
            passed_over=(("coder", Reason(FailureKind.CONNECT, "connect failed")),),
        )
    )
    w.observe(
        decision(
            "brain",
            preferred="coder",
            passed_over=(("coder", saturated_by("saturated (4/4 in flight)")),),
        )
    )
    w.observe(decision(None, status=503, duration=0.01, ttfb=None))
    w.rejected(400)
    coder.requests += 3
    coder.failures += 2
    coder.breaker.force_open(0.0, "connect failed", 5.0)
    coder.health = Health.DOWN
    brain.in_flight = 2
    brain.scraped = ScrapedLoad(waiting=3.0, running=1.0, at=0.0)

    s = h.record(w, f.replicas.values(), at=1000.0, span_s=1.0)
    assert s.seq == 1 and h.seq == 1
    models = {m.model: m for m in s.models}
    assert models["brain"].requests == 6 and models["none"].requests == 2
    assert models["none"].latency_s is None
    assert models["brain"].latency_s == (0.2, 0.4)
    assert models["brain"].ttft_s == (0.1, 0.2)
    assert (s.status.ok, s.status.client, s.status.server) == (6, 1, 1)
    assert (s.fallbacks, s.spills, s.retries) == (1, 1, 1)
    reps = {r.replica: r for r in s.replicas}
    assert reps["coder-0"].breaker is BreakerState.OPEN
    assert reps["coder-0"].health is Health.DOWN
    assert (reps["coder-0"].attempts, reps["coder-0"].failures) == (3, 2)
    assert reps["coder-0"].queue is None
    assert (reps["brain-a"].in_flight, reps["brain-a"].queue) == (2, 3)

    # The next second counts only what happened since.
    coder.requests += 1
    s2 = h.record(RequestWindow(random.Random(0)), f.replicas.values(), 1001.0, 1.0)
    assert s2.models == ()
    assert {r.replica: r.attempts for r in s2.replicas} == {"brain-a": 0, "coder-0": 1}
    js = decode(orjson.loads(s.encode()), FIELDS)
    assert js["seq"] == 1 and js["t"] == 1000.0 and js["span_s"] == 1.0
    assert js["models"]["brain"] == {
        "requests": 6,
        "latency_ms": [200.0, 400.0],
        "ttft_ms": [100.0, 200.0],
    }
    assert js["status"] == {"2xx": 6, "4xx": 1, "429": 0, "5xx": 1, "cut": 0}
    assert js["replicas"]["coder-0"] == {
        "in_flight": 0,
        "queue": None,
        "breaker": "open",
        "health": "down",
        "attempts": 3,
        "failures": 2,
    }
    assert (js["fallbacks"], js["spills"], js["retries"]) == (1, 1, 1)


def test_ring_is_bounded_and_since_returns_newer_samples() -> None:
    f = fleet()
    h = History(capacity=3)
    for i in range(5):
        h.record(RequestWindow(random.Random(0)), f.replicas.values(), 1000.0 + i, 1.0)
    assert len(h) == 3

    def seqs(since: int) -> list[int]:
        return [orjson.loads(b)["seq"] for b in h.since(since)]

    assert seqs(0) == [3, 4, 5]
    assert seqs(1) == [3, 4, 5]
    assert seqs(3) == [4, 5]
    assert seqs(5) == [] and seqs(99) == []
    assert History().since(0) == []


def test_a_busy_second_keeps_a_bounded_uniform_sample() -> None:
    w = RequestWindow(random.Random(7))
    n = RESERVOIR * 20
    for i in range(n):
        w.observe(decision("m", duration=(i + 1) / n, ttfb=None))
    assert len(w.latency["m"]) == RESERVOIR
    assert w.requests["m"] == n
    q = quantiles(w.latency["m"])
    assert q is not None
    p50, p99 = q
    # A uniform sample of 1/n .. 1: its median near 0.5, its p99 near the top.
    assert 0.4 < p50 < 0.6 and p99 > 0.9


def test_a_replaced_replica_starts_its_counts_afresh() -> None:
    f = fleet()
    h = History()
    old = f.replicas["coder-0"]
    old.requests = 50
    h.baseline(f.replicas.values())
    new = fleet().replicas["coder-0"]
    new.requests = 2
    s = h.record(RequestWindow(random.Random(0)), [f.replicas["brain-a"], new], 1.0, 1.0)
    assert {r.replica: r.attempts for r in s.replicas} == {"brain-a": 0, "coder-0": 2}


# -- on a real gateway ----------------------------------------------------------------------


@pytest.fixture()
def gw() -> Iterator[Harness]:
    h = Harness(["b1", "b2", "c1", "s1", "e1"], fleet_template(breaker={"consecutive_failures": 1}))
    yield h
    h.close()


Sample = dict[str, Any]


def poll_history(
    h: Harness, since: int, until: Callable[[list[Sample]], bool], timeout: float = 5.0
) -> list[Sample]:
    """Samples newer than ``since``, polled until ``until`` holds for those seen."""
    deadline = time.monotonic() + timeout
    seen: list[Sample] = []
    while time.monotonic() < deadline:
        resp = httpx.get(h.url + f"/v1/router/history?since={since}")
        assert resp.status_code == 200
        body = resp.json()
        seen += [decode(s, body["fields"]) for s in body["samples"]]
        since = body["seq"]
        if until(seen):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"no such sample within {timeout} s: {seen[-3:]}")


def test_history_endpoint_shows_requests_and_a_replica_going_down(gw: Harness) -> None:
    c = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0, timeout=20)
    first = httpx.get(gw.url + "/v1/router/history").json()
    assert first["interval_s"] == 1.0 and first["capacity"] == 900
    for _ in range(3):
        c.chat.completions.create(model="auto", messages=[{"role": "user", "content": CODE_PROMPT}])
    seen = poll_history(gw, first["seq"], lambda seen: any("coder" in s["models"] for s in seen))
    coder = next(s for s in seen if "coder" in s["models"])
    assert coder["models"]["coder"]["latency_ms"][0] > 0
    assert coder["replicas"]["coder-0"]["breaker"] == "closed"
    assert set(coder["replicas"]) == {"brain-a", "brain-b", "coder-0", "small-0", "embed-0"}

    gw.down("c1")
    raw = c.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": CODE_PROMPT}]
    )
    assert raw.headers["x-zeta-model"] == "brain"
    seen = poll_history(
        gw,
        seen[-1]["seq"],
        lambda seen: bool(seen)
        and seen[-1]["replicas"]["coder-0"]["breaker"] == "open"
        and sum(s["fallbacks"] for s in seen) > 0,
    )
    # The failed attempt and the fallback it caused, within a second of each other.
    assert sum(s["replicas"]["coder-0"]["failures"] for s in seen) == 1
    assert sum(s["fallbacks"] for s in seen) == 1
    assert sum(s["models"].get("brain", {}).get("requests", 0) for s in seen) == 1
    # Every sample is about a second long, and their numbers follow each other.
    seqs = [s["seq"] for s in seen]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert all(0.5 < s["span_s"] < 3.0 for s in seen)


@pytest.mark.parametrize("since", ["abc", "-1", "1e3", "٣", "9" * 40])
def test_bad_since_is_a_400_naming_the_parameter(gw: Harness, since: str) -> None:
    resp = httpx.get(gw.url + "/v1/router/history", params={"since": since})
    assert resp.status_code == 400
    err = resp.json()["error"]
    assert err["param"] == "since" and err["type"] == "invalid_request_error"


def test_the_sampler_waits_for_the_next_boundary_at_least_half_a_step_away() -> None:
    wall = [1000.25]

    async def no_sleep(_: float) -> None:
        raise AssertionError("not started")

    router = Router(parse_config(CONFIG))
    sampler = Sampler(
        router.history,
        router.telemetry.take_window,
        router.all_replicas,
        wall=lambda: wall[0],
        sleep=no_sleep,
    )
    assert sampler.until_next() == pytest.approx(0.75)
    wall[0] = 1000.999  # woke a little early for the 1001 boundary: aim for 1002
    assert sampler.until_next() == pytest.approx(1.001)
    wall[0] = 1001.4
    assert sampler.until_next() == pytest.approx(0.6)


def test_the_sampler_first_sets_a_baseline_then_records_a_second_per_call() -> None:
    mono = [50.0]

    async def no_sleep(_: float) -> None:
        raise AssertionError("not started")

    router = Router(parse_config(CONFIG))
    sampler = Sampler(
        router.history,
        router.telemetry.take_window,
        router.all_replicas,
        wall=lambda: 1000.0 + mono[0],
        clock=lambda: mono[0],
        sleep=no_sleep,
    )
    coder = router.fleet.replicas["coder-0"]
    coder.requests = 7  # before the history began: not counted
    assert sampler.sample() is None
    router.telemetry.record(decision("coder"))
    coder.requests += 1
    mono[0] += 1.25
    s = sampler.sample()
    assert s is not None and s.seq == 1 and s.span_s == pytest.approx(1.25)
    assert s.at == pytest.approx(1051.25)
    assert [(m.model, m.requests) for m in s.models] == [("coder", 1)]
    assert {r.replica: r.attempts for r in s.replicas}["coder-0"] == 1
    assert [orjson.loads(x)["seq"] for x in router.history.since(0)] == [1]
