"""From a task profile to an ordered list of candidate models, each with a reason.

Pure and static: it reads the config, never live load. Live concerns (a model with no usable
replica, spill-over when the preferred model is saturated) are applied by the router as it walks
the plan, so this stays trivially testable and cacheable.
"""

from __future__ import annotations

from dataclasses import dataclass

from zeta_router.config import ENDPOINT_TASKS, Config, Endpoint
from zeta_router.errors import InvalidRequest, ModelNotFound, NotFound

_ORDINALS = ("1st", "2nd", "3rd")
#: The models a client key may use; None: every model.
Allowed = frozenset[str] | None
_PROMPT_PARAM: dict[Endpoint, str] = {
    "chat": "messages",
    "completions": "prompt",
    "embeddings": "input",
    "rerank": "documents",
}


def ordinal(i: int) -> str:
    return _ORDINALS[i] if i < len(_ORDINALS) else f"{i + 1}th"


@dataclass(frozen=True, slots=True)
class Candidate:
    model: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    task: str
    candidates: tuple[Candidate, ...]
    #: Models of the route that cannot serve this request at all, with why.
    skipped: tuple[tuple[str, str], ...]
    pinned: str | None = None

    @property
    def preferred(self) -> str | None:
        return self.candidates[0].model if self.candidates else None


@dataclass(frozen=True, slots=True)
class TaskNotApplicable:
    """A task named (``x-zeta-task``) for a request whose endpoint is its own task
    (embeddings, rerank): nothing is classified there, so the name is the client's mistake."""

    endpoint: Endpoint

    def error(self) -> InvalidRequest:
        return InvalidRequest(f"x-zeta-task does not apply to {self.endpoint}", param="x-zeta-task")


def task_named(endpoint: Endpoint, task: str | None) -> TaskNotApplicable | None:
    """Whether a task the client named may route a request to ``endpoint``: None when it
    may (or none was named)."""
    if task is not None and endpoint in ENDPOINT_TASKS:
        return TaskNotApplicable(endpoint)
    return None


def _unfit(
    config: Config, name: str, endpoint: Endpoint, need_tokens: int, max_tokens: int | None
) -> str | None:
    model = config.models[name]
    if endpoint not in model.endpoints:
        return f"does not serve {endpoint}"
    if model.max_tokens is not None and max_tokens is not None and max_tokens > model.max_tokens:
        return f"max_tokens cap {model.max_tokens} < {max_tokens} asked"
    if model.context_window is not None and need_tokens > model.context_window:
        return f"context window {model.context_window} < {need_tokens} tokens needed"
    return None


def plan(
    config: Config,
    task: str,
    endpoint: Endpoint,
    *,
    pinned: str | None,
    prompt_tokens: int,
    max_tokens: int | None,
    allowed: Allowed = None,
) -> Plan:
    """Order the models that may serve this request.

    A pinned model goes first, followed by its configured fallbacks or, by default, the rest of
    the task's route. With ``allowed`` (a client key's models) only those are candidates: the
    route's, or when the route holds none of them, every allowed model serving the endpoint.
    Models that lack the endpoint or whose context window cannot hold the prompt
    plus ``max_tokens`` are left out, with the reason kept for explain output and error bodies.
    """
    # Without max_tokens we only require the prompt to fit: the server will cap the answer.
    need = prompt_tokens + (max_tokens or 0)
    route = config.route_for(task)
    if allowed is not None:
        route = tuple(m for m in route if m in allowed) or tuple(
            m for m in config.models if m in allowed and endpoint in config.models[m].endpoints
        )
    if pinned is not None:
        if pinned not in config.models or (allowed is not None and pinned not in allowed):
            known = config.models if allowed is None else [m for m in config.models if m in allowed]
            raise ModelNotFound(
                f"The model '{pinned}' does not exist; known models: "
                + ", ".join(["auto", *known]),
                param="model",
            )
        if endpoint not in config.models[pinned].endpoints:
            raise InvalidRequest(
                f"The model '{pinned}' does not serve the {endpoint} endpoint", param="model"
            )
        rest = config.fallbacks.get(pinned)
        if rest is None:
            rest = tuple(m for m in route if m != pinned)
            fb_reason = f"fallback for {pinned} (route {task})"
        else:
            rest = tuple(m for m in rest if allowed is None or m in allowed)
            fb_reason = f"configured fallback for {pinned}"
        order = [(pinned, "pinned by request"), *((m, fb_reason) for m in rest if m != pinned)]
    else:
        order = [(m, f"route {task}, {ordinal(i)} choice") for i, m in enumerate(route)]

    candidates: list[Candidate] = []
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    too_long = False
    for name, reason in order:
        if name in seen:
            continue
        seen.add(name)
        why_not = _unfit(config, name, endpoint, need, max_tokens)
        if why_not is None:
            candidates.append(Candidate(name, reason))
        else:
            skipped.append((name, why_not))
            too_long = too_long or endpoint in config.models[name].endpoints
    if not candidates and not any(endpoint in m.endpoints for m in config.models.values()):
        raise NotFound(
            f"No configured model serves the {endpoint} endpoint", code="endpoint_not_served"
        )
    if not candidates and too_long:
        # Models serve this endpoint but none can hold the request: the client's to fix (400),
        # not an outage (503).
        why = "; ".join(f"{m}: {r}" for m, r in skipped)
        raise InvalidRequest(
            f"The request does not fit the context window of any capable model ({why})",
            param="max_tokens" if max_tokens else _PROMPT_PARAM[endpoint],
            code="context_length_exceeded",
        )
    return Plan(task, tuple(candidates), tuple(skipped), pinned)
