"""The engine: every decision part built from one config, as one immutable bundle.

An :class:`Engine` holds the analyzer, the planner, admission (saturation, spill-over and the
queue), the balancing strategy, the retry budget, the hedge policy and the transport. It is
frozen: a config reload builds the next engine (reusing every part whose settings did not
change) and the router replaces its reference in one assignment, so a request sees either the
old engine or the new one, never a mix.

:func:`decide` is the engine's decision path for one request, from prompt to ordered
candidates; the router and ``zeta-router explain`` both call it, so they cannot disagree.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from zeta_router.analysis import build_analyzer
from zeta_router.analysis.base import Analyzer
from zeta_router.analysis.profile import TaskProfile, estimate_tokens
from zeta_router.config import Config, Model
from zeta_router.fleet.shared import MemoryState, SharedState
from zeta_router.fleet.state import Fleet, ReplicaState
from zeta_router.http.protocol import ParsedRequest
from zeta_router.routing.admission import Admission
from zeta_router.routing.affinity import Affinity
from zeta_router.routing.affinity_share import AffinityShare, SharedStores
from zeta_router.routing.balancer import Strategy, build_strategy
from zeta_router.routing.budget import RetryBudget
from zeta_router.routing.decision import Decision
from zeta_router.routing.feedback import Feedback
from zeta_router.routing.hedge import HedgePolicy
from zeta_router.routing.policy import Allowed, Plan, plan, task_named
from zeta_router.upstream.response_store import ResponseStore
from zeta_router.upstream.transport import Transport


class Planner:
    """Task profile -> route -> plan, with the plans of requests that fit every model's context
    window cached: those depend only on (task, endpoint, pinned model). One planner per engine,
    so the cache always belongs to the config it was filled from."""

    __slots__ = ("_fit", "_plans", "analyzer", "config")

    def __init__(self, config: Config, analyzer: Analyzer) -> None:
        self.config = config
        self.analyzer = analyzer
        self._plans: dict[tuple[str, str, str | None, Allowed], Plan] = {}
        windows = [m.context_window for m in config.models.values()]
        self._fit = min((w for w in windows if w is not None), default=2**62)

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

    def plan_for(
        self, req: ParsedRequest, profile: TaskProfile, task: str, allowed: Allowed = None
    ) -> Plan:
        """``allowed``: a client key's models, the only candidates then (None: every model)."""
        cacheable = profile.prompt_tokens + (req.max_tokens or 0) <= self._fit
        # Bounded without an explicit limit: tasks come from the config's list, allow-lists
        # from its keys, and a pinned model outside the config raises before anything is stored.
        key = (task, req.endpoint, req.model, allowed)
        p = self._plans.get(key) if cacheable else None
        if p is None:
            p = plan(
                self.config,
                task,
                req.endpoint,
                pinned=req.model,
                prompt_tokens=profile.prompt_tokens,
                max_tokens=req.max_tokens,
                allowed=allowed,
            )
            if cacheable:
                self._plans[key] = p
        return p


class Route(NamedTuple):
    """The engine's decision for one request before any replica is tried (a named tuple:
    immutable, and built per request at a third of a frozen dataclass's cost)."""

    profile: TaskProfile
    #: The task whose route is used; ``note`` says why when it is not the profile's own.
    task: str
    note: str | None
    #: Candidates in order, after feedback's reordering.
    plan: Plan


class Reorders(Protocol):
    """What reorders a plan by learned scores: the router's :class:`Feedback`, or the scores
    ``explain`` read from a live router."""

    def reorder(self, p: Plan, complexity: float, models: Mapping[str, Model]) -> Plan: ...


def decide(
    planner: Planner,
    feedback: Reorders,
    req: ParsedRequest,
    task_header: str | None,
    record: Decision | None = None,
    allowed: Allowed = None,
) -> Route:
    """Profile, route and plan one request: pure, no I/O. Raises the RouterError of a request
    no route can take (or that names a task its endpoint has no use for); ``record``, when
    given, holds the profile and task found by then."""
    refused = task_named(req.endpoint, task_header)
    if refused is not None:
        raise refused.error()
    profile = planner.profile(req, task_header)
    task, note = planner.route_task(profile)
    if record is not None:
        record.profile = profile
        record.task = task
    p = planner.plan_for(req, profile, task, allowed)
    p = feedback.reorder(p, profile.complexity, planner.config.models)
    if record is not None:
        record.preferred = p.preferred
    return Route(profile, task, note, p)


@dataclass(frozen=True, slots=True)
class Engine:
    """The decision parts of one config. Frozen: a reload builds a new one."""

    config: Config
    analyzer: Analyzer
    planner: Planner
    #: Saturation, spill-over and the queue. The queue's waiters outlive a reload: every
    #: engine shares the router's one :class:`Admission`.
    admission: Admission
    #: The fleet view shared with other gateway instances (state.backend); like admission,
    #: one per router, carried from engine to engine.
    shared: SharedState
    strategy: Strategy
    #: Cache affinity around the strategy; its index and sessions outlive reloads that leave
    #: its settings alone.
    affinity: Affinity
    #: Publishes and merges affinity across instances (state.backend redis); one per router.
    share: AffinityShare | None
    budget: RetryBudget
    hedge: HedgePolicy | None
    transport: Transport
    #: The balancer's randomness, kept across reloads so seeded runs repeat.
    rng: random.Random

    def deadline(self, now: float, requested_s: float | None) -> float:
        """When a request started at ``now`` must be answered: the client's own timeout
        (``x-zeta-timeout-ms``), else the admission deadline, else the total timeout."""
        total = requested_s
        if total is None:
            total = self.config.admission.default_deadline_s or self.config.timeouts.total_s
        return now + total


def build_engine(
    config: Config,
    *,
    clock: Callable[[], float],
    transport: Transport,
    admission: Admission,
    rng: random.Random,
    analyzer: Analyzer | None = None,
    prev: Engine | None = None,
    shared: SharedState | None = None,
    share: AffinityShare | None = None,
) -> Engine:
    """The engine for ``config``. With ``prev`` (a reload), each part whose settings did not
    change is carried over, so a reload that touches one model keeps caches and budgets warm.
    Raises ConfigError before anything live changes."""
    old = prev.config if prev is not None else None
    if analyzer is None:
        if prev is not None and old is not None and config.analysis == old.analysis:
            analyzer = prev.analyzer
        else:
            analyzer = build_analyzer(config.analysis)
    h = config.health
    if (
        prev is not None
        and old is not None
        and config.balancer == old.balancer
        and h.slow_start_s == old.health.slow_start_s
        and h.stale_after_s == old.health.stale_after_s
    ):
        strategy = prev.strategy
    else:
        strategy = build_strategy(config.balancer, rng, h.slow_start_s, h.stale_after_s)
    if prev is not None and old is not None and (
        config.balancer.affinity == old.balancer.affinity
        and h.slow_start_s == old.health.slow_start_s
        and h.stale_after_s == old.health.stale_after_s
    ):
        affinity = prev.affinity
    else:
        if share is None and prev is not None:
            share = prev.share
        stores = (
            SharedStores(config.balancer.affinity, share.sender) if share is not None else None
        )
        affinity = Affinity(
            config.balancer.affinity,
            h.slow_start_s,
            h.stale_after_s,
            index=stores,
            sessions=stores,
        )
    if share is None and prev is not None:
        share = prev.share
    if prev is not None and old is not None and config.retry == old.retry:
        budget = prev.budget
    else:
        budget = RetryBudget(config.retry, clock)
    if prev is not None and old is not None and config.hedge == old.hedge:
        hedge = prev.hedge
    else:
        hedge = HedgePolicy(config.hedge) if config.hedge.enabled else None
    if shared is None:
        shared = prev.shared if prev is not None else MemoryState()
    return Engine(
        config=config,
        analyzer=analyzer,
        planner=Planner(config, analyzer),
        admission=admission,
        shared=shared,
        strategy=strategy,
        affinity=affinity,
        share=share,
        budget=budget,
        hedge=hedge,
        transport=transport,
        rng=rng,
    )


def rebuilt(old: Engine, new: Engine) -> list[str]:
    """The parts ``new`` built afresh rather than carried over from ``old`` (for the reload
    log)."""
    out = []
    if new.analyzer is not old.analyzer:
        out.append("analyzer")
    if new.strategy is not old.strategy:
        out.append("strategy")
    if new.affinity is not old.affinity:
        out.append("affinity")
    if new.budget is not old.budget:
        out.append("retry budget")
    if new.config.hedge != old.config.hedge:
        out.append("hedge")
    return out


@dataclass(frozen=True, slots=True)
class State:
    """What the request path reads and writes that outlives any one engine: the live fleet,
    the learned feedback scores, the Responses API's conversations, and the attempts that lost
    a hedge race and still run (the router cancels them on close)."""

    fleet: Fleet
    feedback: Feedback
    responses: ResponseStore
    #: Earliest time a replica may serve again (health probes know better than the breaker).
    retry_at: Callable[[ReplicaState, float], float]
    lost: set[asyncio.Future[Any]] = field(default_factory=set)
