"""A gateway with its managed model servers, for the tests that run real ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import openai

from zeta_router.config import Config
from zeta_router.localfleet import Gateway, running_gateway

from .test_managed import Recorder, alive, wait_gone


@asynccontextmanager
async def fleet_gateway(config: Config, servers: int) -> AsyncIterator[tuple[Gateway, Recorder]]:
    """Serve ``config`` with its ``servers`` managed replicas ready; on exit, check that nothing
    the gateway launched outlives it."""
    rec = Recorder()
    pids: list[int] = []
    async with running_gateway(config, on_state=rec) as gw:
        assert await gw.supervisor.wait_ready(120), [
            (s.id, s.last_error, s.log_path) for s in gw.supervisor.not_ready()
        ]
        yield gw, rec
        pids = [s.pid for s in gw.supervisor.status() if s.pid is not None]
    assert len(pids) == servers
    for pid in pids:
        await wait_gone(pid, within=5)
        assert not alive(pid)
    assert {s.state for s in gw.supervisor.status()} == {"stopped"}


def sdk(gw: Gateway) -> openai.AsyncOpenAI:
    # No SDK retries: a retry must come from the router, where the headers show it.
    return openai.AsyncOpenAI(
        base_url=gw.base_url + "/v1", api_key="unused", max_retries=0, timeout=60
    )
