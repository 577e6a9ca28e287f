"""Real llama.cpp servers, launched and supervised by the router, driven with the openai SDK.

Slow (a few seconds per test on two cores) but run in CI: it is the only test that proves the
managed fleet, the packaged models and the gateway work together.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest

from zeta_router.localfleet import Gateway, LocalModelError, fleet_config

from .fleet_helpers import fleet_gateway, sdk
from .test_managed import Recorder, alive

# Looked up, not imported: the servers run in child processes, and importing llama_cpp here
# would leak the /dev/null handle it opens at import time into this process.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama-cpp-python is not installed: pip install -e '.[local]'",
    ),
]


@pytest.fixture
async def gateway(tmp_path: Any) -> AsyncIterator[tuple[Gateway, Recorder]]:
    try:
        config = fleet_config(log_dir=str(tmp_path / "logs"), restart_backoff_s=0.2)
    except LocalModelError as exc:
        pytest.skip(f"packaged models missing: {exc}")
    async with fleet_gateway(config, 4) as served:
        yield served


async def chat(
    client: openai.AsyncOpenAI, text: str, *, model: str = "auto", task: str | None = None
) -> Any:
    return await client.chat.completions.with_raw_response.create(
        model=model,
        messages=[{"role": "user", "content": text}],
        max_tokens=12,
        extra_headers={"x-zeta-task": task} if task else None,
    )


async def test_chat_stream_and_embeddings_through_the_gateway(
    gateway: tuple[Gateway, Recorder],
) -> None:
    gw, _ = gateway
    async with sdk(gw) as client:
        raw = await chat(client, "Write a Python function that adds two numbers.")
        completion = raw.parse()
        assert raw.headers["x-zeta-task"] == "code"
        assert raw.headers["x-zeta-model"] == "small"
        assert raw.headers["x-zeta-replica"] in ("small-0", "small-1")
        assert completion.model == "small"
        assert completion.choices[0].message.content

        pinned = await chat(client, "Say hi.", model="gemma")
        assert pinned.headers["x-zeta-model"] == "gemma"
        assert pinned.parse().choices[0].message.content

        parts: list[str] = []
        async with client.chat.completions.with_streaming_response.create(
            model="auto",
            messages=[{"role": "user", "content": "Say hello in French."}],
            max_tokens=12,
            stream=True,
        ) as resp:
            assert resp.headers["x-zeta-model"] in ("small", "gemma")
            async for chunk in await resp.parse():
                if chunk.choices and chunk.choices[0].delta.content:
                    parts.append(chunk.choices[0].delta.content)
        assert len(parts) > 1 and "".join(parts).strip()

        # A stream must not be cut short by requests that arrive while it runs (llama-cpp-python
        # would end it with a clean [DONE] unless told not to).
        async def stream_finish() -> str | None:
            finish = None
            stream = await client.chat.completions.create(
                model="small",
                messages=[{"role": "user", "content": "Count from one to twenty."}],
                max_tokens=24,
                stream=True,
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].finish_reason:
                    finish = chunk.choices[0].finish_reason
            return finish

        first, second, _ = await asyncio.gather(
            stream_finish(), stream_finish(), chat(client, "Hi!", model="small")
        )
        assert first is not None and second is not None, "a stream ended without finish_reason"

        emb = await client.embeddings.with_raw_response.create(
            model="auto", input=["a cat", "a dog", "a stock market"], encoding_format="float"
        )
        assert emb.headers["x-zeta-model"] == "embed"
        data = emb.parse().data
        assert [len(d.embedding) for d in data] == [576, 576, 576]
        assert data[0].embedding != data[2].embedding


async def test_crash_means_other_replica_then_fallback_then_restart(
    gateway: tuple[Gateway, Recorder],
) -> None:
    gw, rec = gateway
    sup = gw.supervisor
    async with sdk(gw) as client:
        # One replica of "small" dies: the other one serves.
        old = sup["small-0"].pid
        assert sup.kill("small-0")
        await rec.wait("small-0", "exited")
        raw = await chat(client, "Hi there!", task="simple")
        assert raw.headers["x-zeta-model"] == "small"
        assert raw.headers["x-zeta-replica"] == "small-1"
        assert "x-zeta-fallback" not in raw.headers

        # The only "gemma" replica dies: reasoning falls back to the next model of its route.
        assert sup.kill("gemma-0")
        await rec.wait("gemma-0", "exited")
        raw = await chat(client, "Why is the sky blue? Think step by step.", task="reasoning")
        assert raw.headers["x-zeta-model"] == "small"
        assert raw.headers["x-zeta-fallback"].startswith("gemma->small")
        assert raw.parse().choices[0].message.content

        # Both come back on their own, as new processes, and serve again.
        await rec.wait("small-0", "ready", count=2, within=60)
        await rec.wait("gemma-0", "ready", count=2, within=60)
        assert sup["small-0"].restarts == 1 and sup["gemma-0"].restarts == 1
        assert sup["small-0"].pid not in (None, old)
        assert old is not None and not alive(old)
        # Past any breaker ejection left by the crash, gemma answers its own route again.
        for _ in range(20):
            raw = await chat(client, "Why is the sky blue? Think step by step.", task="reasoning")
            if raw.headers["x-zeta-model"] == "gemma":
                break
        assert raw.headers["x-zeta-model"] == "gemma"
