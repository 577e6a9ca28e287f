"""Per-key ``tpm`` settled to what streams report, token caps sent on the agent APIs, and the
limits as an operator sees them, over real sockets with the official SDKs.

A stream is charged its estimate (prompt + max tokens) when admitted and, once it ends,
settled to the usage it carried, as a non-stream answer is: OpenAI's
``stream_options.include_usage`` chunk, llama.cpp's final ``timings``, Anthropic's
``message_start`` + ``message_delta``, the Responses API's ``response.completed``; also when the
router translated the API to chat for the backend. A stream that reports nothing, or breaks
before it does, keeps its estimate; one the client leaves is settled to what was relayed.
``/v1/router/status`` shows what is left of each key's limits and ``/metrics`` the same plus
every 429 by key and limit."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest

from tests.conftest import fleet_template
from zeta_router.routing.limits import Ticket
from zeta_router.testing import Harness
from zeta_router.upstream.cache_report import stream_report

KEYS = {
    name: f"sk-{name}-usage-test"
    for name in ("u1", "u2", "u3", "u4", "u5", "u6", "u7", "cap", "rl")
}
ADMIN = "adm-usage-test"
#: Each test asks for this many tokens: the estimate a stream keeps when it reports nothing.
MAX_TOKENS = 300
#: What the fake backends report a request used: a 10-token prompt, 8 generated.
USED = 18
TPM = 1000


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def template() -> dict[str, Any]:
    keys: list[dict[str, Any]] = [
        {"name": name, "key_sha256": sha(key), "tpm": TPM}
        for name, key in KEYS.items()
        if name.startswith("u")
    ]
    keys.append({"name": "cap", "key_sha256": sha(KEYS["cap"]), "max_tokens": 64})
    keys.append({"name": "rl", "key_sha256": sha(KEYS["rl"]), "rpm": 2})
    both = ["chat", "nat"]
    return fleet_template(
        models={
            # llama-server: /v1/responses and /v1/messages relayed natively.
            "nat": {"health": "llamacpp", "replicas": [{"url": "fake:n1"}]},
            # A chat-only server: both APIs translated to chat (and usage asked for).
            "chat": {"health": "openai", "replicas": [{"url": "fake:c1"}]},
        },
        routes={task: both for task in ("code", "reasoning", "simple", "retrieval")},
        fallbacks={},
        auth={"keys": keys, "admin_keys": [{"name": "ops", "key_sha256": sha(ADMIN)}]},
    )


NAMES = {"n1": "llamacpp", "c1": "openai"}


@pytest.fixture(scope="module")
def gw() -> Iterator[Harness]:
    h = Harness(NAMES, template())  # type: ignore[arg-type]
    yield h
    h.close()


@pytest.fixture(autouse=True)
def _heal(gw: Harness) -> Iterator[None]:
    yield
    for name in NAMES:
        gw.heal(name)


def oai(h: Harness, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=h.base_url, api_key=KEYS[key], max_retries=0, timeout=20)


def claude(h: Harness, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=h.url, api_key=KEYS[key], max_retries=0, timeout=20)


def status(h: Harness) -> dict[str, Any]:
    r = httpx.get(
        h.url + "/v1/router/status",
        params={"decisions": 0},
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=20,
    )
    assert r.status_code == 200, r.text
    limits: dict[str, Any] = r.json()["limits"]
    return limits


def tokens_left(h: Harness, key: str) -> float:
    left: float = status(h)["keys"][key]["tpm"]["remaining"]
    return left


class Bucket:
    """A key's tpm bucket watched through the status page across a few requests."""

    def __init__(self, h: Harness, key: str) -> None:
        self.h, self.key = h, key
        self.start = time.monotonic()
        self.left = tokens_left(h, key)

    def spent(self, expected: float) -> None:
        """The bucket lost ``expected`` tokens, less what refilled meanwhile (TPM / 60 per
        second; the router's reads fall within the test's)."""
        lost = self.left - tokens_left(self.h, self.key)
        refill = (time.monotonic() - self.start) * TPM / 60
        assert expected - refill - 1 <= lost <= expected + 1, (lost, expected, refill)


#: The estimate of a chat request asking "Say hi." for MAX_TOKENS: its prompt (7 characters,
#: 4 a token, plus 8) and the tokens it may generate.
ESTIMATE = MAX_TOKENS + 7 // 4 + 8


def chat_stream(c: openai.OpenAI, model: str, **kw: Any) -> str:
    stream = c.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Say hi."}],
        max_tokens=MAX_TOKENS,
        stream=True,
        **kw,
    )
    with stream:
        return "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)


def test_a_chat_stream_with_usage_settles_to_it_and_one_without_keeps_its_estimate(
    gw: Harness,
) -> None:
    with oai(gw, "u1") as c:
        # Each is charged about 310 when admitted: unsettled, the fourth would be refused.
        for _ in range(8):
            bucket = Bucket(gw, "u1")
            assert chat_stream(c, "chat", stream_options={"include_usage": True})
            bucket.spent(USED)
        bucket = Bucket(gw, "u1")
        assert chat_stream(c, "chat")  # no usage asked for, none sent: the estimate stays
        bucket.spent(ESTIMATE)


def test_llama_cpp_timings_in_the_last_chunk_settle_the_stream(gw: Harness) -> None:
    gw.set("c1", stream_timings=True)
    with oai(gw, "u2") as c:
        bucket = Bucket(gw, "u2")
        assert chat_stream(c, "chat")
        bucket.spent(USED)


@pytest.mark.parametrize("model", ["nat", "chat"])
def test_a_messages_stream_settles_to_its_usage(gw: Harness, model: str) -> None:
    """Native: input tokens from message_start, output from message_delta. Translated: the
    chat usage chunk the router asked the backend for."""
    with claude(gw, "u3") as c:
        bucket = Bucket(gw, "u3")
        with c.messages.stream(
            model=model, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": "Say hi."}]
        ) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text and final.usage.output_tokens > 0
        bucket.spent(USED)


@pytest.mark.parametrize("model", ["nat", "chat"])
def test_a_responses_stream_settles_to_its_usage(gw: Harness, model: str) -> None:
    with oai(gw, "u4") as c:
        bucket = Bucket(gw, "u4")
        events = list(
            c.responses.create(
                model=model, input="Say hi.", max_output_tokens=MAX_TOKENS, stream=True
            )
        )
        done = [e for e in events if e.type == "response.completed"]
        assert done and done[0].response.usage is not None
        bucket.spent(USED)


def test_a_broken_stream_settles_to_what_it_reported_or_keeps_the_estimate(gw: Harness) -> None:
    gw.set("c1", mode="cut", cut_after=3)
    with oai(gw, "u5") as c:
        bucket = Bucket(gw, "u5")
        with pytest.raises(openai.APIError):
            chat_stream(c, "chat", stream_options={"include_usage": True})
        bucket.spent(ESTIMATE)
        # vLLM's continuous_usage_stats: every chunk says what was used so far, so a stream
        # broken after three chunks settles to those (the 10-token prompt and 2 generated).
        bucket = Bucket(gw, "u5")
        continuous = {"include_usage": True, "continuous_usage_stats": True}
        with pytest.raises(openai.APIError):
            chat_stream(c, "chat", extra_body={"stream_options": continuous})
        bucket.spent(12)
        gw.heal("c1")
        bucket = Bucket(gw, "u5")
        assert chat_stream(c, "chat", stream_options={"include_usage": True})
        bucket.spent(USED)


@pytest.fixture()
def settled(gw: Harness) -> Iterator[threading.Event]:
    """Set once the gateway settled a ticket (after the last byte, on its own loop)."""
    event = threading.Event()
    limiter = gw.app.limiter
    real = limiter.settle

    def settle(ticket: Ticket, used: int | None) -> None:
        real(ticket, used)
        event.set()

    gw.thread.call(lambda: setattr(limiter, "settle", settle))
    yield event
    gw.thread.call(lambda: delattr(limiter, "settle"))


@pytest.mark.parametrize("reports", ["nothing", "continuous"])
def test_a_stream_the_client_leaves_settles_to_what_was_relayed(
    gw: Harness, settled: threading.Event, reports: str
) -> None:
    """The client reads three chunks and hangs up: the router closes the upstream, so the key
    is charged what was relayed, not the 300 tokens it might have generated: what the stream
    reported so far (vLLM's continuous_usage_stats: the 10-token prompt and the chunks sent),
    else the prompt's estimate and a token per block of events relayed. The gateway notices
    the hang-up when the server reports it, so a few more than three may have gone out (one
    every 50 ms)."""
    gw.set("c1", chunks=200, chunk_delay_s=0.05)
    kw: dict[str, Any] = {}
    if reports == "continuous":
        kw["extra_body"] = {
            "stream_options": {"include_usage": True, "continuous_usage_stats": True}
        }
    with oai(gw, "u7") as c:
        bucket = Bucket(gw, "u7")
        settled.clear()
        stream = c.chat.completions.create(
            model="chat",
            messages=[{"role": "user", "content": "Say hi."}],
            max_tokens=MAX_TOKENS,
            stream=True,
            **kw,
        )
        for read, _ in enumerate(stream, 1):
            if read == 3:
                break
        stream.close()
        assert settled.wait(20)
    lost = bucket.left - tokens_left(gw, "u7")
    refill = (time.monotonic() - bucket.start) * TPM / 60
    prompt = 10 if reports == "continuous" else 7 // 4 + 8
    # Continuous usage counts the chunks after the first; the blocks count every one.
    least = prompt + (2 if reports == "continuous" else 3)
    # At most: what 2 s of a stalled client would let through, far below the estimate.
    assert least - refill - 1 <= lost <= least + 40 < ESTIMATE, (lost, least, refill)


@pytest.mark.parametrize("model", ["nat", "chat"])
def test_the_key_cap_is_sent_on_responses_without_a_limit(gw: Harness, model: str) -> None:
    backend = gw.backend("n1" if model == "nat" else "c1")
    with oai(gw, "cap") as c:
        r = c.responses.create(model=model, input="Say hi.")
        if model == "chat":  # the Response the router built echoes the limit it applied
            assert r.max_output_tokens == 64
        assert backend.last_body is not None
        field = "max_output_tokens" if model == "nat" else "max_tokens"
        assert backend.last_body[field] == 64, backend.last_body
        with pytest.raises(openai.BadRequestError) as err:
            c.responses.create(model=model, input="Say hi.", max_output_tokens=65)
        assert err.value.code == "max_tokens_exceeded"
        assert err.value.body["param"] == "max_output_tokens"  # type: ignore[index]


def test_messages_always_carry_a_limit_and_one_over_the_cap_is_refused(gw: Harness) -> None:
    # Anthropic's API requires max_tokens, so there is never a limit to add: without one the
    # request is refused in Anthropic's shape, over the cap likewise.
    r = httpx.post(
        gw.url + "/v1/messages",
        json={"model": "nat", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-api-key": KEYS["cap"]},
        timeout=20,
    )
    assert r.status_code == 400 and r.json()["type"] == "error", r.text
    assert "max_tokens" in r.json()["error"]["message"]
    with claude(gw, "cap") as c, pytest.raises(anthropic.BadRequestError) as err:
        c.messages.create(
            model="nat", max_tokens=65, messages=[{"role": "user", "content": "hi"}]
        )
    assert "64" in err.value.message


def test_status_and_metrics_show_each_keys_limits_and_refusals(gw: Harness) -> None:
    with oai(gw, "u6") as c:
        assert chat_stream(c, "chat", stream_options={"include_usage": True})
    limits = status(gw)
    assert limits["store"] == "memory" and limits["scope"] == "instance"
    u6 = limits["keys"]["u6"]
    assert u6["tpm"]["limit"] == TPM and TPM - 30 < u6["tpm"]["remaining"] <= TPM
    assert u6["rpm"] is None and u6["max_parallel"] is None and u6["in_flight_here"] == 0
    # Over rpm: the refusals show by key and limit.
    with oai(gw, "rl") as c:
        codes = []
        for _ in range(3):
            try:
                codes.append(c.chat.completions.create(
                    model="chat", messages=[{"role": "user", "content": "hi"}]
                ) is not None)
            except openai.RateLimitError:
                codes.append(False)
    assert False in codes
    rl = status(gw)["keys"]["rl"]
    assert rl["refusals"]["rpm"] >= 1 and rl["rpm"]["remaining"] < 1
    admin = {"authorization": f"Bearer {ADMIN}"}
    text = httpx.get(gw.url + "/metrics", headers=admin, timeout=20).text
    assert 'zeta_limit_refusals_total{key="rl",limit="rpm"}' in text
    assert 'zeta_limit_remaining{key="u6",limit="tpm"}' in text
    assert "zeta_shared_limits_connected" not in text  # nothing shared in memory mode


def _data(obj: dict[str, Any], event: str | None = None) -> bytes:
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


_CHUNK = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "x"}}]}
_START = _data(
    {"type": "message_start", "message": {"usage": {"input_tokens": 30, "output_tokens": 1}}},
    "message_start",
)
_START_CACHED = _data(
    {"type": "message_start", "message": {"usage": {
        "cache_read_input_tokens": 20, "input_tokens": 30, "output_tokens": 0}}},
    "message_start",
)


@pytest.mark.parametrize(
    ("first", "before", "last", "tokens", "cached"),
    [
        # OpenAI include_usage: "usage": null on every chunk, the figures on the last.
        (b"", _data({**_CHUNK, "usage": None}) * 3,
         _data({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2,
                                         "total_tokens": 7}}) + b"data: [DONE]\n\n", 7, None),
        # llama.cpp's timings only, its cache report on the same chunk.
        (b"", _data(_CHUNK), _data({**_CHUNK, "timings": {"cache_n": 4, "prompt_n": 6,
                                                          "predicted_n": 3}}), 13, (4, 10)),
        # The cache report on the chunk before the usage chunk still counts.
        (b"", _data({**_CHUNK, "timings": {"cache_n": 4, "prompt_n": 6}}),
         _data({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 2}}),
         12, (4, 10)),
        # Anthropic: output in message_delta, input in message_start; cumulative input in
        # message_delta replaces it (not added twice).
        (_START, _data({"type": "content_block_stop"}, "content_block_stop"),
         _data({"type": "message_delta", "usage": {"output_tokens": 9}}, "message_delta"),
         39, None),
        (_START, b"", _data({"type": "message_delta", "usage": {
            "input_tokens": 30, "cache_read_input_tokens": 5, "output_tokens": 9}}), 44, (5, 35)),
        # llama-server: the cache read only in message_start, message_delta's output apart.
        (_START_CACHED, _data({"type": "content_block_stop"}, "content_block_stop"),
         _data({"type": "message_delta", "usage": {"output_tokens": 9}}, "message_delta"),
         59, (20, 50)),
        (b"", b"", _data({"type": "response.completed", "response": {
            "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}}}), 7, None),
        # vLLM's Responses stream: the cache figure in response.completed.
        (b"", b"", _data({"type": "response.completed", "response": {"usage": {
            "input_tokens": 30, "input_tokens_details": {"cached_tokens": 20},
            "output_tokens": 4, "total_tokens": 34}}}), 34, (20, 30)),
        # Nothing reported, or a chunk that only names the word: nothing settles.
        (b"", _data(_CHUNK), b"data: [DONE]\n\n", None, None),
        (b"", _data({**_CHUNK, "choices": [{"delta": {"content": '"usage"'}}]}), b"", None, None),
    ],
    ids=["openai", "llama-timings", "cache-earlier", "anthropic", "anthropic-cumulative",
         "anthropic-llama-server", "responses", "responses-cached", "none", "quoted-word"],
)
def test_stream_report_reads_every_kind_of_final_usage(
    first: bytes, before: bytes, last: bytes, tokens: int | None, cached: tuple[int, int] | None
) -> None:
    report = stream_report(first, before, last)
    assert report.tokens == tokens
    c = report.cache
    assert (None if c is None else (c.cached_tokens, c.prompt_tokens)) == cached
