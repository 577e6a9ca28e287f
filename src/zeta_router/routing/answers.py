"""What a routing walk records and answers when it ends: the route reason of the attempt that
served, and the error when no model could (every candidate tried, the retry budget spent, or
the deadline passed), with what was tried and why each model was passed over."""

from __future__ import annotations

from collections.abc import Callable

from zeta_router.errors import DeadlineExceeded, NoCapacity, RouterError
from zeta_router.fleet.outcome import Reason
from zeta_router.fleet.state import Fleet, ReplicaState
from zeta_router.routing.affinity import Outcome
from zeta_router.routing.decision import Decision
from zeta_router.routing.policy import Plan


def exhausted(
    d: Decision,
    passed_over: dict[str, Reason],
    p: Plan,
    why: str | None,
    fleet: Fleet,
    retry_at: Callable[[ReplicaState, float], float],
    now: float,
) -> NoCapacity:
    tried = "; ".join(f"{m}: {r}" for m, r in passed_over.items())
    skipped = "; ".join(f"{m}: {r}" for m, r in p.skipped)
    msg = "No capable model could serve this request"
    if why:
        msg += f" ({why})"
    msg += f". Tried {tried}." if tried else "."
    if skipped:
        msg += f" Not capable: {skipped}."
    soonest = min(
        (retry_at(r, now) for c in p.candidates for r in fleet.models[c.model].replicas),
        default=now + 1.0,
    )
    d.passed_over = list(passed_over.items())
    return NoCapacity(
        msg,
        retry_after_s=max(1.0, soonest - now),
        extra={
            "zeta": {
                "task": d.task,
                "tried": [{"model": m, "reason": r.text} for m, r in passed_over.items()],
                "not_capable": [{"model": m, "reason": r} for m, r in p.skipped],
                "attempts": len(d.attempts),
            }
        },
    )


def deadline_error(passed_over: dict[str, Reason]) -> RouterError:
    tried = "; ".join(f"{m}: {r}" for m, r in passed_over.items()) or "nothing yet"
    return DeadlineExceeded(f"The request deadline passed before any model answered ({tried})")


def route_reason(
    reason: str, note: str | None, pass_no: int, spill: str | None, d: Decision
) -> str:
    parts = [spill, reason] if spill else [reason]
    if note:
        parts.append(note)
    if d.queued_s:
        parts.append(f"queued {d.queued_s:.3f}s")
    if pass_no:
        parts.append("after back-off")
    if d.affinity is not None and d.affinity.outcome is not Outcome.NONE:
        parts.append(d.affinity.describe())
    return "; ".join(parts)
