"""The gateway end to end: the official openai SDK against real sockets and protocol-faithful
fake backends."""

from __future__ import annotations

import httpx
import openai
import pytest

from zeta_router.testing import Harness

from .conftest import SECRET

CODE_PROMPT = "Fix this bug:\n```python\ndef add(a, b):\n    return a - b\n```"
REASONING_PROMPT = (
    "A train leaves at 3pm going 60 km/h and another at 4pm going 90 km/h. "
    "When does the second catch up? Think step by step and prove your answer."
)


def client(h: Harness) -> openai.OpenAI:
    return openai.OpenAI(base_url=h.base_url, api_key="unused", max_retries=0, timeout=20)


def chat(h: Harness, content: str, **kw: object) -> openai.APIResponse:  # type: ignore[type-arg]
    return client(h).chat.completions.with_raw_response.create(
        model=kw.pop("model", "auto"),  # type: ignore[arg-type]
        messages=[{"role": "user", "content": content}],
        **kw,  # type: ignore[arg-type]
    )


def test_code_prompt_goes_to_coder_with_explaining_headers(harness: Harness) -> None:
    raw = chat(harness, CODE_PROMPT)
    completion = raw.parse()
    assert raw.headers["x-zeta-model"] == "coder"
    assert raw.headers["x-zeta-task"] == "code"
    assert raw.headers["x-zeta-replica"] == "coder-0"
    assert raw.headers["x-zeta-attempts"] == "1"
    assert raw.headers["x-zeta-route"].startswith("route code, 1st choice")
    assert raw.headers["x-zeta-request-id"].startswith("zr-")
    assert "x-zeta-fallback" not in raw.headers
    assert completion.model == "coder"
    assert completion.choices[0].message.content.startswith("[c1]")


def test_reasoning_goes_to_brain_and_upstream_sees_its_own_model_name(harness: Harness) -> None:
    raw = chat(harness, REASONING_PROMPT)
    assert raw.headers["x-zeta-model"] == "brain"
    assert raw.parse().model == "brain"
    served = [harness.backend(n) for n in ("b1", "b2") if harness.backend(n).last_body]
    assert served, "a brain replica must have been called"
    assert served[-1].last_body is not None
    assert served[-1].last_body["model"] == "qwen2.5-14b-instruct"
    # The key from api_key_env goes upstream and nowhere else.
    assert served[-1].last_headers["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in str(raw.headers)


def test_stream_relays_chunks_and_renames_model(harness: Harness) -> None:
    with client(harness).chat.completions.with_streaming_response.create(
        model="auto", messages=[{"role": "user", "content": REASONING_PROMPT}], stream=True
    ) as resp:
        assert resp.headers["x-zeta-model"] == "brain"
        assert resp.headers["content-type"].startswith("text/event-stream")
        chunks = list(resp.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("[b")
    assert len(chunks) == 9
    assert {c.model for c in chunks} == {"brain"}


def test_completions_stream_and_non_stream(harness: Harness) -> None:
    c = client(harness)
    raw = c.completions.with_raw_response.create(model="auto", prompt="hello there", max_tokens=5)
    assert raw.headers["x-zeta-model"] == "small"
    assert raw.parse().choices[0].text.startswith("[s1]")
    pieces = list(c.completions.create(model="coder", prompt="def f():", stream=True))
    assert "".join(p.choices[0].text for p in pieces).startswith("[c1]")
    assert {p.model for p in pieces} == {"coder"}


def test_embeddings_route_to_embedding_model(harness: Harness) -> None:
    raw = client(harness).embeddings.with_raw_response.create(model="auto", input=["one", "two"])
    assert raw.headers["x-zeta-model"] == "embed"
    assert raw.headers["x-zeta-task"] == "embeddings"
    result = raw.parse()
    assert result.model == "embed"
    assert len(result.data) == 2


def test_models_lists_configured_models(harness: Harness) -> None:
    ids = [m.id for m in client(harness).models.list()]
    # "auto" first: the name the 404 for an unknown model suggests.
    assert ids == ["auto", "brain", "coder", "small", "embed"]


def test_pinning_puts_the_model_first(harness: Harness) -> None:
    raw = chat(harness, CODE_PROMPT, model="brain")
    assert raw.headers["x-zeta-model"] == "brain"
    assert raw.headers["x-zeta-route"] == "pinned by request"


def test_unknown_model_is_404(harness: Harness) -> None:
    with pytest.raises(openai.NotFoundError) as exc:
        chat(harness, "hi", model="gpt-17")
    body = exc.value.body
    assert isinstance(body, dict)
    assert body["code"] == "model_not_found"
    assert body["param"] == "model"


def test_task_header_skips_classification(harness: Harness) -> None:
    raw = chat(harness, "hello", extra_headers={"x-zeta-task": "code"})
    assert raw.headers["x-zeta-task"] == "code"
    assert raw.headers["x-zeta-model"] == "coder"


async def test_async_client_chat_and_stream(harness: Harness) -> None:
    ac = openai.AsyncOpenAI(base_url=harness.base_url, api_key="x", max_retries=0)
    try:
        r = await ac.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": CODE_PROMPT}]
        )
        assert r.model == "coder"
        stream = await ac.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": CODE_PROMPT}], stream=True
        )
        chunks = [c async for c in stream]
        assert chunks and chunks[0].model == "coder"
    finally:
        await ac.close()


def test_fallback_is_announced(harness: Harness) -> None:
    harness.down("b1")
    harness.down("b2")
    raw = chat(harness, REASONING_PROMPT)
    assert raw.headers["x-zeta-model"] == "coder"
    fb = raw.headers["x-zeta-fallback"]
    assert fb.startswith("brain->coder (brain: ")
    assert "connect failed" in fb
    assert raw.headers["x-zeta-attempts"] == "3"
    assert raw.parse().model == "coder"


def test_retry_on_other_replica_is_not_a_fallback(harness: Harness) -> None:
    harness.set("b1", mode="503")
    harness.set("b2", mode="503")
    harness.heal("b2")
    for _ in range(4):
        raw = chat(harness, REASONING_PROMPT)
        assert raw.headers["x-zeta-model"] == "brain"
        assert raw.headers["x-zeta-replica"] == "brain-b"
        assert "x-zeta-fallback" not in raw.headers


def test_nothing_can_serve_is_an_honest_503(harness: Harness) -> None:
    for n in ("b1", "b2", "c1", "s1"):
        harness.set(n, mode="500")

    def post() -> httpx.Response:
        return httpx.post(
            harness.base_url + "/chat/completions",
            json={"messages": [{"role": "user", "content": REASONING_PROMPT}]},
            timeout=20,
        )

    # Replicas that were serving a moment ago and fail a request alike: its own fault as far as
    # anyone can tell, so a first client may get the upstream's 500 (attribution.py); from then
    # on they are failing everything: counted, and an honest 503.
    r = post()
    for _ in range(2):
        if r.status_code != 500:
            break
        assert r.json()["error"]["code"] == "upstream_error", r.text
        r = post()
    assert r.status_code == 503
    assert int(r.headers["retry-after"]) >= 1
    err = r.json()["error"]
    assert err["type"] == "service_unavailable"
    assert "brain: 5xx" in err["message"]
    assert {t["model"] for t in err["zeta"]["tried"]} == {"brain", "coder", "small"}
    assert "Traceback" not in r.text


def test_stream_cut_after_first_bytes_ends_with_error_event(harness: Harness) -> None:
    for n in ("b1", "b2"):
        harness.set(n, mode="cut", cut_after=3)
    r = httpx.post(
        harness.base_url + "/chat/completions",
        json={"stream": True, "messages": [{"role": "user", "content": REASONING_PROMPT}]},
        timeout=20,
    )
    assert r.status_code == 200
    events = [e for e in r.text.split("\n\n") if e.strip()]
    assert events[-1].startswith('data: {"error"')
    assert "stream_interrupted" in events[-1]
    assert "[DONE]" not in r.text
    # The SDK surfaces it as an error, not as a short answer.
    with pytest.raises(openai.APIError):
        list(
            client(harness).chat.completions.create(
                model="brain", messages=[{"role": "user", "content": "x"}], stream=True
            )
        )


def test_context_window_excludes_small_model(harness: Harness) -> None:
    long_text = "word " * 12_000  # ~15k tokens: too big for small (2048) and brain (8192)
    raw = chat(harness, long_text + "\nWhat is this?")
    assert raw.headers["x-zeta-model"] == "coder"
