"""The tests' hand-moved clock: time stands still until a test moves it.

Reading is manual (``clock.now += 5`` steps a breaker's ejection without waiting for it);
sleeps and timers run on the event loop, so an attempt against a real socket still times out.
For runs where timers, sleeps and I/O all follow one virtual time base, use
:class:`~zeta_router.testing.virtual.VirtualTime` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from zeta_router.clock import Timer


class ManualClock:
    """A :class:`~zeta_router.clock.Clock` whose time moves only when told."""

    __slots__ = ("now",)

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    #: A real wait, so a test that sleeps still lets other tasks run.
    sleep = staticmethod(asyncio.sleep)

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)
