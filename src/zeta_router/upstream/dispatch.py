"""One attempt on one replica (plus, when hedging, at most one more on a peer), through the
engine's transport, with the replica's in-flight and wait accounting around it.

The retry loop (:mod:`zeta_router.routing.retry`) calls :func:`attempt` and gets either the
response to send or the failure to act on. Everything here runs on the one clock it is given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from zeta_router.clock import Clock
from zeta_router.config import Timeouts
from zeta_router.errors import UpstreamError
from zeta_router.fleet.outcome import (
    CANCELLED,
    LOST_HEDGE,
    RELEASED,
    Failed,
    FirstByte,
    GivenUp,
    Overdue,
    Sent,
    Served,
)
from zeta_router.fleet.state import ReplicaState
from zeta_router.http import apis
from zeta_router.http.protocol import ParsedRequest
from zeta_router.http.response import Response
from zeta_router.routing.decision import Attempt, Decision
from zeta_router.routing.engine import Engine, State
from zeta_router.routing.hedge import LATER, Later, hedge_candidates, race
from zeta_router.upstream import relay
from zeta_router.upstream.transport import Reply, UpstreamStream


@dataclass(frozen=True, slots=True)
class Attempted:
    """One upstream attempt's outcome, before it is turned into a response."""

    replica: ReplicaState
    start: float
    result: Reply | UpstreamStream | UpstreamError


@dataclass(frozen=True, slots=True)
class Failure:
    """An attempt that failed, and the replica that failed it (the hedge's, when it raced)."""

    replica: ReplicaState
    error: UpstreamError


def _sent_ok(sent: Attempted) -> bool:
    return not isinstance(sent.result, UpstreamError)


@dataclass(slots=True)
class _Flight:
    """One attempt on its way. ``lost`` once it lost a hedge race and was left to finish on its
    own: its outcome then goes to the replica only, since the request was answered already.
    ``token`` (its wait token) once it counts as in flight before :func:`_send` runs it: a
    hedge does from the moment it is picked. ``ran`` once :func:`_send` took it over."""

    start: float = 0.0
    lost: bool = False
    token: int = 0
    ran: bool = False


def release(engine: Engine, replica: ReplicaState) -> None:
    """An attempt on ``replica`` no longer holds its slot."""
    replica.record(RELEASED)
    engine.shared.released(replica)
    admission = engine.admission
    if admission.pending:
        admission.release(replica.model)


async def attempt(
    engine: Engine,
    state: State,
    clock: Clock,
    req: ParsedRequest,
    d: Decision,
    replica: ReplicaState,
    deadline: float,
    tried: set[str],
) -> Response | Failure:
    """One try on one replica (plus, when hedging, at most one more on another replica of
    the same model). Returns the response, or the failure for the retry loop."""
    config = engine.config
    timeouts = config.timeouts_for(replica.model)
    deadline = min(deadline, clock() + timeouts.total_s)
    wire = apis.outgoing(req, config.models[replica.model], replica.upstream_model)
    hedge = engine.hedge
    delay = hedge.delay_for(replica) if hedge is not None else None
    if delay is None:
        sent = await _send(engine, clock, req, d, replica, wire, timeouts, deadline)
    else:
        sent = await _hedged(
            engine, state, clock, req, d, replica, wire, timeouts, deadline, tried, delay
        )
    result = sent.result
    replica = sent.replica
    if isinstance(result, UpstreamError):
        return Failure(replica, result)
    if isinstance(result, Reply):
        release(engine, replica)
        out = relay.complete_reply(result, replica, d, sent.start, clock())
        if isinstance(out, UpstreamError):
            return Failure(replica, out)
        if req.api is not None:
            return apis.reply(req, wire, out, d, state.responses)
        return relay.reply_as_stream(out) if req.stream else out

    def done(r: ReplicaState) -> None:
        release(engine, r)

    resp = relay.start_stream(result, replica, d, sent.start, clock, done)
    if req.api is not None:
        apis.stream(req, wire, resp, d, state.responses)
    return resp


async def _send(
    engine: Engine,
    clock: Clock,
    req: ParsedRequest,
    d: Decision,
    replica: ReplicaState,
    wire: apis.Outgoing,
    timeouts: Timeouts,
    deadline: float,
    flight: _Flight | None = None,
) -> Attempted:
    if flight is not None and flight.token:
        # Counted in flight already, when it was picked (a hedge).
        start, token = flight.start, flight.token
    else:
        start = clock()
        token = _begin(engine, replica, start)
        if flight is not None:
            flight.start = start
    if flight is not None:
        flight.ran = True
    try:
        result = await engine.transport.send(
            replica,
            wire.path,
            wire.body,
            timeouts,
            deadline,
            stream=req.stream,
            max_tokens=req.max_tokens,
            ends=wire.ends,
        )
    except UpstreamError as err:
        replica.end_wait(token)
        release(engine, replica)
        now = clock()
        if flight is not None and flight.lost:
            replica.record(Failed(err, now, now - start))
        else:
            relay.failed(replica, d, err, start, now)
        return Attempted(replica, start, err)
    except BaseException:
        _given_up(engine, clock, d, replica, token, start, lost=flight is not None and flight.lost)
        raise
    replica.end_wait(token)
    return Attempted(replica, start, result)


def _begin(engine: Engine, replica: ReplicaState, now: float) -> int:
    """An attempt on ``replica`` counts as in flight from here; returns its wait token."""
    replica.record(Sent(now))
    engine.shared.started(replica)
    return replica.begin_wait(now)


def _given_up(
    engine: Engine,
    clock: Clock,
    d: Decision,
    replica: ReplicaState,
    token: int,
    start: float,
    *,
    lost: bool,
) -> None:
    """An attempt cancelled before its answer (the client left, or a hedge won): no verdict
    on the replica, but it kept us waiting this long."""
    replica.end_wait(token)
    release(engine, replica)
    now = clock()
    replica.record(GivenUp(now, now - start))
    if not lost:
        d.attempts.append(Attempt(replica.model, replica.id, CANCELLED, now - start))


async def _hedged(
    engine: Engine,
    state: State,
    clock: Clock,
    req: ParsedRequest,
    d: Decision,
    replica: ReplicaState,
    wire: apis.Outgoing,
    timeouts: Timeouts,
    deadline: float,
    tried: set[str],
    delay: float,
) -> Attempted:
    # race() runs each attempt as a task, whose first step comes a loop iteration later:
    # each counts as in flight from its pick instead, so that meanwhile other picks (and
    # other requests' hedges) see it busy.
    now = clock()
    flight = _Flight(start=now, token=_begin(engine, replica, now))
    flights = [(replica, flight)]

    def start_hedge() -> Coroutine[Any, Any, Attempted] | Later | None:
        now = clock()
        others = [
            r
            for r in state.fleet.models[replica.model].replicas
            if r is not replica and r.id not in tried and r.available(now)
            # A hedge has no fleet-wide check: never one to a shared limit or probe.
            and not engine.shared.gated(r)
        ]
        if not others:
            return None
        others = hedge_candidates(replica, others, now)
        if not others:
            # No peer is expected to beat the wait so far; it may once the wait grows.
            return LATER
        # A hedge is extra load like a retry: the same budget bounds both.
        if not engine.budget.try_spend():
            return None
        other = engine.strategy.pick(others, now)
        tried.add(other.id)
        counted = _Flight(start=now, token=_begin(engine, other, now))
        flights.append((other, counted))
        model = engine.config.models[other.model]
        other_wire = apis.outgoing(req, model, other.upstream_model)
        return _send(engine, clock, req, d, other, other_wire, timeouts, deadline, counted)

    def discard(sent: Attempted) -> None:
        _discard(engine, clock, sent)

    def lost_done(task: asyncio.Future[Attempted]) -> None:
        state.lost.discard(task)
        if not task.cancelled() and task.exception() is None:
            discard(task.result())

    def keep(task: asyncio.Future[Attempted]) -> None:
        # The primary lost: the request goes on with the hedge's answer, the primary runs
        # on for the replica's sake (its verdict), owned by the router from here.
        flight.lost = True
        now = clock()
        waited = now - flight.start
        d.attempts.append(Attempt(replica.model, replica.id, LOST_HEDGE, waited))
        replica.record(Overdue(now, waited))
        state.lost.add(task)
        task.add_done_callback(lost_done)

    try:
        outcome = await race(
            _send(engine, clock, req, d, replica, wire, timeouts, deadline, flight),
            delay,
            start_hedge,
            won=_sent_ok,
            discard=discard,
            keep=keep,
            sleep=clock.sleep,
        )
    finally:
        # The race is over and has cancelled what still ran: an attempt whose task never got
        # to run (cancelled before its first step) will not run now, and :func:`_send` never
        # saw it. Its count from the pick is given back here, once.
        for r, f in flights:
            if not f.ran:
                _given_up(engine, clock, d, r, f.token, f.start, lost=False)
    return outcome.result


def _discard(engine: Engine, clock: Clock, sent: Attempted) -> None:
    """An attempt that answered too late to be used (a failure was accounted already)."""
    result = sent.result
    if isinstance(result, UpstreamError):
        return
    replica = sent.replica
    release(engine, replica)
    now = clock()
    if isinstance(result, Reply):
        # It did answer: a success for the replica's health and latency estimate.
        replica.record(Served(now, now - sent.start))
    else:
        # A stream that started: its first byte is a latency sample; whether it would
        # have finished is unknown, so no verdict for the breaker.
        result.close()
        replica.record(FirstByte(now, now - sent.start, verdict=False))
