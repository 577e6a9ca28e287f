"""The circuit breaker as a pure state machine, driven by outcomes and an explicit clock."""

from __future__ import annotations

import pytest

from zeta_router.config import BreakerSettings
from zeta_router.fleet.breaker import Breaker, BreakerState


def breaker(**kw: float) -> Breaker:
    settings = {
        "consecutive_failures": 3,
        "failure_rate": 0.5,
        "window_s": 10.0,
        "min_samples": 6,
        "eject_base_s": 5.0,
        "eject_max_s": 40.0,
        "half_open_probes": 1,
    }
    settings.update(kw)
    return Breaker(BreakerSettings.model_validate(settings))


def fail(b: Breaker, now: float, n: int = 1) -> bool:
    tripped = False
    for _ in range(n):
        b.on_attempt(now)
        tripped = b.on_failure(now, "503 unavailable") or tripped
    return tripped


def test_consecutive_failures_open_it() -> None:
    b = breaker()
    assert not fail(b, 0.0, 2)
    assert b.state is BreakerState.CLOSED
    assert fail(b, 0.0)
    assert b.state is BreakerState.OPEN
    assert not b.can_try(4.9)
    assert b.can_try(5.0)
    assert b.last_reason == "503 unavailable"


def test_a_success_resets_the_consecutive_count() -> None:
    b = breaker(min_samples=100)
    for _ in range(5):
        fail(b, 0.0, 2)
        b.on_success(0.0)
    assert b.state is BreakerState.CLOSED


def test_streams_breaking_in_a_row_open_it_despite_short_successes_between() -> None:
    # A replica that answers short requests but cuts every stream: the short successes
    # reset the consecutive count, the broken streams still add up.
    b = breaker(min_samples=100)
    for i in range(2):
        b.on_attempt(float(i))
        assert not b.on_failure(float(i), "stream cut", stream_break=True)
        b.on_success(float(i))
    b.on_attempt(2.0)
    assert b.on_failure(2.0, "stream cut", stream_break=True)
    assert b.state is BreakerState.OPEN


def test_a_finished_stream_resets_the_stream_break_count() -> None:
    b = breaker(min_samples=100)
    for i in range(5):
        b.on_failure(float(i), "stream cut", stream_break=True)
        b.on_failure(float(i), "stream cut", stream_break=True)
        b.on_success(float(i), stream=True)
    assert b.state is BreakerState.CLOSED


def test_failure_rate_over_window_opens_it_once_enough_samples() -> None:
    b = breaker(consecutive_failures=100)
    # Alternate: never 2 failures in a row, but half of all outcomes fail.
    for i in range(5):
        if i % 2:
            fail(b, float(i))
        else:
            b.on_success(float(i))
    assert b.state is BreakerState.CLOSED  # 5 samples < min_samples
    fail(b, 5.0)
    assert b.state is BreakerState.OPEN


def test_old_samples_leave_the_window() -> None:
    b = breaker(consecutive_failures=100)
    fail(b, 0.0, 3)
    for t in range(3):
        b.on_success(20.0 + t)
    # The three early failures are older than window_s: 1 failure out of 4 recent samples.
    fail(b, 25.0)
    b.on_success(25.0)
    b.on_success(25.0)
    assert b.state is BreakerState.CLOSED


def test_half_open_lets_limited_probes_through_and_success_closes() -> None:
    b = breaker(half_open_probes=2)
    fail(b, 0.0, 3)
    b.on_attempt(5.0)
    assert b.state is BreakerState.HALF_OPEN
    assert b.can_try(5.0)
    b.on_attempt(5.0)
    assert not b.can_try(5.0), "both probe slots are taken"
    b.on_success(5.5)
    assert b.state is BreakerState.CLOSED
    assert b.can_try(5.5)


def test_half_open_failure_reopens_for_twice_as_long_up_to_the_cap() -> None:
    b = breaker()
    fail(b, 0.0, 3)
    opened = []
    t = 0.0
    for _ in range(6):
        opened.append(b.open_until - t)
        t = b.open_until
        b.on_attempt(t)
        assert b.state is BreakerState.HALF_OPEN
        assert b.on_failure(t, "connect failed")
    assert opened == [5.0, 10.0, 20.0, 40.0, 40.0, 40.0]
    assert b.ejections == 7


def test_ejection_count_forgets_after_a_long_healthy_stretch() -> None:
    b = breaker()
    fail(b, 0.0, 3)
    b.on_attempt(5.0)
    b.on_failure(5.0, "x")  # second ejection: 10 s
    b.on_attempt(15.0)
    b.on_success(15.0)
    fail(b, 16.0, 3)
    assert b.open_until == pytest.approx(16.0 + 20.0), "recent ejections still count"
    b.on_attempt(36.0)
    b.on_success(36.0)
    fail(b, 36.0 + 41.0, 3)  # closed longer than eject_max_s
    assert b.open_until == pytest.approx(77.0 + 5.0)


def test_retry_after_keeps_it_open_at_least_that_long() -> None:
    b = breaker()
    fail(b, 0.0, 2)
    b.on_attempt(0.0)
    assert b.on_failure(0.0, "429 rate limited", min_open_s=30.0)
    assert b.open_until == 30.0
    # A failure from a request that was already in flight extends, never shortens.
    b.on_failure(1.0, "429", min_open_s=60.0)
    assert b.open_until == 61.0


def test_neutral_outcome_gives_back_the_probe_slot() -> None:
    b = breaker()
    fail(b, 0.0, 3)
    b.on_attempt(5.0)
    assert not b.can_try(5.0)
    b.on_neutral()  # e.g. the client went away mid-probe
    assert b.state is BreakerState.HALF_OPEN
    assert b.can_try(5.0)


def test_force_open_and_reset() -> None:
    b = breaker()
    b.force_open(0.0, "process exited", 30.0)
    assert not b.can_try(29.0)
    assert b.last_reason == "process exited"
    fail(b, 1.0, 2)
    b.reset(2.0)
    assert b.state is BreakerState.CLOSED
    assert b.ejections == 0
    assert b.can_try(2.0)
    # A clean history: the two failures before the reset do not count towards the next trip.
    fail(b, 3.0, 2)
    assert b.state is BreakerState.CLOSED


def test_a_crash_ejects_and_ready_does_not_close_it() -> None:
    b = breaker()
    b.eject(10.0, "process died while serving (killed by SIGSEGV)")
    assert b.state is BreakerState.OPEN and b.crashed
    assert b.open_until == 15.0 and b.ejections == 1
    # The restarted server says it is ready at once: still on probation until the ejection ends.
    b.on_ready(11.0)
    assert b.state is BreakerState.OPEN and not b.can_try(14.9)
    assert b.last_reason == "process died while serving (killed by SIGSEGV)"
    assert b.can_try(15.0)
    b.on_attempt(15.0)
    assert b.state is BreakerState.HALF_OPEN and not b.can_try(15.0)  # one probe slot


def test_each_crash_during_probation_ejects_for_longer_up_to_the_cap() -> None:
    b = breaker()
    now = 0.0
    b.eject(now, "process died while serving (killed by SIGSEGV)")
    periods = [b.open_until - now]
    for _ in range(5):
        b.on_ready(now + 0.5)
        now = b.open_until
        assert b.can_try(now)
        b.on_attempt(now)  # the probe crashes it again: its request fails, then the process exits
        b.on_failure(now, "connection reset")
        assert b.state is BreakerState.OPEN
        b.eject(now, "process died while serving (killed by SIGSEGV)")  # no second doubling
        periods.append(b.open_until - now)
    assert periods == [5.0, 10.0, 20.0, 40.0, 40.0, 40.0]
    assert b.crashed and b.last_reason.startswith("process died")


def test_a_probe_that_succeeds_ends_probation() -> None:
    b = breaker()
    b.eject(0.0, "process died while serving (exit code 1)")
    b.on_ready(1.0)
    b.on_attempt(5.0)
    b.on_success(5.0)
    assert b.state is BreakerState.CLOSED and not b.crashed
    # A later outage without a crash is forgotten when the server is ready again.
    fail(b, 6.0, 3)
    assert b.state is BreakerState.OPEN
    b.on_ready(7.0)
    assert b.state is BreakerState.CLOSED and b.ejections == 0
