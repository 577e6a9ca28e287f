"""Failure attribution, generation deadlines and parameter translation, through the real gateway.

A bad request is told apart from a bad replica: the client gets the upstream's own error after at
most two attempts and no breaker hears of it, while a replica that answers 500 to everything is
still ejected, in the same run. Long non-stream answers are generated once; an abandoned attempt's
connection is closed so the server stops. ``max_completion_tokens`` bounds answers on every kind
of server.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from zeta_router.errors import BLAME, FailureKind
from zeta_router.fleet.breaker import BreakerState
from zeta_router.testing import Harness
from zeta_router.testing.fake_backend import VALIDATION_MESSAGE
from zeta_router.upstream.attempt import status_error

MARKER = "ZETA-INVALID-FOR-THE-BACKEND"
#: llama-cpp-python 0.3.36's own answer to a json_schema response_format, as measured.
LLAMA_CPP_PYTHON_500 = (
    b'{"error":{"message":"1 validation error:\\n  {\'type\': \'literal_error\', \'loc\': '
    b"('body', 'response_format', 'type'), 'msg': \\\"Input should be 'text' or "
    b"'json_object'\\\", 'input': 'json_schema'}\\n\",\"type\":\"internal_server_error\","
    b'"param":null,"code":null}}'
)


# -- the translation table -----------------------------------------------------------------


def test_every_failure_kind_has_a_blame() -> None:
    assert set(BLAME) == set(FailureKind)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (500, LLAMA_CPP_PYTHON_500, FailureKind.REQUEST_REJECTED),
        (500, VALIDATION_MESSAGE.encode(), FailureKind.REQUEST_REJECTED),
        (500, b'{"error": {"message": "bad", "type": "invalid_request_error"}}',
         FailureKind.REQUEST_REJECTED),
        (500, b"1 validation error for ChatCompletionRequest\nmessages\n  Field required",
         FailureKind.REQUEST_REJECTED),
        (500, b'{"error":{"message":"","type":"internal_server_error"}}', FailureKind.SERVER_ERROR),
        (500, b'{"error": {"message": "Internal server error"}}', FailureKind.SERVER_ERROR),
        (502, b"<html>bad gateway</html>", FailureKind.SERVER_ERROR),
        (422, b'{"detail": [{"loc": ["body", "messages"], "msg": "Field required"}]}',
         FailureKind.CLIENT_ERROR),
        (400, b'{"error": "invalid options"}', FailureKind.CLIENT_ERROR),
        (404, b'{"error": {"message": "The model `x` does not exist."}}', FailureKind.NOT_FOUND),
        (401, b"{}", FailureKind.REJECTED),
        (503, b'{"error": {"message": "Loading model"}}', FailureKind.LOADING),
    ],
)
def test_status_and_body_give_the_failure_kind(status: int, body: bytes, kind: FailureKind) -> None:
    err = status_error(status, {}, body)
    assert err.kind is kind
    assert err.blame is BLAME[kind]


def test_the_whole_upstream_message_is_kept() -> None:
    err = status_error(500, {}, LLAMA_CPP_PYTHON_500)
    assert err.message.startswith("1 validation error:")
    assert err.message.rstrip().endswith("'input': 'json_schema'}")
    assert len(err.detail) < len(err.message), "the reason string is short, the message whole"


# -- 200 requests, one in four invalid, one replica broken -----------------------------------

BREAKER = {"consecutive_failures": 5, "eject_base_s": 60.0, "eject_max_s": 120.0}


def attribution_template(**overrides: Any) -> dict[str, Any]:
    t: dict[str, Any] = {
        "health": {"enabled": False, "scrape_metrics": False},
        "timeouts": {"connect_s": 1.0, "first_byte_s": 5.0, "idle_s": 2.0, "total_s": 20.0},
        "retry": {"backoff_base_s": 0.01, "backoff_max_s": 0.02},
        "breaker": BREAKER,
        "analysis": {"analyzer": "heuristic"},
        "models": {
            "brain": {
                "health": "none",
                "replicas": [
                    {"url": "fake:b1", "id": "brain-a", "upstream_model": "smollm2-135m"},
                    {"url": "fake:b2", "id": "brain-b", "upstream_model": "smollm2-135m"},
                ],
            },
            "coder": {
                "health": "none",
                "replicas": [
                    {"url": "fake:c1", "id": "coder-a"},
                    {"url": "fake:c2", "id": "coder-b"},
                ],
            },
        },
        "routes": {"reasoning": ["brain", "coder"], "code": ["coder", "brain"]},
    }
    t.update(overrides)
    return t


@pytest.fixture()
def fleet(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The fleet; a test may set ``timeouts`` with ``@pytest.mark.parametrize(..., indirect)``."""
    timeouts = getattr(request, "param", None)
    overrides = {"timeouts": timeouts} if timeouts else {}
    h = Harness(["b1", "b2", "c1", "c2"], attribution_template(**overrides))
    yield h
    h.close()


@pytest.fixture()
def sdk(fleet: Harness) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=fleet.base_url, api_key="x", max_retries=0, timeout=30) as c:
        yield c


def _timeouts(**changes: float) -> dict[str, float]:
    base = {"connect_s": 1.0, "first_byte_s": 5.0, "idle_s": 2.0, "total_s": 20.0}
    return {**base, **changes}


def prefer(fleet: Harness, rid: str) -> None:
    """Make the balancer pick ``rid`` among brain's replicas for the next request."""
    for r in fleet.router.fleet.models["brain"].replicas:
        r.latency.value = 0.0001 if r.id == rid else 1.0


async def run_mix(
    base_url: str, n: int, concurrency: int, *, seed: int = 13
) -> list[tuple[bool, str, int, dict[str, str], Any]]:
    """``n`` chat requests at ``concurrency``, one in four carrying the marker, alternately
    pinned to each model; returns (invalid, model, status, headers, body) per request."""
    rng = random.Random(seed)
    plan = [(i % 4 == 0, "brain" if rng.random() < 0.5 else "coder") for i in range(n)]
    rng.shuffle(plan)
    out: list[tuple[bool, str, int, dict[str, str], Any]] = []
    sem = asyncio.Semaphore(concurrency)
    client = openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=30)

    async def one(invalid: bool, model: str) -> None:
        text = f"Say hello. {MARKER}" if invalid else "Say hello."
        async with sem:
            try:
                raw = await client.chat.completions.with_raw_response.create(
                    model=model, messages=[{"role": "user", "content": text}], max_tokens=8
                )
                out.append((invalid, model, raw.status_code, dict(raw.headers), raw.parse()))
            except openai.APIStatusError as exc:
                headers = dict(exc.response.headers)
                out.append((invalid, model, exc.status_code, headers, exc.response.json()))

    async with client:
        await asyncio.gather(*(one(inv, m) for inv, m in plan))
    return out


def test_bad_requests_and_a_broken_replica_in_one_run(fleet: Harness) -> None:
    for name in ("b1", "b2", "c1", "c2"):
        fleet.set(name, reject_marker=MARKER)
    fleet.set("c2", mode="500")  # answers 500 to everything, marker or not
    results = asyncio.run(run_mix(fleet.base_url, 200, 8))

    valid = [r for r in results if not r[0]]
    invalid = [r for r in results if r[0]]
    assert len(valid) == 150 and len(invalid) == 50
    assert [r[2] for r in valid if r[2] != 200] == [], "no valid request fails"
    for _, _, status, headers, body in invalid:
        err = body["error"]
        assert status == 400, body
        assert err["code"] == "upstream_rejected"
        assert int(headers["x-zeta-attempts"]) <= 2
        assert headers["x-zeta-blame"] == "request"
        # The upstream's whole message, and the model (and upstream model) that answered.
        assert err["message"].endswith(VALIDATION_MESSAGE), err["message"]
        assert err["zeta"]["model"] in ("brain", "coder")
        assert err["zeta"]["upstream_status"] == 500
        if err["zeta"]["model"] == "brain":
            assert err["message"].startswith("brain (smollm2-135m) rejected the request: ")

    replicas = fleet.router.fleet.replicas
    broken = replicas["coder-b"]
    assert broken.breaker.state is BreakerState.OPEN, "the replica failing everything is ejected"
    # Within its breaker settings: consecutive_failures counted failures open it; requests
    # already in flight then (at most the concurrency) may still fail there.
    assert fleet.backend("c2").requests <= BREAKER["consecutive_failures"] + 8
    for rid in ("brain-a", "brain-b", "coder-a"):
        assert replicas[rid].breaker.ejections == 0, f"{rid}'s breaker never opened"
        assert replicas[rid].failures == 0, f"{rid}: the request's faults are not its failures"

    fleet.thread.call(fleet.router.telemetry.flush)
    stats = fleet.router.telemetry.stats
    assert sum(stats.request_faults.values()) >= len(invalid)
    assert {reason for _, reason in stats.request_faults} == {"request rejected"}
    assert stats.attempt_failures[("coder", "5xx")] == broken.failures
    metrics = httpx.get(fleet.url + "/metrics", timeout=10).text
    assert 'zeta_request_faults_total{model="brain",reason="request rejected"}' in metrics
    # The log line says what happened, attempt by attempt.
    rejected = [d for d in fleet.router.telemetry.recent if d.status == 400]
    assert rejected
    for d in rejected:
        record = fleet.router.telemetry.log_record(d)
        assert record["failures"] and record["error"].endswith(VALIDATION_MESSAGE)
        blames = {f["blame"] for f in record["failures"]}
        assert "request" in blames and blames <= {"request", "replica"}


def test_a_validation_error_with_nowhere_else_to_go_is_relayed() -> None:
    models = {"m": {"health": "none", "replicas": [{"url": "fake:b1"}]}}
    h = Harness(["b1"], attribution_template(models=models, routes={}))
    try:
        h.set("b1", reject_marker=MARKER)
        r = httpx.post(
            h.base_url + "/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": MARKER}]},
            timeout=30,
        )
        assert r.status_code == 400 and r.headers["x-zeta-attempts"] == "1", r.text
        assert r.json()["error"]["message"] == f"m rejected the request: {VALIDATION_MESSAGE}"
        replica = h.router.fleet.replicas["m-0"]
        assert replica.failures == 0 and replica.breaker.state is BreakerState.CLOSED
    finally:
        h.close()


def test_a_bare_500_from_two_serving_replicas_is_the_requests(
    fleet: Harness, sdk: openai.OpenAI
) -> None:
    """llama-cpp-python answers a completions prompt of two strings with a 500 and an empty
    message: only two replicas failing it alike while serving others say whose fault it is."""
    c = sdk
    a, b = fleet.router.fleet.models["brain"].replicas
    for rid in ("brain-a", "brain-b"):
        prefer(fleet, rid)
        c.chat.completions.create(model="brain", messages=[{"role": "user", "content": "hi"}])
    assert a.successes and b.successes
    for name in ("b1", "b2"):
        fleet.set(name, mode="500")
    for n in (1, 2):
        with pytest.raises(openai.InternalServerError) as info:
            c.chat.completions.create(model="brain", messages=[{"role": "user", "content": "hi"}])
        resp = info.value.response
        assert resp.headers["x-zeta-attempts"] == "2"
        assert resp.headers["x-zeta-blame"] == "request"
        assert resp.json()["error"]["code"] == "upstream_error"
        assert a.failures == b.failures == 0 and a.request_faults == b.request_faults == n
    # Two in a row, nothing served between: the replicas are failing everything, not the
    # requests. Counted, and the fallback serves.
    raw = c.chat.completions.with_raw_response.create(
        model="brain", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-zeta-model"] == "coder"
    assert a.failures == b.failures == 1


def test_a_replica_failing_what_another_serves_counts(fleet: Harness, sdk: openai.OpenAI) -> None:
    fleet.set("b1", reject_marker="Say")  # refuses, validation-style, what brain-b serves
    c = sdk
    a = fleet.router.fleet.replicas["brain-a"]
    served = set()
    for _ in range(12):
        prefer(fleet, "brain-a")  # tried first while its breaker lets it
        raw = c.chat.completions.with_raw_response.create(
            model="brain", messages=[{"role": "user", "content": "Say hi"}]
        )
        served.add(raw.headers["x-zeta-replica"])
    assert served == {"brain-b"}
    assert a.breaker.state is BreakerState.OPEN and a.failures == BREAKER["consecutive_failures"]


# -- deadlines that fit generation -----------------------------------------------------------


FIRST_BYTE_S = 0.3


@pytest.mark.parametrize(
    "fleet", [_timeouts(first_byte_s=FIRST_BYTE_S, decode_s_per_token=0.05)], indirect=True
)
def test_long_non_stream_answers_are_generated_once(fleet: Harness) -> None:
    first_byte = FIRST_BYTE_S
    for name in ("b1", "b2", "c1", "c2"):
        fleet.set(name, delay_s=2 * first_byte)  # the answer takes twice the first-byte timeout

    async def ten() -> list[openai.types.chat.ChatCompletion]:
        async with openai.AsyncOpenAI(
            base_url=fleet.base_url, api_key="x", max_retries=0, timeout=30
        ) as client:
            calls = [
                client.chat.completions.with_raw_response.create(
                    model="brain", messages=[{"role": "user", "content": "tell me"}], max_tokens=16
                )
                for _ in range(10)
            ]
            raws = await asyncio.gather(*calls)
        assert [r.headers["x-zeta-attempts"] for r in raws] == ["1"] * 10
        return [r.parse() for r in raws]

    answers = asyncio.run(ten())
    assert len(answers) == 10
    backends = [fleet.backend(n) for n in ("b1", "b2", "c1", "c2")]
    assert sum(b.requests for b in backends) == 10, "each answer generated once, no retry"
    assert sum(b.abandoned for b in backends) == 0
    # The measured decode time is what the next allowance uses.
    assert all(r.decode_s_per_token > 0 for r in fleet.router.fleet.models["brain"].replicas)


@pytest.mark.parametrize(
    "fleet", [_timeouts(first_byte_s=0.2, generation_s=0.1)], indirect=True
)
def test_an_abandoned_attempt_closes_its_connection_and_the_server_stops(fleet: Harness) -> None:
    fleet.set("b1", delay_s=30.0)  # far beyond its allowance
    prefer(fleet, "brain-a")
    r = httpx.post(
        fleet.base_url + "/chat/completions",
        json={"model": "brain", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    assert r.status_code == 200 and r.headers["x-zeta-replica"] == "brain-b"
    assert r.headers["x-zeta-attempts"] == "2"
    b1 = fleet.backend("b1")

    async def stopped() -> None:
        for _ in range(500):
            if b1.abandoned:
                return
            await asyncio.sleep(0.01)

    fleet.thread.run(stopped())
    assert b1.abandoned == 1 and b1.completed == 0, "the server saw the close and stopped"


# -- parameter translation -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["none", "auto", "llamacpp", "vllm", "sglang", "ollama", "openai"])
def test_max_completion_tokens_bounds_the_answer_on_every_kind(kind: str) -> None:
    """The fake server reads only ``max_tokens``, as llama-cpp-python's does."""
    models = {"m": {"health": kind, "replicas": [{"url": "fake:b1"}]}}
    h = Harness(["b1"], attribution_template(models=models, routes={}))
    try:
        with openai.OpenAI(base_url=h.base_url, api_key="x", max_retries=0, timeout=30) as c:
            messages: Any = [{"role": "user", "content": "count"}]
            out = c.chat.completions.create(model="m", messages=messages, max_completion_tokens=3)
            sent = h.backend("b1").last_body
            assert sent is not None and sent["max_completion_tokens"] == 3
            if kind == "openai":
                # OpenAI's own API refuses max_tokens on its reasoning models: sent as given.
                assert "max_tokens" not in sent
            else:
                assert sent["max_tokens"] == 3
                assert out.usage is not None and out.usage.completion_tokens == 3
            out = c.chat.completions.create(model="m", messages=messages, max_tokens=2)
            assert out.usage is not None and out.usage.completion_tokens == 2
    finally:
        h.close()


def test_a_client_that_hangs_up_stops_the_generation(fleet: Harness) -> None:
    fleet.set("b1", delay_s=30.0)
    fleet.set("b2", delay_s=30.0)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            fleet.base_url + "/chat/completions",
            json={"model": "brain", "messages": [{"role": "user", "content": "hi"}]},
            timeout=httpx.Timeout(5.0, read=0.5),
        )
    backends = [fleet.backend("b1"), fleet.backend("b2")]

    async def stopped() -> None:
        for _ in range(500):
            if sum(b.abandoned for b in backends):
                return
            await asyncio.sleep(0.01)

    fleet.thread.run(stopped())
    assert sum(b.requests for b in backends) == 1, "sent once"
    assert sum(b.abandoned for b in backends) == 1, "the router hung up, the server stopped"
    rid = next(r.id for r in fleet.router.fleet.models["brain"].replicas if r.requests)
    replica = fleet.router.fleet.replicas[rid]
    assert replica.failures == 0 and replica.in_flight == 0
