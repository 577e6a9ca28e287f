"""Outcome recording: one call per finished request, off the response path.

``record`` only appends the decision to a buffer; a background task turns the buffer into the
metric counters, the recent-decisions ring the status page shows, and one JSON log line per
request on the ``zeta_router.access`` logger, so formatting never delays a client.

:meth:`Telemetry.on_outcome` is a fleet subscriber (:class:`~zeta_router.fleet.outcome.Subscriber`):
a replica's breaker changing state is queued the same way, then counted
(``zeta_breaker_transitions_total``) and logged on ``zeta_router.breaker`` by the same task.

The log line carries ids, the routing verdict and timings; prompt text only when
``server.log_prompts`` is on, since prompts are user data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

from zeta_router.fleet.breaker import BreakerState
from zeta_router.fleet.outcome import UNAVAILABLE, Ejected, Failed, Outcome, StreamBroke
from zeta_router.ops.history import RequestWindow
from zeta_router.ops.stats import RequestStats
from zeta_router.routing.decision import Decision

access_log = logging.getLogger("zeta_router.access")
breaker_log = logging.getLogger("zeta_router.breaker")


@dataclass(frozen=True, slots=True)
class Transition:
    """A replica's breaker changed state; ``outcome`` is what did it."""

    replica: str
    before: BreakerState
    after: BreakerState
    outcome: Outcome


def _cause(outcome: Outcome) -> str:
    match outcome:
        case Failed(error=err) | StreamBroke(error=err):
            return err.reason
        case Ejected(reason=reason):
            return reason
        case _:
            return type(outcome).__name__.lower()

#: Characters of prompt text kept in a log line when prompt logging is on.
PROMPT_LOG_CHARS = 2000


class Telemetry:
    def __init__(
        self, *, recent: int = 200, access_log_enabled: bool = True, log_prompts: bool = False
    ) -> None:
        self.recent: deque[Decision] = deque(maxlen=recent)
        self.stats = RequestStats()
        self._rng = random.Random()
        self._window = RequestWindow(self._rng)
        self._pending: list[Decision] = []
        self._transitions: list[Transition] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._log = access_log_enabled
        self.log_prompts = log_prompts

    def configure(self, *, access_log_enabled: bool, log_prompts: bool) -> None:
        """Apply reloaded server settings; counters and history are kept."""
        self._log = access_log_enabled
        self.log_prompts = log_prompts

    def record(self, d: Decision) -> None:
        self._pending.append(d)
        if len(self._pending) == 1:
            self._wake.set()

    def on_outcome(
        self, replica_id: str, outcome: Outcome, before: BreakerState, after: BreakerState
    ) -> None:
        """A fleet subscriber: only breaker transitions (rare) are kept, for the drain task."""
        if before is not after:
            self._transitions.append(Transition(replica_id, before, after, outcome))
            self._wake.set()

    def rejected(self, endpoint: str, status: int) -> None:
        """A request refused before routing (4xx on its body or headers): counted, not logged."""
        self.stats.requests[("none", "none", str(status), endpoint)] += 1
        self._window.rejected(status)

    @property
    def running(self) -> bool:
        """Whether the drain task runs, i.e. the router has been started and not closed."""
        return self._task is not None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()

    def flush(self) -> None:
        if self._transitions:
            self._flush_transitions()
        pending, self._pending = self._pending, []
        if not pending:
            return
        log = self._log and access_log.isEnabledFor(logging.INFO)
        records: list[logging.LogRecord] = []
        for d in pending:
            self.recent.append(d)
            self.stats.observe(d)
            self._window.observe(d)
            if log:
                line = orjson.dumps(self.log_record(d)).decode()
                records.append(
                    access_log.makeRecord(
                        access_log.name, logging.INFO, __file__, 0, line, (), None, "flush"
                    )
                )
        if records:
            emit_batch(access_log, records)

    def _flush_transitions(self) -> None:
        transitions, self._transitions = self._transitions, []
        for t in transitions:
            self.stats.breaker_transitions[(t.replica, t.after.value)] += 1
            level = logging.WARNING if t.after is BreakerState.OPEN else logging.INFO
            breaker_log.log(
                level,
                "replica %s: circuit %s -> %s (%s)",
                t.replica,
                t.before.value,
                t.after.value,
                _cause(t.outcome),
            )

    def take_window(self) -> RequestWindow:
        """The requests finished since the last call, for the history's next second."""
        self.flush()
        window, self._window = self._window, RequestWindow(self._rng)
        return window

    async def _drain_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Let the responses that produced these records finish first.
            await asyncio.sleep(0)
            self.flush()

    def log_record(self, d: Decision) -> dict[str, Any]:
        """The per-request log line: flat, stable keys, no prompt text unless enabled."""
        p = d.profile
        fb_reason = None
        if d.fallback is not None and d.preferred is not None:
            fb_reason = dict(d.passed_over).get(d.preferred, UNAVAILABLE).label.value
        out: dict[str, Any] = {
            "event": "request",
            "id": d.request_id,
            "endpoint": d.endpoint,
            "task": d.task or None,
            "confidence": None if p is None else round(p.confidence, 3),
            "analyzer": None if p is None else p.source,
            "model": d.model,
            "replica": d.replica,
            "attempts": len(d.attempts),
            "fallback_from": d.preferred if fb_reason else None,
            "fallback_reason": fb_reason,
            "status": d.status,
            "stream": d.stream,
            "latency_ms": _ms(d.duration_s),
            "ttfb_ms": _ms(d.ttfb_s),
            "overhead_ms": _ms(d.router_overhead_s),
            "tokens": d.tokens,
        }
        failures = [a for a in d.attempts if not a.outcome.ok]
        if failures:
            out["failures"] = [
                {"replica": a.replica, "reason": a.outcome.label.value, "blame": a.blame}
                for a in failures
            ]
        if d.client is not None:
            out["client"] = d.client
        if d.stream_error:
            out["stream_error"] = d.stream_error.text
        if d.error:
            out["error"] = d.error
        if self.log_prompts and d.prompt is not None:
            out["prompt"] = d.prompt[:PROMPT_LOG_CHARS]
        return out


def emit_batch(logger: logging.Logger, records: list[logging.LogRecord]) -> None:
    """Hand ``records`` to ``logger``'s handlers as ``logger.handle`` would, one at a time,
    except that a plain StreamHandler or FileHandler gets the whole batch as one write and one
    flush: per record, its lock, write and flush were most of the access log's cost."""
    if logger.disabled:
        return
    if logger.filters:
        records = [r for r in records if logger.filter(r)]
    found = False
    c: logging.Logger | None = logger
    while c is not None:
        for h in c.handlers:
            found = True
            batchable = (
                type(h) in _BATCHABLE and not h.filters and getattr(h, "stream", None) is not None
            )
            if not batchable:
                for r in records:
                    if r.levelno >= h.level:
                        h.handle(r)
                continue
            assert isinstance(h, logging.StreamHandler)
            try:
                text = "".join(h.format(r) + h.terminator for r in records if r.levelno >= h.level)
                with h.lock or contextlib.nullcontext():
                    h.stream.write(text)
                    h.flush()
            except Exception:
                h.handleError(records[0])
        if not c.propagate:
            break
        c = c.parent
    if not found and logging.lastResort is not None:
        for r in records:
            if r.levelno >= logging.lastResort.level:
                logging.lastResort.handle(r)


#: Handler types whose emit is exactly "format, write, flush"; subclasses (pytest's capture
#: handler, rotating files) keep their own emit, record by record.
_BATCHABLE: tuple[type[logging.Handler], ...] = (logging.StreamHandler, logging.FileHandler)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)
