"""Hedged requests (the seed design's "parallel" routing), off by default.

When the first byte from a replica is overdue past its own measured p95 time to first byte, one
more copy of the request goes to another replica of the same model; whichever answers first is
used and the other is cancelled. Tail latency drops for the price of a few duplicate requests,
which the retry budget bounds like any other extra load.

Only the wait for the first byte is raced: once a replica produced an answer (or the first event
of a stream) it has won, and nothing is sent twice to the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

from .config import HedgeSettings
from .fleet import ReplicaState

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
    start_hedge: Callable[[], Coroutine[Any, Any, T] | None],
    *,
    won: Callable[[T], bool],
    discard: Callable[[T], None],
    sleep: Sleep = asyncio.sleep,
) -> Race[T]:
    """Run ``primary``; if it has not finished after ``delay_s``, start the hedge (when
    ``start_hedge`` offers one) and return the first result that ``won``. When no attempt won,
    the primary's result is returned so the caller sees its failure. Attempts still running
    are cancelled; finished successes that are not returned go to ``discard``.

    Exceptions from either attempt propagate (they mean the request itself is at fault)."""
    first = asyncio.ensure_future(primary)
    timer = asyncio.ensure_future(sleep(delay_s))
    tasks: list[asyncio.Future[T]] = [first]
    chosen: asyncio.Future[T] | None = None
    try:
        await asyncio.wait((first, timer), return_when=asyncio.FIRST_COMPLETED)
        if first.done():
            chosen = first
            return Race(first.result(), hedged=False, winner_is_hedge=False)
        hedge_coro = start_hedge()
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
        timer.cancel()
        await _settle(tasks, chosen, won, discard)


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
