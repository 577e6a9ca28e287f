"""Every client mistake gets a 4xx with an OpenAI-style error body; never a 500 or a trace."""

from __future__ import annotations

import httpx
import pytest

from zeta_router.testing import Harness

MSG = [{"role": "user", "content": "hi"}]

CASES: list[
    tuple[str, str, str, bytes | dict[str, object] | None, dict[str, str], int, str | None]
] = [
    # (id, method, path, body, headers, status, param)
    ("malformed json", "POST", "/v1/chat/completions", b'{"messages": [', {}, 400, None),
    ("empty body", "POST", "/v1/chat/completions", b"", {}, 400, None),
    ("not an object", "POST", "/v1/chat/completions", b"[1, 2]", {}, 400, None),
    ("missing messages", "POST", "/v1/chat/completions", {"model": "auto"}, {}, 400, "messages"),
    (
        "messages not a list",
        "POST",
        "/v1/chat/completions",
        {"messages": "hi"},
        {},
        400,
        "messages",
    ),
    ("empty messages", "POST", "/v1/chat/completions", {"messages": []}, {}, 400, "messages"),
    (
        "message not an object",
        "POST",
        "/v1/chat/completions",
        {"messages": ["hi"]},
        {},
        400,
        "messages[0]",
    ),
    (
        "bad role",
        "POST",
        "/v1/chat/completions",
        {"messages": [{"role": "robot", "content": "x"}]},
        {},
        400,
        "messages[0].role",
    ),
    (
        "content wrong type",
        "POST",
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": 42}]},
        {},
        400,
        "messages[0].content",
    ),
    (
        "empty prompt text",
        "POST",
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": ""}]},
        {},
        400,
        "messages",
    ),
    (
        "model wrong type",
        "POST",
        "/v1/chat/completions",
        {"model": 3, "messages": MSG},
        {},
        400,
        "model",
    ),
    (
        "stream wrong type",
        "POST",
        "/v1/chat/completions",
        {"stream": "yes", "messages": MSG},
        {},
        400,
        "stream",
    ),
    (
        "max_tokens negative",
        "POST",
        "/v1/chat/completions",
        {"max_tokens": -1, "messages": MSG},
        {},
        400,
        "max_tokens",
    ),
    ("completions missing prompt", "POST", "/v1/completions", {"model": "auto"}, {}, 400, "prompt"),
    ("completions empty prompt", "POST", "/v1/completions", {"prompt": "  "}, {}, 400, "prompt"),
    ("embeddings missing input", "POST", "/v1/embeddings", {}, {}, 400, "input"),
    ("embeddings empty input", "POST", "/v1/embeddings", {"input": []}, {}, 400, "input"),
    (
        "task header on embeddings",
        "POST",
        "/v1/embeddings",
        {"input": "hi"},
        {"x-zeta-task": "code"},
        400,
        "x-zeta-task",
    ),
    (
        "embeddings streamed",
        "POST",
        "/v1/embeddings",
        {"input": "x", "stream": True},
        {},
        400,
        "stream",
    ),
    (
        "unknown model",
        "POST",
        "/v1/chat/completions",
        {"model": "nope", "messages": MSG},
        {},
        404,
        "model",
    ),
    (
        "model lacks endpoint",
        "POST",
        "/v1/chat/completions",
        {"model": "embed", "messages": MSG},
        {},
        400,
        "model",
    ),
    (
        "bad task header",
        "POST",
        "/v1/chat/completions",
        {"messages": MSG},
        {"x-zeta-task": "poetry"},
        400,
        "x-zeta-task",
    ),
    (
        "bad priority header",
        "POST",
        "/v1/chat/completions",
        {"messages": MSG},
        {"x-zeta-priority": "asap"},
        400,
        "x-zeta-priority",
    ),
    (
        "bad timeout header",
        "POST",
        "/v1/chat/completions",
        {"messages": MSG},
        {"x-zeta-timeout-ms": "soon"},
        400,
        "x-zeta-timeout-ms",
    ),
    ("unknown endpoint", "POST", "/v1/images/generations", {"prompt": "x"}, {}, 404, None),
    ("unknown path", "GET", "/nope", None, {}, 404, None),
    ("wrong method", "GET", "/v1/chat/completions", None, {}, 405, None),
    ("wrong method on models", "DELETE", "/v1/models", None, {}, 405, None),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "param"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_input_gets_openai_error(
    harness: Harness,
    method: str,
    path: str,
    body: bytes | dict[str, object] | None,
    headers: dict[str, str],
    status: int,
    param: str | None,
) -> None:
    kw: dict[str, object] = {"headers": headers, "timeout": 10}
    if isinstance(body, bytes):
        kw["content"] = body
    elif body is not None:
        kw["json"] = body
    r = httpx.request(method, harness.url + path, **kw)  # type: ignore[arg-type]
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) >= {"message", "type", "param", "code"}
    assert err["param"] == param
    assert err["message"]
    assert "Traceback" not in r.text


def test_body_over_limit_is_413(harness: Harness) -> None:
    big = b'{"messages": [{"role": "user", "content": "' + b"x" * (11 * 1024 * 1024) + b'"}]}'
    r = httpx.post(harness.base_url + "/chat/completions", content=big, timeout=30)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


def test_body_over_limit_without_content_length_is_413(harness: Harness) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"messages": [{"role": "user", "content": "'
        for _ in range(12):
            yield b"x" * (1024 * 1024)
        yield b'"}]}'

    r = httpx.post(harness.base_url + "/chat/completions", content=chunks(), timeout=30)
    assert r.status_code == 413
