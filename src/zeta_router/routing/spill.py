"""One request's load decisions for a model: is it saturated, which later candidate may take
the request instead (spill-over), and the wait in the model's admission queue when none can.

Saturation and spill-over are pure (state and a time in, a reason or an index out); only the
queue wait suspends, on :class:`~zeta_router.routing.admission.Admission`'s own clock.
"""

from __future__ import annotations

from collections.abc import Callable

from zeta_router.config import Config
from zeta_router.fleet.outcome import Reason, Why, saturated_by
from zeta_router.fleet.state import Fleet, ModelState, ReplicaState
from zeta_router.routing.admission import Admission, capacity_bound, saturation
from zeta_router.routing.decision import Decision
from zeta_router.routing.policy import Plan


def saturated(
    config: Config,
    admission: Admission,
    ms: ModelState,
    usable: list[ReplicaState],
    tried: set[str],
    now: float,
    admitted: bool,
) -> Reason | None:
    """Why ``ms`` should take no more work now, or None when it may."""
    if not usable:
        bound = capacity_bound(ms, now, tuple(tried))
        if not bound:
            return None  # unavailable for other reasons: the failure path handles it
        used = sum(r.in_flight + r.remote_in_flight for r in bound)
        return saturated_by(f"{used}/{sum(r.max_concurrency or 0 for r in bound)} in flight")
    if admission.pending and not admitted and admission.busy(ms.name):
        return saturated_by(f"{admission.waiting(ms.name)} waiting")
    h = config.health
    return saturation(usable, now, h.stale_after_s, config.admission.kv_cache_full)


def spill_target(
    config: Config,
    admission: Admission,
    fleet: Fleet,
    p: Plan,
    idx: int,
    d: Decision,
    tried: set[str],
    passed_over: dict[str, Reason],
    now: float,
) -> int | None:
    """The first later candidate that may take this task and has room. A pinned model's
    requests wait for it rather than spill."""
    if not config.admission.spill or p.candidates[idx].model == p.pinned:
        return None
    complexity = d.profile.complexity if d.profile is not None else 0.0
    skipped: list[tuple[str, Reason]] = []
    for j in range(idx + 1, len(p.candidates)):
        ms = fleet.models[p.candidates[j].model]
        limit = ms.config.max_complexity
        if limit < complexity:
            why = f"max_complexity {limit:g} < {complexity:.2f}"
            skipped.append((ms.name, Reason(Why.MAX_COMPLEXITY, why)))
            continue
        usable = [r for r in ms.replicas if r.id not in tried and r.available(now)]
        if not usable:
            continue
        full = saturated(config, admission, ms, usable, tried, now, False)
        if full is not None:
            skipped.append((ms.name, saturated_by(f"saturated ({full})")))
            continue
        for name, reason in skipped:
            passed_over.setdefault(name, reason)
        return j
    return None


async def queue_wait(
    admission: Admission,
    clock: Callable[[], float],
    ms: ModelState,
    d: Decision,
    tried: set[str],
    deadline: float,
) -> float:
    """Wait in the model's admission queue for a slot; raises Overloaded (429)."""
    bound = capacity_bound(ms, clock(), tuple(tried)) or list(ms.replicas)
    service = sum(r.latency.value for r in bound) / len(bound)
    slots = sum(r.max_concurrency or 1 for r in bound)
    since = clock() - d.queued_s if d.queued_s else None
    return await admission.wait(ms.name, d.priority, deadline, service, slots, since)
