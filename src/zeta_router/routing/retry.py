"""The retry loop: one request's walk over its plan, as a function of the engine, the live
state and one clock.

For each candidate model the balancer picks a usable replica and one attempt goes out
(:func:`zeta_router.upstream.dispatch.attempt`). A failure before the first byte moves on to
the next replica, then the next model, within the attempt limit, the retry budget and the
request's deadline. A saturated model spills the request to a later candidate, or the request
waits in the model's admission queue. When every candidate failed transiently, one more pass
follows a back-off. After the first byte nothing is retried.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zeta_router.clock import Clock
from zeta_router.errors import (
    Blame,
    FailureKind,
    InvalidRequest,
    NoCapacity,
    RouterError,
    UpstreamError,
    UpstreamFault,
)
from zeta_router.fleet.outcome import NO_REPLICA_LEFT, RETRY_BUDGET, Reason, saturated_by
from zeta_router.fleet.state import ReplicaState
from zeta_router.http.protocol import ParsedRequest
from zeta_router.http.response import Response
from zeta_router.routing.affinity import Key
from zeta_router.routing.answers import deadline_error, exhausted, route_reason
from zeta_router.routing.attribution import Verdict
from zeta_router.routing.budget import backoff_s
from zeta_router.routing.decision import Decision
from zeta_router.routing.engine import Engine, State
from zeta_router.routing.policy import Plan
from zeta_router.routing.spill import queue_wait, saturated, spill_target
from zeta_router.upstream import relay
from zeta_router.upstream.dispatch import attempt

#: Less time than this left before the deadline is no time for an attempt: event-loop timers
#: have millisecond granularity and can wake a timed-out attempt just before the deadline.
_MIN_ATTEMPT_S = 0.005

#: Failures worth one more try on the same replica after a back-off, when nothing else serves.
_TRANSIENT = frozenset(
    {
        FailureKind.RATE_LIMITED,
        FailureKind.UNAVAILABLE,
        FailureKind.RESET,
        FailureKind.SERVER_ERROR,
        FailureKind.CONNECT_TIMEOUT,
    }
)


@dataclass(slots=True)
class _Walk:
    """What one request's walk has learned so far."""

    attempts_left: int
    #: Why each model was passed over, in the order they were.
    passed_over: dict[str, Reason] = field(default_factory=dict)
    #: Replicas that failed transiently this pass: worth a second pass after a back-off.
    transient: list[tuple[ReplicaState, UpstreamError]] = field(default_factory=list)
    tried: set[str] = field(default_factory=set)
    spill: str | None = None
    admitted: bool = False


async def serve(
    engine: Engine,
    state: State,
    clock: Clock,
    req: ParsedRequest,
    d: Decision,
    p: Plan,
    deadline: float,
    note: str | None,
    key: Key | None = None,
) -> Response:
    """Walk ``p`` until an attempt answers; raises the RouterError the client gets when none
    does. ``key`` is what cache affinity knows of the request (None: the strategy alone)."""
    verdict = Verdict(d, engine.config.breaker)
    try:
        return await _walk(engine, state, clock, req, d, p, deadline, note, verdict, key)
    except UpstreamFault:
        verdict.exhausted(clock())  # settle what another answer left held
        raise
    except RouterError:
        fault = verdict.exhausted(clock())
        if fault is None:
            raise
        raise relay.upstream_fault(fault.replica, fault.error, d) from None


def _no_candidates(d: Decision, p: Plan) -> RouterError:
    why = "; ".join(f"{m}: {r}" for m, r in p.skipped) or "the route is empty"
    if d.profile is not None and d.profile.source == "header":
        # The client chose the task: its route cannot serve this endpoint, ever.
        return InvalidRequest(
            f"No model on the route of x-zeta-task '{d.task}' can serve this request ({why})",
            param="x-zeta-task",
        )
    return NoCapacity(f"No configured model can serve this request ({why})")


async def _walk(
    engine: Engine,
    state: State,
    clock: Clock,
    req: ParsedRequest,
    d: Decision,
    p: Plan,
    deadline: float,
    note: str | None,
    verdict: Verdict,
    key: Key | None,
) -> Response:
    if not p.candidates:
        raise _no_candidates(d, p)
    config = engine.config
    admission = engine.admission
    engine.budget.on_request()
    w = _Walk(config.retry.max_attempts)
    passed_over, tried = w.passed_over, w.tried
    for pass_no in range(2):
        spill_to = 0
        for idx, cand in enumerate(p.candidates):
            if idx < spill_to:
                continue
            ms = state.fleet.models[cand.model]
            while w.attempts_left > 0:
                now = clock()
                if now >= deadline - _MIN_ATTEMPT_S:
                    raise deadline_error(passed_over)
                usable = [r for r in ms.replicas if r.id not in tried and r.available(now)]
                why = saturated(config, admission, ms, usable, tried, now, w.admitted)
                if why:
                    to = spill_target(
                        config, admission, state.fleet, p, idx, d, tried, passed_over, now
                    )
                    if to is not None:
                        passed_over[cand.model] = saturated_by(f"saturated ({why})")
                        w.spill = f"spill: {cand.model} saturated ({why})"
                        spill_to = to
                        break
                    if not usable or (not w.admitted and admission.busy(ms.name)):
                        d.queued_s += await queue_wait(admission, clock, ms, d, tried, deadline)
                        w.admitted = True
                        continue
                if not usable:
                    if cand.model not in passed_over:
                        passed_over[cand.model] = ms.unavailable(now) or NO_REPLICA_LEFT
                    break
                if d.attempts and not engine.budget.try_spend():
                    passed_over.setdefault(cand.model, RETRY_BUDGET)
                    raise _exhausted(state, clock, d, passed_over, p, "retry budget exhausted")
                replica, d.affinity = engine.affinity.pick(usable, now, key, engine.strategy)
                if engine.shared.gated(replica) and not await engine.shared.acquire(replica):
                    continue  # full fleet-wide, or probed by another instance: look again
                w.attempts_left -= 1
                result = await attempt(engine, state, clock, req, d, replica, deadline, tried)
                if isinstance(result, Response):
                    verdict.served(clock())
                    d.passed_over = [(m, r) for m, r in passed_over.items() if m != cand.model]
                    d.route = route_reason(cand.reason, note, pass_no, w.spill, d)
                    relay.set_headers(result, d)
                    return result
                tried.add(replica.id)
                fault = verdict.failed(result.replica, result.error, clock())
                if fault is not None:
                    raise relay.upstream_fault(fault.replica, fault.error, d)
                err = result.error
                passed_over[cand.model] = Reason.of(err)
                # A held failure (no verdict yet) is not tried on the same replica again.
                if err.kind in _TRANSIENT and err.blame is Blame.REPLICA:
                    w.transient.append((replica, err))
        if pass_no or w.attempts_left <= 0 or not w.transient:
            break
        # Every candidate failed. One more pass after a back-off, but only when something
        # failed transiently and the wait fits the deadline.
        hinted = [e.retry_after_s for _, e in w.transient]
        delay = backoff_s(config.retry, hinted, engine.rng.random())
        if clock() + delay >= deadline:
            break
        await clock.sleep(delay)
        tried.clear()
        w.transient.clear()
    raise _exhausted(state, clock, d, passed_over, p, None)


def _exhausted(
    state: State,
    clock: Clock,
    d: Decision,
    passed_over: dict[str, Reason],
    p: Plan,
    why: str | None,
) -> NoCapacity:
    return exhausted(d, passed_over, p, why, state.fleet, state.retry_at, clock())
