"""Admission: is a model saturated, and if so, where does a request wait.

Saturation is read from live state only (our in-flight counts against ``max_concurrency``, the
backend's scraped queue and KV-cache use, the age of those figures). The router uses it to spill
a request to the next capable model; when the request may not spill, it waits here, in a bounded
per-model queue ordered by priority with ageing, until a replica frees a slot. A request that
cannot get in (queue full, or its deadline passes first) is refused with 429 and Retry-After,
never dropped silently.

Nothing here costs anything while no queue forms: :meth:`Admission.release` is one dict lookup
when nobody waits.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from zeta_router.clock import Clock, as_clock
from zeta_router.config import AdmissionSettings, Config
from zeta_router.errors import Overloaded
from zeta_router.fleet.outcome import Reason, Why, saturated_by
from zeta_router.fleet.scrape import is_stale
from zeta_router.fleet.state import Fleet, ModelState, ReplicaState
from zeta_router.routing.feedback import Feedback

# -- saturation --------------------------------------------------------------------------------


_METRICS_STALE = saturated_by("load metrics stale")


def replica_saturation(
    r: ReplicaState, now: float, stale_after_s: float, kv_full: float
) -> Reason | None:
    """Why a usable replica should not take more work now, or None when it may."""
    used = r.in_flight + r.remote_in_flight
    if r.max_concurrency is not None and used >= r.max_concurrency:
        return saturated_by(f"{used}/{r.max_concurrency} in flight")
    s = r.scraped
    if s is None:
        return None
    if is_stale(s, now, stale_after_s):
        return _METRICS_STALE
    if s.waiting >= 1.0:
        return saturated_by(f"{s.waiting:g} queued in the backend")
    if s.kv_usage is not None and s.kv_usage >= kv_full:
        return saturated_by(f"KV cache {s.kv_usage:.0%} full")
    return None


def saturation(
    replicas: Sequence[ReplicaState], now: float, stale_after_s: float, kv_full: float
) -> Reason | None:
    """Why every one of ``replicas`` is saturated (the first one's reason), or None as soon as
    one is not.

    Returns at the first replica with room, so on an unloaded fleet this is one or two attribute
    reads per request."""
    why: Reason | None = None
    for r in replicas:
        w = replica_saturation(r, now, stale_after_s, kv_full)
        if w is None:
            return None
        why = why or w
    return why


def capacity_bound(ms: ModelState, now: float, skip: Sequence[str] = ()) -> list[ReplicaState]:
    """Replicas that are fine except that they are at ``max_concurrency``: the ones a queued
    request waits for."""
    out = []
    for r in ms.replicas:
        if r.id in skip or r.max_concurrency is None:
            continue
        if r.in_flight + r.remote_in_flight < r.max_concurrency:
            continue
        why = r.unavailable(now)
        if why is not None and why.label is Why.SATURATED:
            out.append(r)
    return out


def utilisation(ms: ModelState, now: float, stale_after_s: float) -> float:
    """A model's load for status output: our in-flight plus the backends' queues over the
    concurrency we know of (stale figures count as full); 0 for an idle model."""
    used = 0.0
    cap = 0.0
    for r in ms.replicas:
        limit = float(r.max_concurrency) if r.max_concurrency is not None else 0.0
        s = r.scraped
        if s is not None and is_stale(s, now, stale_after_s):
            used += max(limit, 1.0)
            cap += max(limit, 1.0)
            continue
        ours = r.in_flight + r.remote_in_flight
        queued = ours + (max(0.0, s.waiting + s.running - ours) if s else 0.0)
        used += queued
        cap += limit or max(queued, 1.0)
    return used / cap if cap else 0.0


# -- the queue ---------------------------------------------------------------------------------


@dataclass(order=True, slots=True)
class _Waiter:
    #: Smaller goes first: enqueue time in units of ageing_s minus the priority level, so a
    #: request that has waited ``ageing_s`` longer than another ranks one level higher. The key
    #: never changes while waiting, so a plain heap keeps the order.
    key: float
    seq: int
    priority: int = field(compare=False)
    deadline: float = field(compare=False)
    enqueued: float = field(compare=False)
    future: asyncio.Future[None] = field(compare=False)


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    model: str
    waiting: int
    oldest_s: float
    shed: int


class Admission:
    def __init__(
        self,
        settings: AdmissionSettings,
        clock: Clock | Callable[[], float],
        recheck_s: float = 1.0,
    ) -> None:
        self.settings = settings
        self._clock = as_clock(clock)
        self.recheck_s = recheck_s
        self._queues: dict[str, list[_Waiter]] = {}
        #: Waiters woken but not yet running: their slot must not go to a newcomer meanwhile.
        self._handoffs: Counter[str] = Counter()
        self._seq = itertools.count()
        #: Requests queued or woken-but-not-running, over all models: the request path checks
        #: this one int before anything else.
        self.pending = 0
        self.shed: Counter[str] = Counter()
        self.admitted_after_wait: Counter[str] = Counter()

    def configure(self, settings: AdmissionSettings) -> None:
        """A reload's settings; the waiters and counters stay."""
        self.settings = settings

    # -- reading ------------------------------------------------------------------------------

    def waiting(self, model: str) -> int:
        q = self._queues.get(model)
        return len(q) if q else 0

    def busy(self, model: str) -> bool:
        """Someone is already waiting for this model: a newcomer queues behind rather than
        taking the slot a woken waiter is about to use."""
        return bool(self._queues.get(model)) or self._handoffs[model] > 0

    def snapshot(self) -> list[QueueSnapshot]:
        now = self._clock()
        out = []
        for model in sorted(set(self._queues) | set(self.shed)):
            q = self._queues.get(model, [])
            oldest = min((w.enqueued for w in q), default=now)
            out.append(QueueSnapshot(model, len(q), now - oldest, self.shed[model]))
        return out

    # -- waiting ------------------------------------------------------------------------------

    def _key(self, priority: int, now: float) -> float:
        return now / self.settings.ageing_s - priority

    def _ahead(self, q: list[_Waiter], key: float) -> int:
        return sum(1 for w in q if w.key <= key)

    def _refuse(self, model: str, why: str, retry_after_s: float) -> Overloaded:
        self.shed[model] += 1
        return Overloaded(
            f"The model '{model}' is at capacity and {why}; retry later",
            retry_after_s=max(1.0, retry_after_s),
            extra={"zeta": {"model": model, "queued": self.waiting(model)}},
        )

    async def wait(
        self,
        model: str,
        priority: int,
        deadline: float,
        service_s: float,
        slots: int,
        since: float | None = None,
    ) -> float:
        """Wait for a slot of ``model``; returns the seconds waited.

        ``since`` is when the request first queued, for one that was woken but found its slot
        taken (by a retry, say) and queues again: it keeps its rank instead of going to the back.

        ``service_s`` is the model's typical time per request and ``slots`` its concurrency,
        for the estimate of when this request would get in. Raises :class:`Overloaded` (429)
        when the queue is full and this request ranks below everyone in it, when the estimate
        already passes the deadline, or when the deadline passes while waiting."""
        now = self._clock()
        q = self._queues.setdefault(model, [])
        key = self._key(priority, now if since is None else since)
        per_slot = service_s / max(slots, 1)
        est = (self._ahead(q, key) + 1) * per_slot
        if now + est > deadline:
            raise self._refuse(model, f"the wait (~{est:.2f}s) would pass the deadline", est)
        if len(q) >= self.settings.queue_size:
            worst = max(q) if q else None
            if worst is None or worst.key <= key:
                raise self._refuse(model, "its queue is full", (len(q) + 1) * per_slot)
            # A higher-priority newcomer takes the place of the lowest-ranked waiter.
            q.remove(worst)
            heapq.heapify(q)
            worst.future.set_exception(
                self._refuse(model, "a higher-priority request took its place", est)
            )
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        w = _Waiter(key, next(self._seq), priority, deadline, now, future)
        heapq.heappush(q, w)
        self.pending += 1
        # Wake-ups come from released slots. Capacity can also come back without one (a
        # breaker closing, a reload), so a waiter also looks again every recheck_s.
        final = deadline - now <= self.recheck_s
        timed_out = False

        def expire() -> None:
            nonlocal timed_out
            if not future.done():
                timed_out = True
                future.cancel()

        # On the router's clock, as every deadline is.
        timer = self._clock.call_later(min(deadline - now, self.recheck_s), expire)
        try:
            try:
                await future
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not timed_out or (task is not None and task.cancelling()):
                    raise
                raise TimeoutError from None
        except asyncio.CancelledError:
            if not self._discard(model, w) and _woken(w.future):
                # Woken, but cancelled before running: pass the slot on.
                self._handoffs[model] -= 1
                self.release(model)
            raise
        except TimeoutError:
            if self._discard(model, w) or not _woken(w.future):
                if final:
                    raise self._refuse(
                        model,
                        "the request's deadline passed while it waited",
                        per_slot * (len(q) + 1),
                    ) from None
                # Not woken: the caller looks at the replicas again and may queue again,
                # keeping its rank (``since``).
                return self._clock() - now
            # Woken just as the timer fired: the slot is ours.
        finally:
            timer.cancel()
            self.pending -= 1
        self._handoffs[model] -= 1
        self.admitted_after_wait[model] += 1
        return self._clock() - now

    def _discard(self, model: str, w: _Waiter) -> bool:
        """Take ``w`` out of its queue; False when it was no longer there (already woken)."""
        q = self._queues.get(model)
        if not q or w not in q:
            return False
        q.remove(w)
        heapq.heapify(q)
        return True

    def release(self, model: str) -> None:
        """A replica of ``model`` freed a slot: wake the first waiter. Called on every in-flight
        decrement, so the common case (nobody waits) is one lookup."""
        q = self._queues.get(model)
        if not q:
            return
        while q:
            w = heapq.heappop(q)
            if not w.future.done():
                w.future.set_result(None)
                self._handoffs[model] += 1
                return

    def expire(self, now: float) -> int:
        """Refuse every waiter whose deadline has passed by ``now``; for callers with their own
        clock (the timers inside :meth:`wait` use the event loop's)."""
        n = 0
        for model, q in self._queues.items():
            due = [w for w in q if w.deadline <= now and not w.future.done()]
            for w in due:
                q.remove(w)
                w.future.set_exception(
                    self._refuse(model, "the request's deadline passed while it waited", 1.0)
                )
                n += 1
            if due:
                heapq.heapify(q)
        return n


def _woken(f: asyncio.Future[None]) -> bool:
    return f.done() and not f.cancelled() and f.exception() is None


def as_dict(snap: QueueSnapshot) -> dict[str, Any]:
    return {
        "model": snap.model,
        "waiting": snap.waiting,
        "oldest_s": round(snap.oldest_s, 3),
        "shed": snap.shed,
    }


def load_report(
    fleet: Fleet, admission: Admission, feedback: Feedback, config: Config, now: float
) -> dict[str, Any]:
    """Live load, queues and feedback scores, for ``GET /v1/feedback`` and status pages."""
    h = config.health
    kv_full = config.admission.kv_cache_full
    queues = {q.model: q for q in admission.snapshot()}
    models = []
    for name, ms in fleet.models.items():
        usable = [r for r in ms.replicas if r.available(now)]
        full = saturation(usable, now, h.stale_after_s, kv_full) if usable else None
        why = "" if full is None else full.text
        if not usable:
            bound = capacity_bound(ms, now)
            why = "at capacity" if bound else (ms.unavailable_reason(now) or "unavailable")
        q = queues.get(name)
        models.append(
            {
                "model": name,
                "saturated": bool(why),
                "why": why,
                "utilisation": round(utilisation(ms, now, h.stale_after_s), 3),
                "in_flight": ms.in_flight(),
                "queued": q.waiting if q else 0,
                "shed": q.shed if q else 0,
                "max_complexity": ms.config.max_complexity,
                "replicas": [_replica(r, now, h.stale_after_s) for r in ms.replicas],
            }
        )
    return {
        "models": models,
        "scores": feedback.snapshot(),
        "comments": list(feedback.comments)[-10:],
    }


def _replica(r: ReplicaState, now: float, stale_after_s: float) -> dict[str, Any]:
    s = r.scraped
    scraped = None
    if s is not None:
        scraped = {
            "waiting": s.waiting,
            "running": s.running,
            "kv_usage": s.kv_usage,
            "age_s": round(now - s.at, 3),
            "stale": is_stale(s, now, stale_after_s),
        }
    return {
        "id": r.id,
        "in_flight": r.in_flight + r.remote_in_flight,
        "max_concurrency": r.max_concurrency,
        "latency_ms": round(r.latency.value * 1000, 2),
        "scraped": scraped,
    }
