"""Nothing is lost: under seeded random fault schedules across the fleet, every request that goes
through the real gateway ends with a complete answer or an explicit, documented error.

Concurrent streaming and non-streaming requests, chat and completions, through the official
``openai`` SDK and a raw HTTP client, while replicas go down, answer 5xx/429/garbage, reset,
hang, cut streams after a few chunks or stall between chunks, and the config is reloaded (a
replica removed, then back). Faults change mid-batch (when half of a batch has finished), never
on a timer.

Checked for every request:
- a stream ends with ``data: [DONE]`` (the SDK: its last chunk has a finish_reason) or with an
  explicit SSE error event (the SDK raises ``APIError``), never a silent truncation;
- a non-stream is a 200 with a complete, parseable completion, or an OpenAI-style error with
  status 429/503 (with Retry-After) or 504;
and, once the gateway has shut down, that its own records count every request, each with the
status the client saw, and every broken stream.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import openai
import orjson
import pytest

from zeta_router.testing import Harness

BACKENDS = ["b1", "b2", "c1", "s1"]
PROMPTS = (
    "Prove step by step that the square root of two is irrational.",
    "Fix this bug:\n```python\ndef add(a, b):\n    return a - b\n```",
    "hi there",
)
#: Seeded faults: (name, switches). "down" stops the backend's socket.
FAULTS: list[tuple[str, dict[str, Any]]] = [
    *[("ok", {})] * 8,
    ("500", {"mode": "500"}),
    ("503", {"mode": "503", "retry_after_s": 0}),
    ("429", {"mode": "429", "retry_after_s": 0}),
    ("garbage", {"mode": "garbage"}),
    ("reset", {"mode": "reset"}),
    ("loading", {"mode": "loading"}),
    ("hang", {"mode": "hang"}),
    ("cut", {"mode": "cut"}),
    ("stall", {"chunk_delay_s": 0.4}),
    ("slow", {"delay_s": 0.05, "chunk_delay_s": 0.01}),
    ("down", {}),
    ("json", {"ignore_stream": True}),
    ("quote", {"say": "data: [DONE]", "chunk_delay_s": 0.005}),
]
STEPS = 6
BATCH = 16
ERROR_STATUSES = {429, 503, 504}


def template() -> dict[str, Any]:
    return {
        "health": {"enabled": False},
        "timeouts": {"connect_s": 0.5, "first_byte_s": 0.3, "idle_s": 0.25, "total_s": 4.0},
        "retry": {"backoff_base_s": 0.01, "backoff_max_s": 0.02},
        "breaker": {"consecutive_failures": 3, "eject_base_s": 0.05, "eject_max_s": 0.2},
        "admission": {"queue_size": 4},
        "hedge": {"enabled": True, "min_delay_s": 0.02},
        "analysis": {"analyzer": "heuristic"},
        "models": {
            "brain": {
                "endpoints": ["chat", "completions"],
                "replicas": [
                    {"url": "fake:b1", "max_concurrency": 3},
                    {"url": "fake:b2", "max_concurrency": 3},
                ],
            },
            "coder": {
                "endpoints": ["chat", "completions"],
                "replicas": [{"url": "fake:c1", "max_concurrency": 2}],
            },
            "small": {"endpoints": ["chat", "completions"], "replicas": [{"url": "fake:s1"}]},
        },
        "routes": {
            "reasoning": ["brain", "coder", "small"],
            "code": ["coder", "brain", "small"],
            "simple": ["small", "coder"],
        },
    }


@dataclass
class Outcome:
    """What one client saw."""

    kind: str
    status: int
    stream: bool
    #: "done" (complete answer), "error" (explicit error), or why it is neither.
    verdict: str
    stream_broke: bool = False


def check_error(status: int, headers: Mapping[str, str], body: bytes) -> str:
    if status not in ERROR_STATUSES:
        return f"status {status}: {body[:300]!r}"
    err = orjson.loads(body).get("error")
    if not isinstance(err, dict) or not {"message", "type", "param", "code"} <= set(err):
        return f"error shape: {body[:300]!r}"
    if status in (429, 503) and "retry-after" not in headers:
        return f"{status} without Retry-After"
    return "error"


def check_sse(body: bytes) -> tuple[str, bool]:
    events = [e for e in body.split(b"\n\n") if e.strip()]
    if not events:
        return "empty stream", False
    last = events[-1]
    if last == b"data: [DONE]":
        chunks = [orjson.loads(e[6:]) for e in events[:-1]]
        finish = [c["choices"][0].get("finish_reason") for c in chunks if c.get("choices")]
        return ("done" if finish and finish[-1] == "stop" else f"no finish: {last!r}"), False
    if last.startswith(b"data: "):
        err = orjson.loads(last[6:]).get("error")
        if isinstance(err, dict) and err.get("message") and err.get("code"):
            return "error", True
    return f"silent truncation, last event {last[:200]!r}", False


def raw_request(http: httpx.Client, endpoint: str, stream: bool, prompt: str) -> Outcome:
    if endpoint == "chat":
        body: dict[str, Any] = {"messages": [{"role": "user", "content": prompt}]}
    else:
        body = {"prompt": prompt}
    body["stream"] = stream
    r = http.post(f"/v1/{'chat/completions' if endpoint == 'chat' else 'completions'}", json=body)
    if r.status_code != 200:
        return Outcome(
            "raw", r.status_code, stream, check_error(r.status_code, r.headers, r.content)
        )
    if stream:
        if not r.headers["content-type"].startswith("text/event-stream"):
            return Outcome("raw", 200, stream, f"content-type {r.headers['content-type']}")
        verdict, broke = check_sse(r.content)
        return Outcome("raw", 200, stream, verdict, broke)
    obj = orjson.loads(r.content)
    choice = obj["choices"][0]
    text = choice["message"]["content"] if endpoint == "chat" else choice["text"]
    ok = choice["finish_reason"] == "stop" and text.startswith("[")
    return Outcome("raw", 200, stream, "done" if ok else f"incomplete: {obj}")


def sdk_request(client: openai.OpenAI, endpoint: str, stream: bool, prompt: str) -> Outcome:
    messages: Any = [{"role": "user", "content": prompt}]
    try:
        if stream:
            finish = None
            if endpoint == "chat":
                for chunk in client.chat.completions.create(
                    model="auto", messages=messages, stream=True
                ):
                    if chunk.choices:
                        finish = chunk.choices[0].finish_reason or finish
            else:
                for piece in client.completions.create(model="auto", prompt=prompt, stream=True):
                    if piece.choices:
                        finish = piece.choices[0].finish_reason or finish
            verdict = "done" if finish == "stop" else "silent truncation (no finish_reason)"
            return Outcome("sdk", 200, True, verdict)
        if endpoint == "chat":
            c = client.chat.completions.create(model="auto", messages=messages)
            ok = c.choices[0].finish_reason == "stop" and bool(c.choices[0].message.content)
        else:
            t = client.completions.create(model="auto", prompt=prompt)
            ok = t.choices[0].finish_reason == "stop" and bool(t.choices[0].text)
        return Outcome("sdk", 200, False, "done" if ok else "incomplete answer")
    except openai.APIStatusError as exc:
        r = exc.response
        return Outcome(
            "sdk", r.status_code, stream, check_error(r.status_code, r.headers, r.content)
        )
    except openai.APIConnectionError as exc:
        return Outcome("sdk", 0, stream, f"connection error: {exc!r}")
    except openai.APIError as exc:
        # Raised by the SDK on an SSE error event: a stream that broke, explicitly.
        body = exc.body if isinstance(exc.body, dict) else {}
        ok = stream and bool(body.get("message")) and bool(body.get("code"))
        return Outcome("sdk", 200, stream, "error" if ok else f"odd APIError {exc!r}", ok)


@pytest.fixture()
def gw() -> Iterator[Harness]:
    h = Harness(BACKENDS, template())
    yield h
    if h.thread.loop.is_running():  # the test closes it itself unless it failed early
        release_all(h)
        h.close()


def release_all(h: Harness) -> None:
    """Let every hung request go (on the loop's thread: asyncio events are not thread-safe)."""
    for name in BACKENDS:
        h.thread.call(h.backend(name).release_hung)


def apply(h: Harness, step: dict[str, tuple[str, dict[str, Any]]]) -> None:
    for name, (fault, switches) in step.items():
        b = h.backend(name)
        h.thread.call(b.release_hung)
        if fault == "down":
            if b._runner is not None:
                h.down(name)
            continue
        if b._runner is None:
            h.up(name)
        h.heal(name)
        if fault == "cut":
            switches = {**switches, "cut_after": random.Random(name).randint(1, 6)}
        if switches:
            h.set(name, **switches)


@pytest.mark.parametrize("seed", [7, 2024])
def test_every_request_ends_complete_or_with_an_explicit_error(gw: Harness, seed: int) -> None:
    rng = random.Random(seed)
    steps = [{n: rng.choice(FAULTS) for n in BACKENDS} for _ in range(STEPS + 1)]
    sdk = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0, timeout=20)
    outcomes: list[Outcome] = []
    with (
        httpx.Client(base_url=gw.url, timeout=20) as http,
        ThreadPoolExecutor(max_workers=BATCH) as pool,
    ):
        for i in range(STEPS):
            apply(gw, steps[i])
            futures: list[Future[Outcome]] = []
            for _ in range(BATCH):
                endpoint = rng.choice(["chat", "chat", "completions"])
                stream = rng.random() < 0.6
                prompt = rng.choice(PROMPTS)
                call: Callable[[], Outcome]
                if rng.random() < 0.5:
                    call = partial(sdk_request, sdk, endpoint, stream, prompt)
                else:
                    call = partial(raw_request, http, endpoint, stream, prompt)
                futures.append(pool.submit(call))
            # Change the faults under the second half of the batch, and reload the config
            # (every other time without one brain replica, which then drains).
            pending = set(futures)
            while len(pending) > BATCH // 2:
                _, pending = wait(pending, return_when=FIRST_COMPLETED)
            apply(gw, steps[i + 1])
            config = gw._resolve(template())
            if i % 2 == 0:
                config["models"]["brain"]["replicas"].pop()
            assert http.post("/v1/router/reload", json=config).status_code == 200
            outcomes.extend(f.result(timeout=30) for f in futures)
        release_all(gw)
    gw.close()  # drains: every finished request is recorded before the router stops

    bad = [o for o in outcomes if o.verdict not in ("done", "error")]
    assert not bad, "\n".join(map(str, bad))
    assert len(outcomes) == STEPS * BATCH
    verdicts = Counter(o.verdict for o in outcomes)
    assert verdicts["done"] > 0 and verdicts["error"] > 0, verdicts  # the schedule bit

    # The router's own books: one record per request, with the status the client saw.
    stats = gw.router.telemetry.stats
    recorded: Counter[int] = Counter()
    for (_model, _task, status, endpoint), n in stats.requests.items():
        if endpoint in ("chat", "completions"):
            recorded[int(status)] += n
    seen = Counter(o.status for o in outcomes)
    assert recorded == seen, (recorded, seen)
    broken = sum(o.stream_broke for o in outcomes)
    assert sum(stats.stream_errors.values()) == broken


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_stream_answered_with_json_still_reaches_a_streaming_client(
    gw: Harness, endpoint: str
) -> None:
    """A server that ignores ``stream: true`` and answers one JSON body: relayed as JSON, the
    SDK read no event and returned an empty answer without any error."""
    for name in BACKENDS:
        gw.set(name, ignore_stream=True)
    sdk = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0, timeout=20)
    prompt = PROMPTS[0]
    text, finish = "", None
    if endpoint == "chat":
        messages: Any = [{"role": "user", "content": prompt}]
        for chunk in sdk.chat.completions.create(model="auto", messages=messages, stream=True):
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
    else:
        for piece in sdk.completions.create(model="auto", prompt=prompt, stream=True):
            text += piece.choices[0].text
            finish = piece.choices[0].finish_reason or finish
    assert text.startswith("[b") and finish == "stop", (text, finish)
    with httpx.Client(base_url=gw.url, timeout=20) as http:
        out = raw_request(http, endpoint, True, prompt)
    assert (out.status, out.verdict) == (200, "done"), out


@pytest.mark.parametrize("say", ["data: [DONE]", "\n\ndata: [DONE]\n\n"])
def test_a_model_quoting_the_done_marker_does_not_end_the_stream(gw: Harness, say: str) -> None:
    """A chunk whose *text* is the end-of-stream marker (a model explaining SSE) was taken for
    the real one: the relay stopped there, and the client got a truncated stream with neither
    [DONE] nor an error event."""
    for name in BACKENDS:
        gw.set(name, say=say, chunks=5, chunk_delay_s=0.01)  # one event per read
    with httpx.Client(base_url=gw.url, timeout=20) as http:
        for endpoint in ("chat", "completions"):
            r = http.post(
                "/v1/chat/completions" if endpoint == "chat" else "/v1/completions",
                json={"stream": True, "messages": [{"role": "user", "content": "hi"}]}
                if endpoint == "chat"
                else {"stream": True, "prompt": "hi"},
            )
            assert r.status_code == 200, r.text
            verdict, _ = check_sse(r.content)
            assert verdict == "done", (verdict, r.text[-300:])
            events = [e for e in r.content.split(b"\n\n") if e.strip()]
            assert len(events) == 5 + 1 + 1, "every chunk, the final one, then [DONE]"
    sdk = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0, timeout=20)
    text = "".join(
        c.choices[0].delta.content or ""
        for c in sdk.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert text.count(say) == 4, text


@pytest.mark.parametrize("value", ["inf", "nan", "-inf", "1e308"])
def test_an_absurd_upstream_retry_after_is_bounded(gw: Harness, value: str) -> None:
    """``Retry-After: inf`` from a replica cooled it down forever and turned the router's own
    503 into a 500 (its Retry-After could not be computed)."""
    for name in BACKENDS:
        gw.set(name, mode="503", retry_after_s=value)
    body = {"messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(base_url=gw.url, timeout=20) as http:
        r = http.post("/v1/chat/completions", json=body)
        assert r.status_code == 503, r.text
        assert 1 <= int(r.headers["retry-after"]) <= 300
        now = gw.router.clock()
        assert all(r.cooldown_until <= now + 300 for r in gw.router.fleet.replicas.values())


@pytest.mark.parametrize("done", [b"data:[DONE]"])
def test_done_marker_spelled_without_a_space_ends_the_stream(gw: Harness, done: bytes) -> None:
    """``data:[DONE]`` is the same SSE event as ``data: [DONE]``. Unrecognised, the relay
    waited for more, appended a "stream ended before [DONE]" error event to a complete answer
    and counted a failure against a healthy replica."""
    for name in BACKENDS:
        gw.set(name, done_event=done, chunk_delay_s=0.005)
    with httpx.Client(base_url=gw.url, timeout=20) as http:
        for _ in range(3):
            r = http.post(
                "/v1/chat/completions",
                json={"stream": True, "messages": [{"role": "user", "content": "hi"}]},
            )
            assert r.status_code == 200, r.text
            assert b'"error"' not in r.content, r.text[-300:]
            assert r.content.rstrip().endswith(done.rstrip()), r.text[-300:]
    assert all(rep.failures == 0 for rep in gw.router.fleet.replicas.values())
