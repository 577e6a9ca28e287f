"""One suite over both transports behind the Transport protocol, against a real fake backend over
real sockets: the HTTP/1.1 client the router uses and aiohttp, which it is checked against. Same
answers, same failure kinds, same timeouts on the clock they are given."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from zeta_router.config import Timeouts, parse_config
from zeta_router.errors import FailureKind, UpstreamError
from zeta_router.fleet.state import Fleet, ReplicaState
from zeta_router.testing import FakeBackend
from zeta_router.upstream.aiohttp_transport import AiohttpTransport
from zeta_router.upstream.http_transport import HttpTransport
from zeta_router.upstream.transport import Reply, Transport

BODY = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
STREAM_BODY = orjson.dumps(
    {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
)
TIMEOUTS = Timeouts(connect_s=1.0, first_byte_s=0.3, idle_s=1.0, total_s=10.0, generation_s=0.1)


@pytest.fixture(params=[HttpTransport, AiohttpTransport], ids=["http1", "aiohttp"])
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    t: Transport = request.param(time.monotonic)
    yield t
    await t.close()


@pytest.fixture()
async def backend() -> AsyncIterator[FakeBackend]:
    b = await FakeBackend("b").start()
    yield b
    await b.stop()


def replica_for(url: str) -> ReplicaState:
    config = parse_config({"models": {"m": {"replicas": [{"url": url}]}}})
    return Fleet(config).models["m"].replicas[0]


async def send(t: Transport, r: ReplicaState, body: bytes, **kw: Any) -> Any:
    return await t.send(
        r,
        "/chat/completions",
        body,
        TIMEOUTS,
        time.monotonic() + 10,
        stream=kw.pop("stream", False),
    )


async def test_a_reply(transport: Transport, backend: FakeBackend) -> None:
    out = await send(transport, replica_for(backend.url), BODY)
    assert isinstance(out, Reply) and out.status == 200
    assert orjson.loads(out.body)["object"] == "chat.completion"


async def test_a_stream_to_its_end(transport: Transport, backend: FakeBackend) -> None:
    out = await send(transport, replica_for(backend.url), STREAM_BODY, stream=True)
    assert not isinstance(out, Reply)
    blocks = [out.first, *[b async for b in out]]
    out.close()
    assert b"".join(blocks).rstrip().endswith(b"data: [DONE]")


@pytest.mark.parametrize(
    ("mode", "kind"),
    [
        ("503", FailureKind.UNAVAILABLE),
        ("loading", FailureKind.LOADING),
        ("429", FailureKind.RATE_LIMITED),
    ],
)
async def test_status_failures(
    transport: Transport, backend: FakeBackend, mode: str, kind: FailureKind
) -> None:
    backend.set(mode=mode)
    with pytest.raises(UpstreamError) as caught:
        await send(transport, replica_for(backend.url), BODY)
    assert caught.value.kind is kind


async def test_a_refused_connection(transport: Transport, backend: FakeBackend) -> None:
    url = backend.url
    await backend.stop()
    with pytest.raises(UpstreamError) as caught:
        await send(transport, replica_for(url), BODY)
    assert caught.value.kind is FailureKind.CONNECT


async def test_a_hung_server_times_out_at_first_byte(
    transport: Transport, backend: FakeBackend
) -> None:
    backend.set(mode="hang")
    t0 = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        await send(transport, replica_for(backend.url), BODY)
    took = time.monotonic() - t0
    assert caught.value.kind is FailureKind.FIRST_BYTE_TIMEOUT
    # first_byte_s plus the non-stream generation allowance (generation_s = 0.1).
    assert 0.35 <= took < 2.0, took
    backend.release_hung()


async def test_a_probe_get(transport: Transport, backend: FakeBackend) -> None:
    status, body = await transport.get(backend.url + "/models", 1.0)
    assert status == 200 and b"data" in body
