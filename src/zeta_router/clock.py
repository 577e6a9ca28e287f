"""The one time base of a router: what time it is, how to wait, how to be called back later.

Deadlines, back-offs, hedge delays, queue waits and the upstream I/O timeouts (first byte,
idle) all read and schedule on the same :class:`Clock`, so a request never mixes two notions
of time. Production runs on :class:`SystemClock` (the monotonic clock and the event loop's
timers); tests and the simulator pass a virtual clock (:mod:`zeta_router.testing.virtual`),
under which the same code runs with no wall time passing at all.

A clock is also a plain ``Callable[[], float]``: the many parts that only read the time
(breakers, budgets, caches) take any callable, so a bare fake ``lambda: t`` still serves them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable


class Timer(Protocol):
    """A scheduled callback that may still be called off."""

    def cancel(self) -> object: ...


@runtime_checkable
class Clock(Protocol):
    """Reading the time, waiting, and timers on one time base."""

    def __call__(self) -> float: ...

    def sleep(self, delay: float) -> Awaitable[None]: ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer: ...


class SystemClock:
    """Monotonic time with the running event loop's timers: the production clock."""

    __slots__ = ()

    # The builtin itself: read a dozen times a request, a Python-level wrapper would show.
    __call__ = staticmethod(time.monotonic)

    #: asyncio.sleep itself, not a wrapper: callers recognise it and take their fast paths.
    sleep = staticmethod(asyncio.sleep)

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


class ReadClock:
    """A clock made of a time source and a sleep, with timers on the event loop: for a time
    source that is moved by hand (tests step a breaker's ejection without waiting for it)."""

    __slots__ = ("_now", "_sleep")

    def __init__(
        self,
        now: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._now = now
        self._sleep = sleep

    def __call__(self) -> float:
        return self._now()

    def sleep(self, delay: float) -> Awaitable[None]:
        return self._sleep(delay)

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


def as_clock(
    clock: Clock | Callable[[], float] | None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> Clock:
    """The :class:`Clock` for what a caller passed: a clock as is, a bare time source (or a
    clock with a sleep of its own) wrapped, nothing the system clock."""
    if clock is None:
        return SystemClock() if sleep is None else ReadClock(time.monotonic, sleep)
    if isinstance(clock, Clock) and (sleep is None or sleep == clock.sleep):
        return clock
    return ReadClock(clock, sleep or asyncio.sleep)
