"""The composition root: builds the router's parts from a config, owns them, and hands each
request to the engine.

- The :class:`~zeta_router.routing.engine.Engine` (analyzer, planner, admission, balancer,
  retry budget, hedge policy, transport) is immutable; a reload builds the next one and
  :meth:`Router.swap` replaces the reference in one assignment.
- The :class:`~zeta_router.routing.engine.State` (fleet, feedback scores, stored
  conversations) outlives engines.
- The retry loop is :func:`zeta_router.routing.retry.serve`, a function of the engine, the
  state and the router's one :class:`~zeta_router.clock.Clock`.
- Background parts (health probes, metric scrapes, managed processes, telemetry, the history
  sampler) are started and stopped here.

Nothing outside this module assigns the router's attributes; they are read-only properties.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from zeta_router.analysis.base import Analyzer
from zeta_router.analysis.profile import TaskProfile
from zeta_router.clock import Clock, as_clock
from zeta_router.config import Config
from zeta_router.errors import RouterError
from zeta_router.fleet.backends import build_shared
from zeta_router.fleet.health import HealthProber
from zeta_router.fleet.process import ProcessState, mirror_process_state
from zeta_router.fleet.scrape import Scraper
from zeta_router.fleet.shared import SharedState
from zeta_router.fleet.state import Fleet, ReplicaState
from zeta_router.http.protocol import PRIORITIES, ParsedRequest
from zeta_router.http.response import Response, error_response
from zeta_router.managed.supervisor import Supervisor
from zeta_router.ops.history import History, Sampler
from zeta_router.ops.reload_log import ReloadHook, ReloadLog
from zeta_router.ops.telemetry import Telemetry
from zeta_router.routing.admission import Admission, load_report
from zeta_router.routing.affinity import Affinity
from zeta_router.routing.affinity_share import AffinityShare
from zeta_router.routing.balancer import Strategy
from zeta_router.routing.budget import RetryBudget
from zeta_router.routing.decision import Decision
from zeta_router.routing.engine import Engine, Route, State, build_engine, decide
from zeta_router.routing.feedback import Feedback
from zeta_router.routing.hedge import HedgePolicy
from zeta_router.routing.policy import Allowed, Plan
from zeta_router.routing.retry import serve
from zeta_router.upstream import relay
from zeta_router.upstream.http_transport import HttpTransport
from zeta_router.upstream.response_store import ResponseStore
from zeta_router.upstream.transport import Transport


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """What the client asked of the router itself (x-zeta-* headers); ``models``: its key's."""

    task: str | None = None
    priority: int = PRIORITIES["normal"]
    timeout_s: float | None = None
    models: Allowed = None
    #: x-zeta-session: requests naming the same session go to the same replica (cache affinity).
    session: str | None = None


class Router:
    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        session: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
        analyzer: Analyzer | None = None,
        transport: Transport | None = None,
        config_path: str | None = None,
    ) -> None:
        #: The one time base of every deadline, timeout, back-off and timer of this router.
        self.clock: Clock = as_clock(clock, sleep)
        clk = self.clock
        self._transport = transport if transport is not None else HttpTransport(clk, session)
        self._admission = Admission(config.admission, clk)
        #: The fleet view shared with other instances (state.backend); outlives engines.
        self._shared = build_shared(config, clk, self._admission.release)
        channel = self._shared.channel("affinity")
        #: Affinity across instances, when they share state: published in the background.
        self._share = (
            AffinityShare(
                channel,
                os.urandom(6).hex(),
                clk,
                clk.sleep,
                lambda: self._engine.affinity.index,
                lambda rid: rid in self.fleet.replicas,
            )
            if channel is not None
            else None
        )
        self._engine = build_engine(
            config,
            clock=clk,
            transport=self._transport,
            admission=self._admission,
            rng=rng or random.Random(),
            analyzer=analyzer,
            shared=self._shared,
            share=self._share,
        )
        self.fleet = Fleet(config)
        self.feedback = Feedback(config.feedback, clk)
        #: Conversations behind the Responses API's previous_response_id.
        self.responses = ResponseStore(config.responses, clk)
        self.state = State(self.fleet, self.feedback, self.responses, self._retry_at)
        self._prober, self._scraper = self._background(config)
        #: Local model servers this router launches (replicas with a ``launch`` entry).
        self.supervisor: Supervisor | None = None
        if any(r.launch for m in config.models.values() for r in m.replicas):
            self.supervisor = Supervisor.from_config(config, on_state=self._on_managed_state)
        self.telemetry = Telemetry(
            access_log_enabled=config.server.access_log, log_prompts=config.server.log_prompts
        )
        # Breaker transitions, counted and logged off the request path.
        self.fleet.subscribe(self.telemetry.on_outcome, transitions_only=True)
        #: The fleet over time, one sample a second (the dashboard's charts, ``top``).
        self.history = History()
        self.sampler = Sampler(
            self.history, self.telemetry.take_window, self.all_replicas, sleep=clk.sleep
        )
        #: The file the config came from; a reload with no body re-reads it.
        self.config_path = config_path
        #: Replicas a reload removed, kept visible until their in-flight requests finish.
        self.draining: dict[str, ReplicaState] = {}
        self.reloads = ReloadLog()
        self.reload_hooks: list[ReloadHook] = []
        self._id_prefix = os.urandom(4).hex()
        self._seq = 0
        self.started_at = time.time()

    # -- the parts, read-only -----------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def config(self) -> Config:
        return self._engine.config

    @property
    def analyzer(self) -> Analyzer:
        return self._engine.analyzer

    @property
    def strategy(self) -> Strategy:
        return self._engine.strategy

    @property
    def affinity(self) -> Affinity:
        return self._engine.affinity

    @property
    def affinity_share(self) -> AffinityShare | None:
        return self._share

    @property
    def budget(self) -> RetryBudget:
        return self._engine.budget

    @property
    def hedge(self) -> HedgePolicy | None:
        return self._engine.hedge

    @property
    def admission(self) -> Admission:
        return self._admission

    @property
    def shared(self) -> SharedState:
        return self._shared

    @property
    def upstream(self) -> Transport:
        return self._transport

    @property
    def prober(self) -> HealthProber:
        return self._prober

    @property
    def scraper(self) -> Scraper:
        return self._scraper

    # -- lifecycle ----------------------------------------------------------------------------

    def _background(self, config: Config) -> tuple[HealthProber, Scraper]:
        get, clk = self._transport.get, self.clock
        prober = HealthProber(config, self.fleet, get, clock=clk, sleep=clk.sleep)
        scraper = Scraper(config, self.fleet, get, clock=clk, sleep=clk.sleep)
        return prober, scraper

    def _start_background(self) -> None:
        if self.config.health.scrape_metrics:
            self._scraper.start()
        if self.config.health.enabled:
            self._prober.start()

    async def start(self) -> None:
        await self._shared.start(self.fleet, self.feedback)
        if self._share is not None:
            self._share.start()
        self.telemetry.start()
        self.sampler.start()
        if self.supervisor is not None:
            # Launch without waiting: the replicas stay STARTING (unused) until ready.
            await self.supervisor.start()
        self._start_background()

    async def close(self) -> None:
        lost = list(self.state.lost)
        for t in lost:
            t.cancel()
        if lost:
            await asyncio.wait(lost)
        await self._scraper.stop()
        await self._prober.stop()
        if self.supervisor is not None:
            await self.supervisor.stop()
        await self.sampler.stop()
        await self.telemetry.stop()
        if self._share is not None:
            await self._share.stop()
        await self._shared.close()
        await self._transport.close()

    def swap(self, engine: Engine) -> list[str]:
        """Put a reloaded config's engine in place: one reference swap, plus the settings of
        the parts whose learned state outlives engines (queues, feedback scores, telemetry).
        Returns what else was rebuilt (probes, on a router that is not serving yet)."""
        old, new = self._engine.config, engine.config
        self._admission.configure(new.admission)
        self.feedback.configure(new.feedback)
        self.telemetry.configure(
            access_log_enabled=new.server.access_log, log_prompts=new.server.log_prompts
        )
        self._engine = engine
        rebuilt = []
        if new.health != old.health and not self.telemetry.running:
            # Not serving yet: nothing to stop. A running router restarts them in
            # restart_background, after the swap.
            self._prober, self._scraper = self._background(new)
            rebuilt.append("probes")
        for hook in self.reload_hooks:
            hook(old, new)
        return rebuilt

    async def restart_background(self) -> None:
        """Probe and scrape settings changed on a running router: restart those tasks."""
        await self._prober.stop()
        await self._scraper.stop()
        self._prober, self._scraper = self._background(self.config)
        self._start_background()

    def _retry_at(self, replica: ReplicaState, now: float) -> float:
        return self._prober.retry_at(replica, now)

    def _on_managed_state(self, rid: str, state: ProcessState) -> None:
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
        return self._engine.planner.profile(req, task)

    def route_task(self, profile: TaskProfile) -> tuple[str, str | None]:
        return self._engine.planner.route_task(profile)

    def plan_for(self, req: ParsedRequest, profile: TaskProfile, task: str) -> Plan:
        return self._engine.planner.plan_for(req, profile, task)

    def decide(self, req: ParsedRequest, task: str | None = None) -> Route:
        """The engine's decision for ``req`` (what ``explain`` shows): pure, no I/O."""
        return decide(self._engine.planner, self.feedback, req, task)

    # -- the request path ---------------------------------------------------------------------

    async def handle(self, req: ParsedRequest, opts: RequestOptions) -> Response:
        engine = self._engine  # one engine for the whole request, whatever a reload does
        clock = self.clock
        now = clock()
        d = Decision(self.new_request_id(), req.kind, now, stream=req.stream)
        d.priority = opts.priority
        try:
            route = decide(engine.planner, self.feedback, req, opts.task, d, opts.models)
            if req.prompt is not None and self.telemetry.log_prompts:
                d.prompt = req.prompt.last_user
            deadline = engine.deadline(now, opts.timeout_s)
            models = self.state.fleet.models
            choices = max((len(models[c.model].replicas) for c in route.plan.candidates), default=0)
            key = engine.affinity.key(req.endpoint, req.body, opts.session, choices)
            resp = await serve(
                engine, self.state, clock, req, d, route.plan, deadline, route.note, key
            )
            self.feedback.remember(d)
            d.router_overhead_s = clock() - now - sum(a.elapsed_s for a in d.attempts)
        except RouterError as err:
            d.status = err.status
            d.error = err.message
            resp = error_response(err, relay.error_headers(d))
        resp.decision = d
        return resp

    def finish(self, d: Decision) -> None:
        """Called by the HTTP layer once the last byte was sent (or the client left)."""
        d.duration_s = self.clock() - d.started
        self._engine.affinity.report(d.affinity, d.cache)
        self.feedback.observe(d)
        self.telemetry.record(d)

    def all_replicas(self) -> list[ReplicaState]:
        """The live replicas, then those a reload removed that still finish requests."""
        live = self.fleet.replicas
        draining = [r for rid, r in self.draining.items() if rid not in live]
        return [*live.values(), *draining]

    def load_report(self) -> dict[str, Any]:
        """Saturation, queues and feedback scores per model (GET /v1/feedback)."""
        return load_report(self.fleet, self._admission, self.feedback, self.config, self.clock())
