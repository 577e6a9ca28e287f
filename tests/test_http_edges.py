"""HTTP edges a client test found: HTTP/1.0 framing, compressed request bodies (and bombs),
Content-Length on whole answers, ``auto`` in /v1/models, and x-zeta-fallback's vocabulary."""

from __future__ import annotations

import gzip
import socket
import zlib

import httpx
import orjson
import pytest

from zeta_router.testing import Harness

CHAT = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
STREAM = orjson.dumps(
    {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "stream": True}
)


def raw_exchange(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send ``request`` as is and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body


def http10(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.0\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def test_http10_gets_a_length_delimited_answer_not_chunks(harness: Harness) -> None:
    status, headers, body = raw_exchange(harness.port, http10("/v1/chat/completions", CHAT))
    assert status.endswith("200 OK"), status
    assert "transfer-encoding" not in headers
    assert int(headers["content-length"]) == len(body)
    assert orjson.loads(body)["object"] == "chat.completion"

    status, headers, body = raw_exchange(harness.port, http10("/v1/chat/completions", STREAM))
    assert status.endswith("200 OK"), status
    assert "transfer-encoding" not in headers
    assert headers["content-type"].startswith("text/event-stream")
    assert int(headers["content-length"]) == len(body)
    assert body.endswith(b"data: [DONE]\n\n")
    assert headers["x-zeta-model"]


def test_http11_whole_answers_carry_content_length(harness: Harness) -> None:
    with httpx.Client(base_url=harness.url) as c:
        for r in (
            c.post("/v1/chat/completions", content=CHAT),
            c.get("/v1/models"),
            c.post("/v1/chat/completions", content=b"{"),
            c.get("/nope"),
        ):
            assert int(r.headers["content-length"]) == len(r.content), r.request.url
            assert "transfer-encoding" not in r.headers
        with c.stream("POST", "/v1/chat/completions", content=STREAM) as r:
            assert r.headers["transfer-encoding"] == "chunked"
            r.read()


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        # Some clients send raw deflate (no zlib header) under the same name.
        ("deflate", lambda b: zlib.compress(b, wbits=-15)),
        ("identity", lambda b: b),
        ("gzip, identity", gzip.compress),
    ],
)
def test_compressed_request_bodies_are_decoded(
    harness: Harness, encoding: str, encode: object
) -> None:
    assert callable(encode)
    r = httpx.post(
        harness.url + "/v1/chat/completions",
        content=encode(CHAT),
        headers={"content-encoding": encoding, "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["object"] == "chat.completion"


def test_a_decompression_bomb_gets_a_413_on_its_decoded_size(harness: Harness) -> None:
    limit = harness.config.server.max_body_bytes
    padding = b" " * (limit + 1)
    bomb = gzip.compress(CHAT[:-1] + padding + b"}")
    assert len(bomb) < limit // 100, "small on the wire"
    r = httpx.post(
        harness.url + "/v1/chat/completions", content=bomb, headers={"content-encoding": "gzip"}
    )
    assert r.status_code == 413, r.text
    assert "decompressed" in r.json()["error"]["message"]
    # Exactly at the limit once decoded: accepted.
    body = CHAT[:-1] + b" " * (limit - len(CHAT)) + b"}"
    assert len(body) == limit
    r = httpx.post(
        harness.url + "/v1/chat/completions",
        content=gzip.compress(body),
        headers={"content-encoding": "gzip"},
    )
    assert r.status_code == 200, r.text


def test_unsupported_or_broken_encodings(harness: Harness) -> None:
    r = httpx.post(
        harness.url + "/v1/chat/completions", content=CHAT, headers={"content-encoding": "br"}
    )
    assert r.status_code == 415
    assert r.json()["error"]["param"] == "content-encoding"
    assert "'br'" in r.json()["error"]["message"]
    r = httpx.post(
        harness.url + "/v1/chat/completions", content=CHAT, headers={"content-encoding": "gzip"}
    )
    assert r.status_code == 400
    assert "not valid gzip" in r.json()["error"]["message"]
    # The same in Anthropic's shape on /v1/messages.
    r = httpx.post(harness.url + "/v1/messages", content=CHAT, headers={"content-encoding": "zstd"})
    assert r.status_code == 415
    assert r.json()["type"] == "error"
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_models_lists_auto_first(harness: Harness) -> None:
    data = httpx.get(harness.url + "/v1/models").json()["data"]
    assert data[0]["id"] == "auto"
    assert set(data[0]["endpoints"]) >= {"chat", "embeddings"}
    r = httpx.post(
        harness.url + "/v1/chat/completions",
        json={"model": "nope", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert "auto" in r.json()["error"]["message"]


def test_fallback_header_carries_the_reason_word_not_the_upstream_body(harness: Harness) -> None:
    harness.set("b1", mode="503")
    harness.set("b2", mode="503")
    r = httpx.post(
        harness.url + "/v1/chat/completions",
        json={"model": "brain", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-zeta-fallback"] == "brain->coder (brain: 503 unavailable)"
    # The detail stays available where an operator looks for it.
    status = httpx.get(harness.url + "/v1/router/status").json()
    last = status["decisions"][0]
    assert "Service temporarily unavailable" in last["fallback"]
