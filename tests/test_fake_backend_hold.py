"""The fake backend's ``hold`` switch: held requests are in flight (counted as running) and
unanswered, however long the test takes; turning it off, or healing, answers them as usual."""

from __future__ import annotations

import asyncio

import httpx

from zeta_router.testing.fake_backend import FakeBackend

from .redis_helpers import wait_for


async def test_held_requests_run_unanswered_until_released() -> None:
    backend = await FakeBackend("h").start()
    try:
        async with httpx.AsyncClient(timeout=30) as client:

            async def ask(i: int) -> httpx.Response:
                body = {"model": "m", "messages": [{"role": "user", "content": f"hi {i}"}]}
                return await client.post(backend.url + "/chat/completions", json=body)

            for release in (lambda: backend.set(hold=False), backend.heal):
                backend.set(hold=True)
                tasks = [asyncio.create_task(ask(i)) for i in range(3)]
                await wait_for(lambda: backend.running == 3, 10, "three requests running")
                assert not any(t.done() for t in tasks) and backend.completed == 0
                release()
                for r in await asyncio.gather(*tasks):
                    assert r.status_code == 200 and r.json()["choices"], r.text
                assert backend.running == 0 and backend.completed == 3
                backend.completed = 0
    finally:
        await backend.stop()
