"""Spill-over and admission through the router: a saturated preferred model sends the request to
the next model that may take the task, or the request waits in the model's queue; what is said
about it in x-zeta-route. Real sockets to in-process fake backends; saturation is set directly
on the replica state, so nothing depends on timing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from zeta_router.config import parse_config
from zeta_router.fleet.state import ScrapedLoad
from zeta_router.http.protocol import PRIORITIES, parse_request
from zeta_router.http.response import Response
from zeta_router.router import RequestOptions, Router
from zeta_router.testing import FakeBackend
from zeta_router.upstream.dispatch import release

from .test_admission import settle

BODY = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": "think hard"}]})


def config(backends: dict[str, FakeBackend], **over: Any) -> dict[str, Any]:
    coder_max = over.pop("coder_max_complexity", 0.6)
    return {
        "health": {"enabled": False, "scrape_metrics": False},
        "analysis": {"analyzer": "heuristic"},
        "models": {
            "brain": {
                "replicas": [{"url": backends["b"].url, "id": "brain-0", "max_concurrency": 1}]
            },
            "small": {"max_complexity": 0.3, "replicas": [{"url": backends["s"].url}]},
            "coder": {"max_complexity": coder_max, "replicas": [{"url": backends["c"].url}]},
        },
        "routes": {"reasoning": ["brain", "small", "coder"]},
        **over,
    }


@pytest.fixture()
async def backends() -> AsyncIterator[dict[str, FakeBackend]]:
    out = {n: await FakeBackend(n).start() for n in ("b", "s", "c")}
    yield out
    for b in out.values():
        await b.stop()


async def make_router(backends: dict[str, FakeBackend], **over: Any) -> Router:
    router = Router(parse_config(config(backends, **over)))
    await router.start()
    return router


def headers(resp: Response) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in resp.headers}


async def ask(router: Router, **opts: Any) -> Response:
    body = opts.pop("body", BODY)
    return await router.handle(
        parse_request("chat", body), RequestOptions(task="reasoning", **opts)
    )


async def test_unsaturated_preferred_model_serves(backends: dict[str, FakeBackend]) -> None:
    router = await make_router(backends)
    try:
        resp = await ask(router)
        h = headers(resp)
        assert (resp.status, h["x-zeta-model"]) == (200, "brain")
        assert h["x-zeta-route"] == "route reasoning, 1st choice"
        assert router.fleet.replicas["brain-0"].in_flight == 0
    finally:
        await router.close()


async def test_saturated_model_spills_to_the_next_model_allowed_the_task(
    backends: dict[str, FakeBackend],
) -> None:
    router = await make_router(backends)
    try:
        router.fleet.replicas["brain-0"].in_flight = 1
        resp = await ask(router)
        h = headers(resp)
        assert resp.status == 200
        # small's max_complexity (0.3) is below the task's 0.5: it is skipped, coder takes it.
        assert h["x-zeta-model"] == "coder"
        assert h["x-zeta-route"] == (
            "spill: brain saturated (1/1 in flight); route reasoning, 3rd choice"
        )
        assert "brain: saturated" in h["x-zeta-fallback"]
        assert "small: max_complexity" in h["x-zeta-fallback"]
        assert backends["b"].requests == 0
    finally:
        await router.close()


async def test_no_capable_spill_target_means_waiting_for_a_slot(
    backends: dict[str, FakeBackend],
) -> None:
    router = await make_router(backends, coder_max_complexity=0.4)
    brain = router.fleet.replicas["brain-0"]
    try:
        brain.in_flight = 1
        task = asyncio.get_running_loop().create_task(ask(router))
        await settle()
        assert router.admission.waiting("brain") == 1
        assert not task.done()
        release(router.engine, brain)  # the request that held the slot finishes
        resp = await task
        h = headers(resp)
        assert (resp.status, h["x-zeta-model"]) == (200, "brain")
        assert h["x-zeta-route"].startswith("route reasoning, 1st choice; queued ")
        assert router.admission.pending == 0
        assert backends["c"].requests == backends["s"].requests == 0
    finally:
        await router.close()


async def test_full_queue_sheds_with_429_and_retry_after(backends: dict[str, FakeBackend]) -> None:
    router = await make_router(backends, coder_max_complexity=0.4, admission={"queue_size": 0})
    try:
        router.fleet.replicas["brain-0"].in_flight = 1
        resp = await ask(router)
        h = headers(resp)
        assert resp.status == 429
        assert int(h["retry-after"]) >= 1
        err = orjson.loads(resp.body)["error"]
        assert (err["type"], err["code"]) == ("rate_limit_error", "overloaded")
        assert "queue is full" in err["message"]
        assert router.admission.shed["brain"] == 1
    finally:
        await router.close()


async def test_deadline_that_the_queue_cannot_meet_is_refused_at_once(
    backends: dict[str, FakeBackend],
) -> None:
    router = await make_router(backends, coder_max_complexity=0.4)
    try:
        brain = router.fleet.replicas["brain-0"]
        brain.in_flight = 1
        brain.latency.value = 2.0  # a slot frees in about 2 s; the client allows 0.1 s
        resp = await ask(router, timeout_s=0.1)
        assert resp.status == 429
        assert "would pass the deadline" in orjson.loads(resp.body)["error"]["message"]
        assert headers(resp)["retry-after"] == "2"
    finally:
        await router.close()


async def test_stale_metrics_count_as_saturated(backends: dict[str, FakeBackend]) -> None:
    router = await make_router(backends)
    try:
        brain = router.fleet.replicas["brain-0"]
        brain.scraped = ScrapedLoad(at=router.clock() - 60)  # stale_after_s is 10
        resp = await ask(router)
        h = headers(resp)
        assert h["x-zeta-model"] == "coder"
        assert h["x-zeta-route"].startswith("spill: brain saturated (load metrics stale)")
    finally:
        await router.close()


async def test_backend_queue_spills_but_never_queues_here(backends: dict[str, FakeBackend]) -> None:
    router = await make_router(backends, coder_max_complexity=0.4)
    try:
        brain = router.fleet.replicas["brain-0"]
        brain.scraped = ScrapedLoad(waiting=5.0, running=4.0, at=router.clock())
        # No model may take the spill: the backend queues it itself, we do not hold it back.
        resp = await ask(router)
        h = headers(resp)
        assert (h["x-zeta-model"], h["x-zeta-route"]) == ("brain", "route reasoning, 1st choice")
    finally:
        await router.close()


async def test_pinned_model_waits_instead_of_spilling(backends: dict[str, FakeBackend]) -> None:
    router = await make_router(backends)
    brain = router.fleet.replicas["brain-0"]
    try:
        brain.in_flight = 1
        body = orjson.dumps({"model": "brain", "messages": [{"role": "user", "content": "hi"}]})
        task = asyncio.get_running_loop().create_task(ask(router, body=body))
        await settle()
        assert router.admission.waiting("brain") == 1
        release(router.engine, brain)
        resp = await task
        assert headers(resp)["x-zeta-model"] == "brain"
    finally:
        await router.close()


async def test_higher_priority_waiter_gets_the_slot_first(backends: dict[str, FakeBackend]) -> None:
    router = await make_router(backends, coder_max_complexity=0.4)
    brain = router.fleet.replicas["brain-0"]
    try:
        brain.in_flight = 1
        loop = asyncio.get_running_loop()
        low = loop.create_task(ask(router, priority=PRIORITIES["low"]))
        await settle()
        high = loop.create_task(ask(router, priority=PRIORITIES["high"]))
        await settle()
        assert router.admission.waiting("brain") == 2
        order: list[str] = []
        high.add_done_callback(lambda _: order.append("high"))
        low.add_done_callback(lambda _: order.append("low"))
        release(router.engine, brain)  # one slot: high goes, and low follows when high's is done
        assert headers(await high)["x-zeta-model"] == "brain"
        assert headers(await low)["x-zeta-model"] == "brain"
        assert order == ["high", "low"]
    finally:
        await router.close()


async def test_load_report_shows_saturation_and_queues(backends: dict[str, FakeBackend]) -> None:
    router = await make_router(backends)
    try:
        router.fleet.replicas["brain-0"].in_flight = 1
        report = router.load_report()
        brain = next(m for m in report["models"] if m["model"] == "brain")
        assert brain["saturated"] and brain["why"] == "at capacity"
        assert brain["utilisation"] == 1.0
        coder = next(m for m in report["models"] if m["model"] == "coder")
        assert not coder["saturated"] and coder["max_complexity"] == 0.6
    finally:
        await router.close()


async def test_capacity_back_without_a_release_is_noticed(
    backends: dict[str, FakeBackend],
) -> None:
    router = await make_router(backends, coder_max_complexity=0.4)
    router.admission.recheck_s = 0.01
    brain = router.fleet.replicas["brain-0"]
    try:
        brain.in_flight = 1
        task = asyncio.get_running_loop().create_task(ask(router))
        await settle()
        assert router.admission.waiting("brain") == 1
        brain.in_flight = 0  # e.g. a reload raised max_concurrency: no slot was released
        resp = await task
        assert headers(resp)["x-zeta-model"] == "brain"
        assert router.admission.pending == 0
    finally:
        await router.close()
