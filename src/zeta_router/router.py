"""The router: one object that owns all state and walks a request from profile to answer.

Per request: profile -> plan (ordered models) -> for each model, balancer picks a usable replica
-> one upstream attempt -> on failure before the first byte, the next replica, then the next
model, within the retry budget and the request's deadline. After the first byte nothing is
retried; a stream that breaks ends with an explicit SSE error event.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp

from zeta_router.analysis import build_analyzer
from zeta_router.analysis.base import Analyzer
from zeta_router.analysis.profile import TaskProfile, estimate_tokens
from zeta_router.config import ENDPOINT_TASKS, Config, Timeouts
from zeta_router.errors import (
    Blame,
    FailureKind,
    InvalidRequest,
    NoCapacity,
    RouterError,
    UpstreamError,
    UpstreamFault,
)
from zeta_router.fleet.health import HealthProber
from zeta_router.fleet.process import mirror_process_state
from zeta_router.fleet.scrape import Scraper
from zeta_router.fleet.state import Fleet, ReplicaState
from zeta_router.http import apis
from zeta_router.http.protocol import PRIORITIES, ParsedRequest
from zeta_router.http.response import Response, error_response
from zeta_router.managed.supervisor import Supervisor
from zeta_router.ops.history import History, Sampler
from zeta_router.ops.reload_log import ReloadHook, ReloadLog
from zeta_router.ops.telemetry import Telemetry
from zeta_router.routing.admission import Admission, load_report
from zeta_router.routing.answers import deadline_error, exhausted, route_reason
from zeta_router.routing.attribution import Verdict
from zeta_router.routing.balancer import build_strategy
from zeta_router.routing.budget import RetryBudget, backoff_s
from zeta_router.routing.decision import Attempt, Decision
from zeta_router.routing.feedback import Feedback
from zeta_router.routing.hedge import LATER, HedgePolicy, Later, hedge_candidates, race
from zeta_router.routing.policy import Plan, plan
from zeta_router.routing.spill import queue_wait, saturated, spill_target
from zeta_router.upstream import relay
from zeta_router.upstream.attempt import Reply, Stream, Upstream
from zeta_router.upstream.response_store import ResponseStore

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

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
@dataclass(frozen=True, slots=True)
class _Sent:
    """One upstream attempt's outcome, before it is turned into a response."""

    replica: ReplicaState
    start: float
    result: Reply | Stream | UpstreamError


@dataclass(frozen=True, slots=True)
class _Failed:
    """An attempt that failed, and the replica that failed it (the hedge's, when it raced)."""

    replica: ReplicaState
    error: UpstreamError


def _sent_ok(sent: _Sent) -> bool:
    return not isinstance(sent.result, UpstreamError)


@dataclass(slots=True)
class _Flight:
    """One attempt on its way. ``lost`` once it lost a hedge race and was left to finish on its
    own: its outcome then goes to the replica only, since the request was answered already."""

    start: float = 0.0
    lost: bool = False


#: The decision's record of an overdue primary that a hedge beat.
_LOST_HEDGE = f"{FailureKind.CANCELLED.value}: lost the hedge race"


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """What the client asked of the router itself (x-zeta-* headers)."""

    task: str | None = None
    priority: int = PRIORITIES["normal"]
    timeout_s: float | None = None


class Router:
    def __init__(
        self,
        config: Config,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        session: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
        analyzer: Analyzer | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.fleet = Fleet(config)
        self.analyzer = analyzer or build_analyzer(config.analysis)
        h = config.health
        self.strategy = build_strategy(
            config.balancer, self._rng, h.slow_start_s, h.stale_after_s
        )
        self.upstream = Upstream(clock, session)
        self.budget = RetryBudget(config.retry, clock)
        self.admission = Admission(config.admission, clock)
        self.feedback = Feedback(config.feedback, clock)
        #: Conversations behind the Responses API's previous_response_id.
        self.responses = ResponseStore(config.responses, clock)
        self.scraper = Scraper(
            config, self.fleet, self.upstream.get, clock=clock, sleep=sleep
        )
        self.prober = HealthProber(config, self.fleet, self.upstream.get, clock=clock, sleep=sleep)
        self.hedge = HedgePolicy(config.hedge) if config.hedge.enabled else None
        #: Local model servers this router launches (replicas with a ``launch`` entry).
        self.supervisor: Supervisor | None = None
        if any(r.launch for m in config.models.values() for r in m.replicas):
            self.supervisor = Supervisor.from_config(config, on_state=self._on_managed_state)
        self.telemetry = Telemetry(
            access_log_enabled=config.server.access_log, log_prompts=config.server.log_prompts
        )
        #: The fleet over time, one sample a second (the dashboard's charts, ``top``).
        self.history = History()
        self.sampler = Sampler(
            self.history, self.telemetry.take_window, self.all_replicas, sleep=sleep
        )
        #: The file the config came from; a reload with no body re-reads it.
        self.config_path: str | None = None
        #: Replicas a reload removed, kept visible until their in-flight requests finish.
        self.draining: dict[str, ReplicaState] = {}
        self.reloads = ReloadLog()
        self.reload_hooks: list[ReloadHook] = []
        self._id_prefix = os.urandom(4).hex()
        self._seq = 0
        self.started_at = time.time()
        #: Plans of requests that fit every model's context window, which then depend only on
        #: (task, endpoint, pinned model); keyed to the config they were made from (reloads).
        self._plans: dict[tuple[str, str, str | None], Plan] = {}
        self._plans_config: Config | None = None
        self._plans_fit = 0
        #: Attempts that lost a hedge race and run on until their verdict (see hedge.py).
        self._lost: set[asyncio.Future[_Sent]] = set()

    async def start(self) -> None:
        self.telemetry.start()
        self.sampler.start()
        if self.supervisor is not None:
            # Launch without waiting: the replicas stay STARTING (unused) until ready.
            await self.supervisor.start()
        if self.config.health.scrape_metrics:
            self.scraper.start()
        if self.config.health.enabled:
            self.prober.start()

    async def close(self) -> None:
        lost = list(self._lost)
        for t in lost:
            t.cancel()
        if lost:
            await asyncio.wait(lost)
        await self.scraper.stop()
        await self.prober.stop()
        if self.supervisor is not None:
            await self.supervisor.stop()
        await self.sampler.stop()
        await self.telemetry.stop()
        await self.upstream.close()

    def _on_managed_state(self, rid: str, state: str) -> None:
        replica = self.fleet.replicas.get(rid)
        if replica is None:
            return
        how = None
        if self.supervisor is not None and rid in self.supervisor:
            how = self.supervisor[rid].last_exit
        mirror_process_state(replica, state, self.clock(), how)

    # -- decisions (pure, no I/O) -------------------------------------------------------------

    def new_request_id(self) -> str:
        self._seq += 1
        return f"zr-{self._id_prefix}-{self._seq:x}"

    def profile(self, req: ParsedRequest, task: str | None) -> TaskProfile:
        if req.prompt is None:
            tokens = estimate_tokens(req.input_chars)
            why = (f"{req.endpoint} endpoint",)
            return TaskProfile(req.endpoint, 0.0, 1.0, tokens, "endpoint", why)
        if task is not None:
            tokens = estimate_tokens(req.prompt.chars)
            return TaskProfile(task, 0.5, 1.0, tokens, "header", ("x-zeta-task header",))
        return self.analyzer.analyze(req.prompt)

    def route_task(self, profile: TaskProfile) -> tuple[str, str | None]:
        """The task whose route is used, and a note when it is not the profile's own."""
        a = self.config.analysis
        if profile.source not in ("header", "endpoint") and profile.confidence < a.min_confidence:
            return a.default_task, f"low confidence {profile.confidence:.2f}, default route"
        if profile.task not in self.config.tasks:
            return a.default_task, f"no route for {profile.task}, default route"
        return profile.task, None

    def plan_for(self, req: ParsedRequest, profile: TaskProfile, task: str) -> Plan:
        config = self.config
        if self._plans_config is not config:
            self._plans.clear()
            self._plans_config = config
            windows = [m.context_window for m in config.models.values()]
            self._plans_fit = min((w for w in windows if w is not None), default=2**62)
        cacheable = profile.prompt_tokens + (req.max_tokens or 0) <= self._plans_fit
        # Bounded without an explicit limit: tasks come from the config's list and a pinned
        # model outside the config raises before anything is stored.
        key = (task, req.endpoint, req.model)
        p = self._plans.get(key) if cacheable else None
        if p is None:
            p = plan(
                config,
                task,
                req.endpoint,
                pinned=req.model,
                prompt_tokens=profile.prompt_tokens,
                max_tokens=req.max_tokens,
            )
            if cacheable:
                self._plans[key] = p
        return p

    # -- the request path ---------------------------------------------------------------------

    async def handle(self, req: ParsedRequest, opts: RequestOptions) -> Response:
        now = self.clock()
        d = Decision(self.new_request_id(), req.kind, now, stream=req.stream)
        d.priority = opts.priority
        try:
            if opts.task is not None and req.endpoint in ENDPOINT_TASKS:
                raise InvalidRequest(
                    f"x-zeta-task does not apply to {req.endpoint}", param="x-zeta-task"
                )
            profile = self.profile(req, opts.task)
            d.profile = profile
            if req.prompt is not None and self.telemetry.log_prompts:
                d.prompt = req.prompt.last_user
            task, note = self.route_task(profile)
            d.task = task
            p = self.feedback.reorder(
                self.plan_for(req, profile, task), profile.complexity, self.config.models
            )
            d.preferred = p.preferred
            total = opts.timeout_s
            if total is None:
                total = self.config.admission.default_deadline_s or self.config.timeouts.total_s
            resp = await self._serve(req, d, p, now + total, note)
            self.feedback.remember(d)
            d.router_overhead_s = self.clock() - now - sum(a.elapsed_s for a in d.attempts)
        except RouterError as err:
            d.status = err.status
            d.error = err.message
            resp = error_response(err, relay.error_headers(d))
        resp.decision = d
        return resp

    def finish(self, d: Decision) -> None:
        """Called by the HTTP layer once the last byte was sent (or the client left)."""
        d.duration_s = self.clock() - d.started
        self.feedback.observe(d)
        self.telemetry.record(d)

    async def _serve(
        self, req: ParsedRequest, d: Decision, p: Plan, deadline: float, note: str | None
    ) -> Response:
        verdict = Verdict(d, self.config.breaker)
        try:
            return await self._walk(req, d, p, deadline, note, verdict)
        except UpstreamFault:
            verdict.exhausted(self.clock())  # settle what another answer left held
            raise
        except RouterError:
            fault = verdict.exhausted(self.clock())
            if fault is None:
                raise
            raise relay.upstream_fault(fault.replica, fault.error, d) from None

    async def _walk(
        self,
        req: ParsedRequest,
        d: Decision,
        p: Plan,
        deadline: float,
        note: str | None,
        verdict: Verdict,
    ) -> Response:
        if not p.candidates:
            why = "; ".join(f"{m}: {r}" for m, r in p.skipped) or "the route is empty"
            if d.profile is not None and d.profile.source == "header":
                # The client chose the task: its route cannot serve this endpoint, ever.
                raise InvalidRequest(
                    f"No model on the route of x-zeta-task '{d.task}' can serve this request "
                    f"({why})",
                    param="x-zeta-task",
                )
            raise NoCapacity(f"No configured model can serve this request ({why})")
        self.budget.on_request()
        attempts_left = self.config.retry.max_attempts
        passed_over: dict[str, str] = {}
        transient: list[tuple[ReplicaState, UpstreamError]] = []
        tried: set[str] = set()
        spill: str | None = None
        admitted = False
        for pass_no in range(2):
            spill_to = 0
            for idx, cand in enumerate(p.candidates):
                if idx < spill_to:
                    continue
                ms = self.fleet.models[cand.model]
                while attempts_left > 0:
                    now = self.clock()
                    if now >= deadline - _MIN_ATTEMPT_S:
                        raise deadline_error(passed_over)
                    usable = [r for r in ms.replicas if r.id not in tried and r.available(now)]
                    why = saturated(self.config, self.admission, ms, usable, tried, now, admitted)
                    if why:
                        to = spill_target(
                            self.config, self.admission, self.fleet, p, idx, d, tried,
                            passed_over, now,
                        )
                        if to is not None:
                            passed_over[cand.model] = f"saturated ({why})"
                            spill = f"spill: {cand.model} saturated ({why})"
                            spill_to = to
                            break
                        if not usable or (not admitted and self.admission.busy(ms.name)):
                            d.queued_s += await queue_wait(
                                self.admission, self.clock, ms, d, tried, deadline
                            )
                            admitted = True
                            continue
                    if not usable:
                        if cand.model not in passed_over:
                            passed_over[cand.model] = (
                                ms.unavailable_reason(now) or "no replica left"
                            )
                        break
                    if d.attempts and not self.budget.try_spend():
                        passed_over.setdefault(cand.model, "retry budget exhausted")
                        raise self._exhausted(d, passed_over, p, "retry budget exhausted")
                    replica = self.strategy.pick(usable, now)
                    attempts_left -= 1
                    result = await self._attempt(req, d, replica, deadline, tried)
                    if isinstance(result, Response):
                        verdict.served(self.clock())
                        d.passed_over = [(m, r) for m, r in passed_over.items() if m != cand.model]
                        d.route = route_reason(cand.reason, note, pass_no, spill, d)
                        relay.set_headers(result, d)
                        return result
                    tried.add(replica.id)
                    fault = verdict.failed(result.replica, result.error, self.clock())
                    if fault is not None:
                        raise relay.upstream_fault(fault.replica, fault.error, d)
                    err = result.error
                    passed_over[cand.model] = err.reason
                    # A held failure (no verdict yet) is not tried on the same replica again.
                    if err.kind in _TRANSIENT and err.blame is Blame.REPLICA:
                        transient.append((replica, err))
            if pass_no or attempts_left <= 0 or not transient:
                break
            # Every candidate failed. One more pass after a back-off, but only when something
            # failed transiently and the wait fits the deadline.
            hinted = [e.retry_after_s for _, e in transient]
            delay = backoff_s(self.config.retry, hinted, self._rng.random())
            if self.clock() + delay >= deadline:
                break
            await self._sleep(delay)
            tried.clear()
            transient.clear()
        raise self._exhausted(d, passed_over, p, None)

    def _exhausted(
        self, d: Decision, passed_over: dict[str, str], p: Plan, why: str | None
    ) -> NoCapacity:
        return exhausted(d, passed_over, p, why, self.fleet, self.prober.retry_at, self.clock())

    def all_replicas(self) -> list[ReplicaState]:
        """The live replicas, then those a reload removed that still finish requests."""
        live = self.fleet.replicas
        draining = [r for rid, r in self.draining.items() if rid not in live]
        return [*live.values(), *draining]

    def _release(self, replica: ReplicaState) -> None:
        replica.in_flight -= 1
        if self.admission.pending:
            self.admission.release(replica.model)

    def load_report(self) -> dict[str, Any]:
        """Saturation, queues and feedback scores per model (GET /v1/feedback)."""
        return load_report(self.fleet, self.admission, self.feedback, self.config, self.clock())

    async def _attempt(
        self,
        req: ParsedRequest,
        d: Decision,
        replica: ReplicaState,
        deadline: float,
        tried: set[str],
    ) -> Response | _Failed:
        """One try on one replica (plus, when hedging, at most one more on another replica of
        the same model). Returns the response, or the failure for the retry loop."""
        timeouts = self.config.timeouts_for(replica.model)
        deadline = min(deadline, self.clock() + timeouts.total_s)
        model = self.config.models[replica.model]
        wire = apis.outgoing(req, model, replica.upstream_model)
        delay = self.hedge.delay_for(replica) if self.hedge is not None else None
        if delay is None:
            sent = await self._send(req, d, replica, wire, timeouts, deadline)
        else:
            sent = await self._hedged(req, d, replica, wire, timeouts, deadline, tried, delay)
        result = sent.result
        replica = sent.replica
        if isinstance(result, UpstreamError):
            return _Failed(replica, result)
        if isinstance(result, Reply):
            self._release(replica)
            out = relay.complete_reply(result, replica, d, sent.start, self.clock())
            if isinstance(out, UpstreamError):
                return _Failed(replica, out)
            if req.api is not None:
                return apis.reply(req, wire, out, d, self.responses)
            return relay.reply_as_stream(out) if req.stream else out
        resp = relay.start_stream(result, replica, d, sent.start, self.clock, self._release)
        if req.api is not None:
            apis.stream(req, wire, resp, d, self.responses)
        return resp

    async def _send(
        self,
        req: ParsedRequest,
        d: Decision,
        replica: ReplicaState,
        wire: apis.Outgoing,
        timeouts: Timeouts,
        deadline: float,
        flight: _Flight | None = None,
    ) -> _Sent:
        start = self.clock()
        if flight is not None:
            flight.start = start
        replica.breaker.on_attempt(start)
        replica.in_flight += 1
        replica.requests += 1
        token = replica.begin_wait(start)
        try:
            result = await self.upstream.send(
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
            self._release(replica)
            now = self.clock()
            if flight is not None and flight.lost:
                replica.on_failure(err, now, now - start)
            else:
                relay.failed(replica, d, err, start, now)
            return _Sent(replica, start, err)
        except BaseException:
            # Cancelled (the client left, or a hedge won): no verdict on the replica, but it
            # kept us waiting this long.
            replica.end_wait(token)
            self._release(replica)
            now = self.clock()
            replica.on_given_up(now - start, now)
            if flight is None or not flight.lost:
                d.attempts.append(Attempt(replica.model, replica.id, "cancelled", now - start))
            raise
        replica.end_wait(token)
        return _Sent(replica, start, result)

    async def _hedged(
        self,
        req: ParsedRequest,
        d: Decision,
        replica: ReplicaState,
        wire: apis.Outgoing,
        timeouts: Timeouts,
        deadline: float,
        tried: set[str],
        delay: float,
    ) -> _Sent:
        def start_hedge() -> Coroutine[Any, Any, _Sent] | Later | None:
            now = self.clock()
            others = [
                r
                for r in self.fleet.models[replica.model].replicas
                if r is not replica and r.id not in tried and r.available(now)
            ]
            if not others:
                return None
            others = hedge_candidates(replica, others, now)
            if not others:
                # No peer is expected to beat the wait so far; it may once the wait grows.
                return LATER
            # A hedge is extra load like a retry: the same budget bounds both.
            if not self.budget.try_spend():
                return None
            other = self.strategy.pick(others, now)
            tried.add(other.id)
            other_wire = apis.outgoing(req, self.config.models[other.model], other.upstream_model)
            return self._send(req, d, other, other_wire, timeouts, deadline)

        flight = _Flight()

        def keep(task: asyncio.Future[_Sent]) -> None:
            # The primary lost: the request goes on with the hedge's answer, the primary runs
            # on for the replica's sake (its verdict), owned by the router from here.
            flight.lost = True
            now = self.clock()
            waited = now - flight.start
            d.attempts.append(Attempt(replica.model, replica.id, _LOST_HEDGE, waited))
            replica.latency.observe_at_least(waited, now)
            self._lost.add(task)
            task.add_done_callback(self._lost_done)

        outcome = await race(
            self._send(req, d, replica, wire, timeouts, deadline, flight),
            delay,
            start_hedge,
            won=_sent_ok,
            discard=self._discard,
            keep=keep,
            sleep=self._sleep,
        )
        return outcome.result

    def _lost_done(self, task: asyncio.Future[_Sent]) -> None:
        self._lost.discard(task)
        if not task.cancelled() and task.exception() is None:
            self._discard(task.result())

    def _discard(self, sent: _Sent) -> None:
        """An attempt that answered too late to be used (a failure was accounted already)."""
        result = sent.result
        if isinstance(result, UpstreamError):
            return
        replica = sent.replica
        self._release(replica)
        now = self.clock()
        if isinstance(result, Reply):
            # It did answer: a success for the replica's health and latency estimate.
            replica.on_success(now, now - sent.start)
        else:
            # A stream that started: its first byte is a latency sample; whether it would
            # have finished is unknown, so no verdict for the breaker.
            result.close()
            replica.observe_ttfb(now - sent.start, now)
            replica.breaker.on_neutral()
