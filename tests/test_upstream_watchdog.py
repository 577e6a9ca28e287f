"""The shared first-byte timer behaves as asyncio.timeout does, per attempt."""

from __future__ import annotations

import asyncio

import pytest

from zeta_router.upstream.http_transport import Watchdog


async def test_overdue_block_raises_timeout_and_others_keep_running() -> None:
    dog = Watchdog()

    async def attempt(wait_s: float, timeout_s: float) -> str:
        with dog.guard(timeout_s):
            await asyncio.sleep(wait_s)
        return "ok"

    slow = asyncio.ensure_future(attempt(1.0, 0.05))
    fast = asyncio.ensure_future(attempt(0.01, 0.5))
    later = asyncio.ensure_future(attempt(0.2, 0.1))
    assert await fast == "ok"
    with pytest.raises(TimeoutError):
        await slow
    with pytest.raises(TimeoutError):
        await later
    assert not dog._due and not dog._fired
    # The task is usable afterwards: no cancellation left pending.
    assert asyncio.current_task() is not None
    assert await attempt(0.01, 0.5) == "ok"


async def test_outside_cancellation_stays_a_cancellation() -> None:
    dog = Watchdog()
    entered = asyncio.Event()

    async def attempt() -> None:
        with dog.guard(5.0):
            entered.set()
            await asyncio.sleep(10)

    task = asyncio.ensure_future(attempt())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not dog._due


async def test_timeout_and_outside_cancellation_together_is_a_cancellation() -> None:
    dog = Watchdog()

    entered = asyncio.Event()

    async def attempt() -> None:
        with dog.guard(10.0):
            entered.set()
            await asyncio.sleep(10)

    task = asyncio.ensure_future(attempt())
    await entered.wait()
    # The deadline fires and someone else cancels before the task runs again.
    dog._due[task] = 0.0
    dog._fire()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_later_deadline_does_not_rearm_and_earlier_one_does() -> None:
    dog = Watchdog()

    async def attempt(timeout_s: float) -> None:
        with dog.guard(timeout_s):
            await asyncio.sleep(1.0)

    a = asyncio.ensure_future(attempt(0.5))
    await asyncio.sleep(0)
    first = dog._handle
    b = asyncio.ensure_future(attempt(0.8))
    await asyncio.sleep(0)
    assert dog._handle is first
    c = asyncio.ensure_future(attempt(0.02))
    await asyncio.sleep(0)
    assert dog._handle is not first
    with pytest.raises(TimeoutError):
        await c
    for t in (a, b):
        with pytest.raises(TimeoutError):
            await t
