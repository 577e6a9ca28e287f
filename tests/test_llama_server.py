"""llama.cpp's own ``llama-server`` (built by ``zeta-router fleet build``) behind the router.

Real servers with the packaged models, the official openai SDK as the client. Skipped, saying
so, until the binary is built for this machine; CI builds it once and caches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from zeta_router.config import parse_config
from zeta_router.fleet.outcome import Health
from zeta_router.localfleet import (
    Gateway,
    LocalModelError,
    fleet_dict,
    free_ports,
    locate_models,
    running_gateway,
)
from zeta_router.managed.llamabuild import find_llama_server

from .fleet_helpers import fleet_gateway, sdk
from .test_managed import Recorder

BINARY = find_llama_server()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        BINARY is None, reason="llama-server is not built for this machine: zeta-router fleet build"
    ),
]


@pytest.fixture(scope="module")
def models() -> Any:
    try:
        return locate_models()
    except LocalModelError as exc:
        pytest.skip(f"packaged models missing: {exc}")


@pytest.fixture
async def gateway(models: Any, tmp_path: Path) -> AsyncIterator[tuple[Gateway, Recorder]]:
    assert BINARY is not None
    doc = fleet_dict(
        models, log_dir=str(tmp_path / "logs"), restart_backoff_s=0.2, llama_server=BINARY
    )
    doc["health"].update(interval_s=0.2, scrape_interval_s=0.1)
    async with fleet_gateway(parse_config(doc, "<test>"), 4) as served:
        yield served


async def until(cond: Any, within: float, what: str) -> None:
    """Wait (bounded) for a condition on live state that a background task changes."""
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, f"not within {within}s: {what}"
        await asyncio.sleep(0.02)


async def test_chat_stream_embeddings_and_its_metrics_feed_the_balancer(
    gateway: tuple[Gateway, Recorder],
) -> None:
    gw, _ = gateway
    async with sdk(gw) as client:
        raw = await client.chat.completions.with_raw_response.create(
            model="small", messages=[{"role": "user", "content": "Say hi."}], max_tokens=8
        )
        assert raw.headers["x-zeta-model"] == "small"
        assert raw.parse().choices[0].message.content
        # Gemma is a base model: llama-server applies the gemma chat template it was given.
        raw = await client.chat.completions.with_raw_response.create(
            model="gemma", messages=[{"role": "user", "content": "Say hi."}], max_tokens=8
        )
        assert raw.headers["x-zeta-model"] == "gemma"

        emb = await client.embeddings.create(model="auto", input=["a cat", "the stock market"])
        assert [len(d.embedding) for d in emb.data] == [576, 576]

        # A long stream keeps a slot busy: the scraped llamacpp:requests_processing shows it.
        small = [gw.router.fleet.replicas[r] for r in ("small-0", "small-1")]
        stream = await client.chat.completions.create(
            model="small",
            messages=[{"role": "user", "content": "Count from one to two hundred."}],
            max_tokens=400,
            stream=True,
        )
        async for _chunk in stream:
            if any(r.scraped is not None and r.scraped.running >= 1 for r in small):
                break
        else:
            pytest.fail("the scrape never saw the running request")
        await stream.close()


async def test_an_abandoned_stream_stops_the_server_generating(
    gateway: tuple[Gateway, Recorder],
) -> None:
    gw, _ = gateway
    replica = gw.router.fleet.replicas["small-0"]
    slots_url = replica.base_url.removesuffix("/v1") + "/slots"
    async with sdk(gw) as client, httpx.AsyncClient() as http:

        async def busy() -> bool:
            slots = (await http.get(slots_url)).json()
            return any(s["is_processing"] for s in slots)

        stream = await client.chat.completions.create(
            model="small",
            messages=[{"role": "user", "content": "Write a very long story about a dragon."}],
            max_tokens=1500,
            stream=True,
            extra_headers={"x-zeta-task": "simple"},
        )
        got = 0
        async for _chunk in stream:
            got += 1
            if got == 3:
                break
        served_by = gw.router.fleet.replicas
        # The client leaves after three chunks: the router closes its upstream connection, and
        # llama-server stops the generation (1,500 tokens would take tens of seconds here).
        await stream.close()
        left = time.monotonic()
        busy_replicas = [r for r in served_by.values() if r.model == "small"]
        for r in busy_replicas:
            url = r.base_url.removesuffix("/v1") + "/slots"
            deadline = time.monotonic() + 5
            while any(s["is_processing"] for s in (await http.get(url)).json()):
                assert time.monotonic() < deadline, f"{r.id} still generating 5 s after"
                await asyncio.sleep(0.05)
        assert time.monotonic() - left < 5
        assert not await busy()


async def test_failover_when_killed_and_restart_from_the_launch_template(
    gateway: tuple[Gateway, Recorder],
) -> None:
    gw, rec = gateway
    sup = gw.supervisor
    async with sdk(gw) as client:
        old = sup["small-0"].pid
        assert sup.kill("small-0", signal.SIGKILL)
        await rec.wait("small-0", "exited")
        for _ in range(4):
            raw = await client.chat.completions.with_raw_response.create(
                model="small", messages=[{"role": "user", "content": "Hi!"}], max_tokens=4
            )
            assert raw.headers["x-zeta-replica"] == "small-1"
        await rec.wait("small-0", "ready", count=2, within=60)
        assert sup["small-0"].pid not in (None, old)
        st = gw.router.fleet.replicas["small-0"]
        assert st.breaker.last_reason == "process died while serving (killed by SIGKILL)"
        # On probation after the crash, then back in service once its probe succeeds.
        await until(lambda: st.breaker.can_try(gw.router.clock()), 5, "ejection over")
        for _ in range(20):
            raw = await client.chat.completions.with_raw_response.create(
                model="small", messages=[{"role": "user", "content": "Hi!"}], max_tokens=4
            )
            if raw.headers["x-zeta-replica"] == "small-0":
                break
        assert raw.headers["x-zeta-replica"] == "small-0"


@contextlib.contextmanager
def server(model: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """An unmanaged llama-server, as a user runs one behind the router."""
    assert BINARY is not None
    argv = [str(BINARY), "--model", str(model), "--port", str(port), "--host", "127.0.0.1"]
    argv += ["--threads", "1", "--no-repack", "--no-webui", "-c", "1024"]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


async def test_a_loading_llama_server_answers_503_and_the_router_honours_it(
    models: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Gemma-3-270M takes a moment to load; meanwhile llama-server answers every route with 503
    "Loading model". The router sees it, serves from the fallback model, and uses gemma once
    its /health says ready."""
    gemma_port, small_port, listen = free_ports(3)
    doc = {
        "listen": {"port": listen},
        "models": {
            "gemma": {
                "health": "llamacpp",
                "replicas": [{"url": f"http://127.0.0.1:{gemma_port}/v1"}],
            },
            "small": {"health": "none", "replicas": [{"url": f"http://127.0.0.1:{small_port}/v1"}]},
        },
        "routes": {"simple": ["gemma", "small"]},
        "health": {"interval_s": 0.05, "unhealthy_after": 100, "scrape_metrics": False},
        "analysis": {"analyzer": "heuristic"},
    }
    caplog.set_level(logging.INFO, logger="zeta_router.health")
    with server(models.smollm2, small_port, tmp_path / "small.log"):
        async with running_gateway(parse_config(doc, "<test>")) as gw, httpx.AsyncClient() as h:
            await until_ok(h, f"http://127.0.0.1:{small_port}/health", 60)
            gemma = gw.router.fleet.replicas["gemma-0"]
            with server(models.gemma, gemma_port, tmp_path / "gemma.log"):
                async with sdk(gw) as client:
                    deadline = time.monotonic() + 60
                    served: set[str] = set()
                    while gemma.health is not Health.READY or "gemma" not in served:
                        assert time.monotonic() < deadline, (gemma.health, served)
                        raw = await client.chat.completions.with_raw_response.create(
                            model="auto",
                            messages=[{"role": "user", "content": "Hi"}],
                            max_tokens=2,
                            extra_headers={"x-zeta-task": "simple"},
                        )
                        served.add(raw.headers["x-zeta-model"])
    # The prober saw the 503 "Loading model" and marked it loading (no request went there
    # meanwhile: small served them), then ready.
    assert "replica gemma-0 is ready again (was loading)" in caplog.messages
    assert served == {"small", "gemma"}


async def until_ok(http: httpx.AsyncClient, url: str, within: float) -> None:
    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(httpx.TransportError):
            if (await http.get(url)).status_code == 200:
                return
        assert time.monotonic() < deadline, f"{url} not ready within {within}s"
        await asyncio.sleep(0.05)
