"""A client that hangs up while the upstream is stalled mid-stream frees the upstream at once.

The gateway hears of a hang-up only through ASGI ``receive()``. Checked only after each relayed
chunk, a hang-up during a stall was noticed when the upstream next spoke or the idle timeout
fired: the replica kept a slot (and looked busier to the balancer) for nobody. Here the stall is
a minute and the idle timeout two; the slot must come back well within either.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.conftest import BACKENDS, fleet_template
from zeta_router.testing import Harness

STALL_S = 60.0


@pytest.fixture(scope="module")
def gw() -> Iterator[Harness]:
    t = fleet_template(
        timeouts={"connect_s": 1.0, "first_byte_s": 5.0, "idle_s": 2 * STALL_S, "total_s": 600.0}
    )
    h = Harness(BACKENDS, t)
    yield h
    h.close()


def in_flight(h: Harness) -> dict[str, int]:
    def read() -> dict[str, int]:
        models = h.router.state.fleet.models
        return {r.id: r.in_flight for m in models.values() for r in m.replicas if r.in_flight}

    return h.thread.call(read)


@pytest.mark.parametrize("api", ["chat", "completions"])
def test_hanging_up_during_a_stall_frees_the_replica_at_once(gw: Harness, api: str) -> None:
    for name in BACKENDS:
        # The first chunk at once, then a minute before the next.
        gw.set(name, chunks=5, chunk_delay_s=STALL_S)
    try:
        client = openai.OpenAI(base_url=gw.base_url, api_key="k", max_retries=0, timeout=30)
        started = time.monotonic()
        stream: Any
        if api == "chat":
            stream = client.chat.completions.create(
                model="small", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        else:
            stream = client.completions.create(model="small", prompt="hi", stream=True)
        next(iter(stream))
        assert in_flight(gw), "the stream holds its replica while it runs"
        stream.close()
        # Bounded wait for the hang-up to reach the relay; without it, the slot would come
        # back only when the upstream spoke again (STALL_S) or at the idle timeout.
        while in_flight(gw) and time.monotonic() - started < STALL_S / 4:
            time.sleep(0.02)
        assert in_flight(gw) == {}
    finally:
        for name in BACKENDS:
            gw.heal(name)


def test_a_whole_stream_still_ends_normally(gw: Harness) -> None:
    client = openai.OpenAI(base_url=gw.base_url, api_key="k", max_retries=0, timeout=30)
    stream = client.chat.completions.create(
        model="small", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text
    assert in_flight(gw) == {}
