"""Hedged requests (the seed design's "parallel" routing), off by default.

When the first byte from a replica is overdue past its own measured p95 time to first byte, one
more copy of the request goes to another replica of the same model that is expected to answer
sooner; whichever answers first is used. Tail latency drops for the price of a few duplicate
requests, which the retry budget bounds like any other extra load.

Only the wait for the first byte is raced: once a replica produced an answer (or the first event
of a stream) it has won, and nothing is sent twice to the client.

A hedge must not hide what it learned from the balancer. The overdue primary that loses is not
cancelled but left to finish (its first byte, or its own first-byte timeout), so the balancer
and the breaker get the same verdict as without hedging; a hung replica is found out just as
fast. A late hedge that loses to the primary is cancelled: it waited less than the primary did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from enum import Enum
from typing import Any, Generic, TypeVar

from zeta_router.config import HedgeSettings
from zeta_router.fleet.state import ReplicaState
from zeta_router.routing.balancer import typical_latency

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class HedgePolicy:
    """When to hedge a request to one replica."""

    __slots__ = ("_min_delay_s", "_quantile")

    def __init__(self, settings: HedgeSettings) -> None:
        self._quantile = settings.quantile
        self._min_delay_s = settings.min_delay_s

    def delay_for(self, replica: ReplicaState) -> float | None:
        """Seconds to wait for the first byte before hedging; None until the replica has
        enough time-to-first-byte samples to know what "overdue" means."""
        q = replica.ttfb_quantile(self._quantile)
        if q is None:
            return None
        return max(self._min_delay_s, q)


def hedge_candidates(
    primary: ReplicaState, others: Sequence[ReplicaState], now: float
) -> list[ReplicaState]:
    """The replicas a hedge for the overdue ``primary`` may go to: only those expected to
    answer sooner than it. The primary's expectation includes the wait so far, so a hung
    primary is hedged to any healthy peer, while a peer that is itself the slow one (or a
    silent one) is never sent a copy: that is more load where it hurts, for nothing."""
    prior = typical_latency([primary, *others])
    if prior == float("inf"):
        prior = 0.0
    limit = primary.expected_latency(now, prior)
    return [r for r in others if r.expected_latency(now, prior) < limit]


class Later(Enum):
    """``start_hedge``'s answer when no replica is worth a hedge yet: the primary's wait grows,
    so :func:`race` asks again after another delay."""

    LATER = "later"


LATER = Later.LATER


class Race(Generic[T]):
    """The outcome of :func:`race`: the chosen result and the losers' results (for clean-up)."""

    __slots__ = ("hedged", "result", "winner_is_hedge")

    def __init__(self, result: T, *, hedged: bool, winner_is_hedge: bool) -> None:
        self.result = result
        self.hedged = hedged
        self.winner_is_hedge = winner_is_hedge


async def race(
    primary: Coroutine[Any, Any, T],
    delay_s: float,
    start_hedge: Callable[[], Coroutine[Any, Any, T] | Later | None],
    *,
    won: Callable[[T], bool],
    discard: Callable[[T], None],
    keep: Callable[[asyncio.Future[T]], None] | None = None,
    sleep: Sleep = asyncio.sleep,
) -> Race[T]:
    """Run ``primary``; if it has not finished after ``delay_s``, start the hedge (when
    ``start_hedge`` offers one; on ``LATER`` it is asked again after each further ``delay_s``,
    on None never) and return the first result that ``won``. When no attempt won,
    the primary's result is returned so the caller sees its failure. When the hedge won and
    the primary still runs, the primary goes to ``keep`` (which owns it from then on); other
    attempts still running are cancelled. Finished successes not returned go to ``discard``.

    Exceptions from either attempt propagate (they mean the request itself is at fault)."""
    first = asyncio.ensure_future(primary)
    tasks: list[asyncio.Future[T]] = [first]
    chosen: asyncio.Future[T] | None = None
    try:
        while True:
            await _first_or_timeout(first, delay_s, sleep)
            if first.done():
                chosen = first
                return Race(first.result(), hedged=False, winner_is_hedge=False)
            hedge_coro = start_hedge()
            if hedge_coro is not LATER:
                break
        if hedge_coro is None:
            await asyncio.wait((first,))
            chosen = first
            return Race(first.result(), hedged=False, winner_is_hedge=False)
        second = asyncio.ensure_future(hedge_coro)
        tasks.append(second)
        pending: set[asyncio.Future[T]] = {first, second}
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            # Prefer the primary when both finished in the same tick.
            for task in sorted(done, key=lambda t: t is not first):
                if won(task.result()):
                    chosen = task
                    return Race(task.result(), hedged=True, winner_is_hedge=task is second)
        chosen = first
        return Race(first.result(), hedged=True, winner_is_hedge=False)
    finally:
        if keep is not None and chosen is not None and chosen is not first and not first.done():
            tasks.remove(first)
            keep(first)
        await _settle(tasks, chosen, won, discard)


async def _first_or_timeout(first: asyncio.Future[T], delay_s: float, sleep: Sleep) -> None:
    if sleep is asyncio.sleep:
        # The common case (an answer in time) pays for a timer handle, not a timer task.
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def wake(_: object = None) -> None:
            if not waiter.done():
                waiter.set_result(None)

        timer = loop.call_later(delay_s, wake)
        first.add_done_callback(wake)
        try:
            await waiter
        finally:
            timer.cancel()
            first.remove_done_callback(wake)
        return
    slept: asyncio.Future[None] = asyncio.ensure_future(sleep(delay_s))
    try:
        await asyncio.wait((first, slept), return_when=asyncio.FIRST_COMPLETED)
    finally:
        slept.cancel()


async def _settle(
    tasks: list[asyncio.Future[T]],
    chosen: asyncio.Future[T] | None,
    won: Callable[[T], bool],
    discard: Callable[[T], None],
) -> None:
    """Cancel the attempts still running and discard every finished success not handed back
    (it holds a connection or a replica slot that must be released)."""
    for t in tasks:
        if not t.done():
            t.cancel()
    others = [t for t in tasks if t is not chosen]
    if others:
        # wait() never raises the tasks' own errors; a cancellation of ours still propagates.
        await asyncio.wait(others)
    for t in tasks:
        if t is not chosen and t.done() and not t.cancelled() and t.exception() is None:
            result = t.result()
            if won(result):
                discard(result)
