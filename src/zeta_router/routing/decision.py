"""The record of one routed request: what was decided, tried and served, and why.

Built on the request path with plain attribute stores; formatted (headers, log line, status,
metrics) only where it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zeta_router.analysis.profile import TaskProfile
from zeta_router.errors import Blame
from zeta_router.fleet.outcome import Reason
from zeta_router.routing.affinity import CacheReport, Note


@dataclass(slots=True)
class Attempt:
    model: str
    replica: str
    #: SERVED, or why it failed (its label is the metrics' vocabulary).
    outcome: Reason
    elapsed_s: float
    #: For a failure: whose fault it was (UNSURE until another replica decided).
    blame: Blame | None = None


@dataclass(slots=True)
class Decision:
    request_id: str
    endpoint: str
    started: float
    profile: TaskProfile | None = None
    task: str = ""
    priority: int = 1
    preferred: str | None = None
    model: str | None = None
    replica: str | None = None
    route: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    #: Why each model before the serving one was passed over, in order.
    passed_over: list[tuple[str, Reason]] = field(default_factory=list)
    status: int = 0
    error: str | None = None
    stream: bool = False
    ttfb_s: float | None = None
    duration_s: float | None = None
    router_overhead_s: float | None = None
    tokens: int | None = None
    #: The stream broke after bytes reached the client (ended with an SSE error event).
    stream_error: Reason | None = None
    #: Blocks of SSE events relayed before the client left mid-stream (None: it did not).
    left_after: int | None = None
    queued_s: float = 0.0
    #: The last user message, kept only when server.log_prompts is on (prompts are user data).
    prompt: str | None = None
    #: The client key's name, when keys are configured.
    client: str | None = None
    #: How cache affinity took part in choosing the serving replica (None: it did not).
    affinity: Note | None = None
    cache: CacheReport | None = None

    @property
    def fallback(self) -> str | None:
        """``brain->coder (brain: circuit open)`` when another model than the preferred served."""
        if self.model is None or self.preferred is None or self.model == self.preferred:
            return None
        why = "; ".join(f"{m}: {r}" for m, r in self.passed_over) or "unavailable"
        return f"{self.preferred}->{self.model} ({why})"

    def to_dict(self) -> dict[str, Any]:
        p = self.profile
        return {
            "request_id": self.request_id,
            "endpoint": self.endpoint,
            "client": self.client,
            "task": self.task,
            "confidence": round(p.confidence, 3) if p else None,
            "complexity": round(p.complexity, 3) if p else None,
            "model": self.model,
            "replica": self.replica,
            "route": self.route,
            "fallback": self.fallback,
            "attempts": len(self.attempts),
            "attempt_log": [
                {
                    "model": a.model,
                    "replica": a.replica,
                    "outcome": a.outcome.text,
                    "blame": a.blame,
                }
                for a in self.attempts
            ],
            "status": self.status,
            "error": self.error,
            "stream": self.stream,
            "stream_error": None if self.stream_error is None else self.stream_error.text,
            "ttfb_ms": None if self.ttfb_s is None else round(self.ttfb_s * 1000, 2),
            "latency_ms": None if self.duration_s is None else round(self.duration_s * 1000, 2),
            "queued_ms": round(self.queued_s * 1000, 2),
            "tokens": self.tokens,
            "affinity": None if self.affinity is None else self.affinity.outcome.value,
            "cached_tokens": None if self.cache is None else self.cache.cached_tokens,
        }
