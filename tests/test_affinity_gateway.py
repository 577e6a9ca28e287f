"""Cache affinity end to end: the official openai SDK against the gateway on a real socket, in
front of three fake replicas (real HTTP servers). A conversation's turns stick to one replica,
a named session sticks even when its prompts share nothing, and the load bound sends the
overflow of a hot replica elsewhere; the headers, metrics and status say so. The replicas'
own cache reports correct the index, in OpenAI's and llama.cpp's shapes and, where the agent
APIs are relayed natively, in Anthropic's (through the anthropic SDK) and the Responses API's."""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from zeta_router.testing import Harness

from .conversations import document, turns
from .redis_helpers import wait_for

REPLICAS = ("r0", "r1", "r2")


def template(**balancer: Any) -> dict[str, Any]:
    return {
        "health": {"enabled": False},
        "timeouts": {"connect_s": 1.0, "first_byte_s": 5.0, "idle_s": 2.0, "total_s": 10.0},
        "analysis": {"analyzer": "heuristic"},
        "balancer": balancer,
        "models": {
            "m": {
                "endpoints": ["chat", "completions"],
                "replicas": [{"url": f"fake:{r}", "id": r} for r in REPLICAS],
            }
        },
    }


@pytest.fixture()
def harness() -> Iterator[Harness]:
    h = Harness(dict.fromkeys(REPLICAS, "llamacpp"), template())
    yield h
    h.close()


async def ask(
    c: openai.AsyncOpenAI, messages: list[dict[str, str]], **kw: Any
) -> tuple[str, str]:
    raw = await c.chat.completions.with_raw_response.create(
        model="m", messages=messages, max_tokens=4, **kw  # type: ignore[arg-type]
    )
    raw.parse()
    return raw.headers["x-zeta-replica"], raw.headers["x-zeta-route"]


def client(h: Harness) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=h.base_url, api_key="unused", max_retries=0, timeout=20)


def scrape(h: Harness) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(httpx.get(h.url + "/metrics").text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_each_conversation_sticks_to_one_replica(harness: Harness) -> None:
    async def run() -> dict[int, list[tuple[str, str]]]:
        c = client(harness)
        # First turns at once: the balancer spreads them by load. The replicas hold them until
        # all six are in, so they are in flight together however slow the machine (answered
        # as they come, each pick would see idle replicas and might choose the same one).
        backends = [harness.backend(r) for r in REPLICAS]
        for b in backends:
            b.set(hold=True)
        asks = asyncio.gather(*(ask(c, turns(document(s), 1)) for s in range(6)))
        try:
            await wait_for(lambda: sum(b.running for b in backends) == 6, 10, "six first turns")
        finally:
            for b in backends:
                b.set(hold=False)
        first = await asks
        seen: dict[int, list[tuple[str, str]]] = {s: [first[s]] for s in range(6)}
        # Then turn by turn, every session in between: what a busy gateway sees.
        for t in range(2, 5):
            for s in range(6):
                seen[s].append(await ask(c, turns(document(s), t)))
        await c.close()
        return seen

    seen = harness.thread.run(run())
    homes = set()
    for s, answers in seen.items():
        replicas = {r for r, _ in answers}
        assert len(replicas) == 1, (s, answers)
        homes |= replicas
        assert "affinity" not in answers[0][1]  # nothing known of a first turn
        for _, route in answers[1:]:
            assert "affinity: prefix" in route, route
    assert len(homes) > 1  # first turns are balanced, not all sent to one replica
    m = scrape(harness)
    assert m[("zeta_affinity_decisions_total", (("model", "m"), ("outcome", "prefix")))] == 18
    status = httpx.get(harness.url + "/v1/router/status").json()["affinity"]
    assert status["enabled"] and status["blocks"] > 0
    assert set(status["blocks_per_replica"]) == homes


def test_a_named_session_sticks_and_so_do_prompt_cache_key_and_user(harness: Harness) -> None:
    async def run() -> list[tuple[str, str]]:
        c = client(harness)
        out = []
        for i in range(5):
            # Nothing shared between these prompts but the session.
            msgs = [{"role": "user", "content": f"unrelated question number {i}"}]
            out.append(await ask(c, msgs, extra_headers={"x-zeta-session": "alice"}))
        for i in range(4):
            msgs = [{"role": "user", "content": f"another question {i}"}]
            out.append(await ask(c, msgs, extra_body={"prompt_cache_key": "bob"}))
        for i in range(4):
            msgs = [{"role": "user", "content": f"yet another question {i}"}]
            out.append(await ask(c, msgs, user="carol"))
        await c.close()
        return out

    out = harness.thread.run(run())
    for group in (out[:5], out[5:9], out[9:]):
        assert len({r for r, _ in group}) == 1, group
        for _, route in group[1:]:
            assert "affinity: session" in route


def test_the_load_bound_sends_a_hot_replicas_overflow_elsewhere(harness: Harness) -> None:
    doc = document(99)

    async def run() -> tuple[str, list[tuple[str, str]]]:
        c = client(harness)
        home, _ = await ask(c, turns(doc, 1))
        harness.backend(home).set(delay_s=0.5)  # every request there now stays in flight
        burst = await asyncio.gather(*(ask(c, turns(doc, 2)) for _ in range(6)))
        await c.close()
        return home, list(burst)

    home, burst = harness.thread.run(run())
    where = Counter(r for r, _ in burst)
    # Three replicas, six requests at once: the bound is 1.25 x mean, at most 2.5 in flight.
    assert 1 <= where[home] <= 2, where
    assert sum(where.values()) == 6 and len(where) >= 2
    overridden = [route for r, route in burst if r != home]
    assert overridden and all(f"affinity: {home} over the load bound" in route
                              or "affinity: prefix" in route for route in overridden)
    assert any("over the load bound" in route for route in overridden)
    m = scrape(harness)
    key = ("zeta_affinity_decisions_total", (("model", "m"), ("outcome", "load-bound")))
    assert m[key] >= 1


def test_affinity_off_is_plain_balancing() -> None:
    h = Harness(
        dict.fromkeys(REPLICAS, "llamacpp"),
        template(strategy="round-robin", affinity={"enabled": False}),
    )
    try:

        async def run() -> list[tuple[str, str]]:
            c = client(h)
            out = [await ask(c, turns(document(1), t)) for t in range(1, 13)]
            await c.close()
            return out

        out = h.thread.run(run())
        assert all("affinity" not in route for _, route in out)
        assert len({r for r, _ in out}) > 1
        assert httpx.get(h.url + "/v1/router/status").json()["affinity"]["blocks"] == 0
    finally:
        h.close()


def test_a_bad_session_header_is_a_400(harness: Harness) -> None:
    r = httpx.post(
        harness.base_url + "/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-zeta-session": "x" * 300},
    )
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "x-zeta-session"


async def ask_stream(c: openai.AsyncOpenAI, messages: list[dict[str, str]]) -> tuple[str, str]:
    async with c.chat.completions.with_streaming_response.create(
        model="m", messages=messages, max_tokens=4, stream=True  # type: ignore[arg-type]
    ) as resp:
        lines = [line async for line in resp.iter_lines() if line]
        assert lines[-1] == "data: [DONE]"
        return resp.headers["x-zeta-replica"], resp.headers["x-zeta-route"]


def test_a_replica_that_lost_its_cache_is_corrected_by_its_own_report(harness: Harness) -> None:
    """The backends report cached tokens (usage, and llama.cpp's timings on a stream's last
    chunk). A hit they confirm changes nothing; a replica that says it held nothing of what
    affinity sent it there for counts as a correction."""
    for r in REPLICAS:
        harness.set(r, prompt_cache=4)
    doc = document(7)

    def corrections() -> int:
        status = httpx.get(harness.url + "/v1/router/status").json()
        return int(status["affinity"]["corrections"])

    async def run() -> list[tuple[str, str]]:
        async with client(harness) as c:
            out = [await ask(c, turns(doc, 1)), await ask_stream(c, turns(doc, 2))]
            # Both confirmed by the replica (read on the gateway's own loop, where this runs).
            assert harness.router.affinity.corrections == 0
            home = out[0][0]
            harness.backend(home).prompt_cache.clear()  # as after a restart
            out.append(await ask_stream(c, turns(doc, 3)))
            out.append(await ask(c, turns(doc, 4)))
        return out

    out = harness.thread.run(run())
    assert len({r for r, _ in out}) == 1
    assert all("affinity: prefix" in route for _, route in out[1:])
    assert corrections() == 1  # turn 3's report; turn 4 found what turn 3 left there
    m = scrape(harness)
    assert m[("zeta_affinity_corrections_total", ())] == 1
    decisions = httpx.get(harness.url + "/v1/router/status").json()["decisions"]
    assert {d["cached_tokens"] for d in decisions[:4]} >= {0}
    assert any(d["cached_tokens"] and d["affinity"] == "prefix" for d in decisions[:4])


async def ask_native(
    c: anthropic.AsyncAnthropic | openai.AsyncOpenAI,
    messages: list[dict[str, str]],
    *,
    stream: bool,
) -> tuple[str, str]:
    """One Messages or Responses turn of a chat-shaped conversation (its system prompt apart,
    as each API sends it)."""
    head, rest = messages[0]["content"], messages[1:]
    if isinstance(c, anthropic.AsyncAnthropic):
        kw: dict[str, Any] = {"model": "m", "max_tokens": 4, "system": head, "messages": rest}
        api: Any = c.messages
        end = '"message_stop"'
    else:
        kw = {"model": "m", "max_output_tokens": 4, "instructions": head, "input": rest}
        api = c.responses
        end = '"response.completed"'
    if stream:
        async with api.with_streaming_response.create(**kw, stream=True) as resp:
            lines = [line async for line in resp.iter_lines() if line]
            assert end in lines[-1], lines[-3:]
            return resp.headers["x-zeta-replica"], resp.headers["x-zeta-route"]
    raw = await api.with_raw_response.create(**kw)
    parsed = raw.parse()  # a coroutine in the anthropic SDK, not in the openai one
    assert (await parsed if inspect.isawaitable(parsed) else parsed).id
    return raw.headers["x-zeta-replica"], raw.headers["x-zeta-route"]


@pytest.mark.parametrize(
    ("path", "health"), [("/v1/messages", "llamacpp"), ("/v1/responses", "vllm")]
)
def test_native_agent_api_cache_reports_correct_the_index(path: str, health: str) -> None:
    """A backend that serves /v1/messages or /v1/responses itself reports its prompt cache in
    that API's terms: Anthropic's ``usage.cache_read_input_tokens`` (llama-server: of a
    Message, or of a stream's ``message_start``, its ``message_delta`` carrying only
    output_tokens), the Responses API's ``usage.input_tokens_details.cached_tokens`` (vLLM:
    of a Response, or of a stream's ``response.completed``). A confirmed hit changes nothing;
    a replica that read nothing of what affinity sent it there for counts as a correction,
    streamed or not."""
    t = template()
    t["models"]["m"]["health"] = health  # the API relayed as it is
    h = Harness(dict.fromkeys(REPLICAS, health), t)
    try:
        for r in REPLICAS:
            h.set(r, prompt_cache=4)
        doc = document(8)

        async def run() -> tuple[list[tuple[str, str]], list[int]]:
            out: list[tuple[str, str]] = []
            corrections: list[int] = []
            c: anthropic.AsyncAnthropic | openai.AsyncOpenAI = (
                anthropic.AsyncAnthropic(base_url=h.url, api_key="unused", max_retries=0)
                if path == "/v1/messages"
                else client(h)
            )
            async with c:
                for upto, stream, lose in (
                    (1, False, False),
                    (2, True, False),
                    (3, True, True),
                    (4, False, True),
                    (5, False, False),
                ):
                    if lose:
                        h.backend(out[0][0]).prompt_cache.clear()  # as after a restart
                    out.append(await ask_native(c, turns(doc, upto), stream=stream))
                    # Read on the gateway's own loop, where this runs.
                    corrections.append(h.router.affinity.corrections)
            return out, corrections

        out, corrections = h.thread.run(run())
        assert len({r for r, _ in out}) == 1
        assert all("affinity: prefix" in route for _, route in out[1:]), out
        assert h.backend(out[0][0]).last_path == path
        # Turn 3's stream and turn 4's answer were misses; turns 2 and 5 hits.
        assert corrections == [0, 0, 1, 2, 2]
        decisions = httpx.get(h.url + "/v1/router/status").json()["decisions"][:5]
        cached = [d["cached_tokens"] for d in reversed(decisions)]
        assert cached[0] == 0 and cached[2] == cached[3] == 0, cached
        assert cached[1] and cached[4], cached
    finally:
        h.close()
