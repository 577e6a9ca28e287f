"""Client keys over real sockets, with the official SDKs: 401 without a valid key (in each API's
own error shape), 403 for a model outside the key's allow-list, ``auto`` among the allowed
models only, 429 with Retry-After over rpm, tpm or max_parallel, admin keys apart from client
keys, caps on max_tokens, and no key value or hash anywhere the router writes."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conftest import BACKENDS, fleet_template
from tests.leak_search import Seen
from zeta_router.testing import Harness

ALICE = "sk-alice-K3YVALUE-0001"
BOB = "sk-bob-K3YVALUE-0002"
CAROL = "sk-carol-K3YVALUE-0003"
DAVE = "sk-dave-K3YVALUE-0004"
ADMIN = "adm-K3YVALUE-0005"
UPSTREAM_KEY = "sk-upstream-of-brain"
KEYS = (ALICE, BOB, CAROL, DAVE, ADMIN)


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def template() -> dict[str, Any]:
    t = fleet_template()
    t["auth"] = {
        "keys": [
            # Only the small model; auto routes among it alone.
            {"name": "alice", "key_env": "ZETA_AUTH_ALICE", "models": ["small", "embed"]},
            {"name": "bob", "key_sha256": sha(BOB), "rpm": 2},
            {"name": "carol", "key_sha256": sha(CAROL), "tpm": 200, "max_tokens": 100},
            {"name": "dave", "key_sha256": sha(DAVE), "max_parallel": 1},
        ],
        "admin_keys": [{"name": "ops", "key_sha256": sha(ADMIN)}],
    }
    t["models"]["coder"]["max_tokens"] = 500
    # A request the backend holds (the max_parallel test) waits as long as the test needs.
    t["timeouts"] |= {"first_byte_s": 30.0, "total_s": 30.0}
    return t


@pytest.fixture(scope="module")
def gw() -> Iterator[Harness]:
    mp = pytest.MonkeyPatch()
    mp.setenv("ZETA_AUTH_ALICE", ALICE)
    mp.setenv("ZETA_TEST_BRAIN_KEY", UPSTREAM_KEY)
    h = Harness(BACKENDS, template())
    yield h
    h.close()
    mp.undo()


def _no_auth(request: httpx.Request) -> None:
    request.headers.pop("authorization", None)


_OPEN: list[openai.OpenAI | anthropic.Anthropic] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def client(h: Harness, key: str | None) -> openai.OpenAI:
    """An SDK client with ``key`` (None: one that sends no Authorization header at all),
    closed when the test ends."""
    http = httpx.Client(event_hooks={"request": [_no_auth]}) if key is None else None
    # No retries: the SDK would otherwise honour Retry-After and hide the 429.
    c = openai.OpenAI(
        base_url=h.base_url, api_key=key or "unused", max_retries=0, timeout=20, http_client=http
    )
    _OPEN.append(c)
    return c


def claude(h: Harness, key: str) -> anthropic.Anthropic:
    c = anthropic.Anthropic(base_url=h.url, api_key=key, max_retries=0, timeout=20)
    _OPEN.append(c)
    return c


def ask(c: openai.OpenAI, model: str = "auto", **kw: Any) -> Any:
    return c.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "Say hi."}], **kw
    )


def test_missing_or_unknown_key_is_401_openai_style(gw: Harness) -> None:
    for key in (None, "sk-not-a-key"):
        with pytest.raises(openai.AuthenticationError) as err:
            ask(client(gw, key))
        body = err.value.response.json()
        assert body["error"]["type"] == "authentication_error", body
        assert set(body["error"]) >= {"message", "type", "param", "code"}
        if key:
            assert key not in err.value.response.text
    with pytest.raises(openai.AuthenticationError):
        client(gw, "sk-nope").embeddings.create(model="embed", input="x")
    with pytest.raises(openai.AuthenticationError):
        client(gw, None).completions.create(model="auto", prompt="x")
    with pytest.raises(openai.AuthenticationError):
        client(gw, "sk-nope").responses.create(model="auto", input="hi")
    # A key in the wrong header, or a client key on the admin surface.
    with httpx.Client(base_url=gw.url) as c:
        r = c.post("/v1/chat/completions", headers={"x-api-key": ALICE}, json={})
        assert r.status_code == 401, r.text
        r = c.get("/v1/router/status", headers={"authorization": f"Bearer {ALICE}"})
        assert r.status_code == 401, r.text


def test_messages_api_401_is_anthropic_style_and_x_api_key_works(gw: Harness) -> None:
    bad = claude(gw, "sk-nope")
    with pytest.raises(anthropic.AuthenticationError) as err:
        bad.messages.create(
            model="auto", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
        )
    body = err.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error", body
    good = claude(gw, ALICE)
    msg = good.messages.create(
        model="auto", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
    )
    assert msg.model == "small"


def test_model_outside_the_allow_list_is_403_naming_it(gw: Harness) -> None:
    c = client(gw, ALICE)
    with pytest.raises(openai.PermissionDeniedError) as err:
        ask(c, model="brain")
    assert "'brain'" in err.value.message and "alice" in err.value.message
    with pytest.raises(openai.PermissionDeniedError):
        c.completions.create(model="coder", prompt="x")
    # /v1/models shows the key its own models only.
    assert {m.id for m in c.models.list()} == {"auto", "small", "embed"}
    assert ask(c, model="small").headers["x-zeta-model"] == "small"


def test_auto_routes_only_among_allowed_models(gw: Harness) -> None:
    c = client(gw, ALICE)
    prompts = [
        "Write a Python function that parses a CSV file and computes column means.",
        "Prove step by step that the square root of two is irrational, rigorously.",
        "Say hi.",
    ]
    for text in prompts:
        raw = c.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": text}]
        )
        assert raw.headers["x-zeta-model"] == "small", (text, raw.headers)
    # The unrestricted key's code request goes elsewhere: the route was really filtered.
    raw = client(gw, DAVE).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": prompts[0]}]
    )
    assert raw.headers["x-zeta-model"] == "coder"


def test_over_rpm_is_429_with_retry_after(gw: Harness) -> None:
    c = client(gw, BOB)
    for _ in range(2):
        assert ask(c).http_response.status_code == 200
    with pytest.raises(openai.RateLimitError) as err:
        ask(c)
    r = err.value.response
    assert int(r.headers["retry-after"]) >= 1, r.headers
    assert r.json()["error"]["code"] == "rpm_exceeded"


def test_over_tpm_is_429_and_usage_reconciles_the_estimate(gw: Harness) -> None:
    c = client(gw, CAROL)
    store = gw.app.limiter.store
    # Each asks for 90 tokens (charged ~92); the fake upstream reports 10 + 8 used.
    for _ in range(4):
        assert ask(c, max_tokens=90).http_response.status_code == 200
    counters = gw.thread.call(lambda: store.counters("carol"))  # type: ignore[attr-defined]
    assert counters is not None and counters.tokens > 200 - 4 * 20, counters
    # A stream that reports no usage keeps its estimate, until the bucket is dry (one with
    # usage settles to it: tests/test_limit_usage.py).
    with pytest.raises(openai.RateLimitError) as err:
        for _ in range(4):
            stream = c.chat.completions.create(
                model="auto",
                messages=[{"role": "user", "content": "Say hi."}],
                max_tokens=90,
                stream=True,
            )
            assert "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    assert err.value.response.json()["error"]["code"] == "tpm_exceeded"
    assert int(err.value.response.headers["retry-after"]) >= 1


def test_max_tokens_caps_per_key_and_model(gw: Harness) -> None:
    carol = client(gw, CAROL)
    with pytest.raises(openai.BadRequestError) as err:
        ask(carol, max_tokens=101)
    assert err.value.code == "max_tokens_exceeded" and "100" in err.value.message
    dave = client(gw, DAVE)
    with pytest.raises(openai.BadRequestError) as err:
        ask(dave, model="coder", max_tokens=501)
    assert "coder" in err.value.message and "500" in err.value.message
    # Without max_tokens, the request is sent with the cap.
    raw = ask(dave, model="coder")
    assert raw.headers["x-zeta-model"] == "coder"
    assert gw.backend("c1").last_body is not None
    assert gw.backend("c1").last_body["max_tokens"] == 500


def test_over_max_parallel_is_429_and_the_slot_frees(gw: Harness) -> None:
    c = client(gw, DAVE)
    backend = gw.backend("s1")
    # Held: what the backend admits stays in flight until released, however slow the machine.
    gw.set("s1", hold=True)
    results: list[int] = []
    refusals: list[openai.RateLimitError] = []

    def one() -> None:
        try:
            results.append(ask(c, model="small").http_response.status_code)
        except openai.RateLimitError as e:
            refusals.append(e)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(2000):  # up to 10 s
            if len(refusals) == 2 and backend.running == 1:
                break
            threading.Event().wait(0.005)
        assert (len(refusals), backend.running, results) == (2, 1, [])
        for err in refusals:
            assert err.response.json()["error"]["code"] == "max_parallel_exceeded"
            assert err.response.headers["retry-after"] == "1"
    finally:
        gw.heal("s1")
        for t in threads:
            t.join(20)
    assert results == [200]
    assert ask(c, model="small").http_response.status_code == 200


def test_size_limits_are_413() -> None:
    t = template()
    t["server"] = {"max_messages": 3, "max_part_chars": 2000}
    mp = pytest.MonkeyPatch()
    mp.setenv("ZETA_AUTH_ALICE", ALICE)
    h = Harness(BACKENDS, t)
    try:
        c = client(h, DAVE)
        with pytest.raises(openai.APIStatusError) as err:
            c.chat.completions.create(
                model="auto", messages=[{"role": "user", "content": "hi"}] * 4
            )
        assert err.value.status_code == 413 and err.value.code == "too_many_messages"
        with pytest.raises(openai.APIStatusError) as err:
            c.chat.completions.create(
                model="auto",
                messages=[{"role": "user", "content": [{"type": "text", "text": "x" * 2001}]}],
            )
        assert err.value.status_code == 413 and err.value.code == "content_part_too_large"
        with pytest.raises(openai.APIStatusError) as err:
            c.embeddings.create(model="embed", input=["a", "y" * 2001])
        assert err.value.status_code == 413
    finally:
        h.close()
        mp.undo()


def test_admin_keys_guard_status_and_reload(gw: Harness) -> None:
    with httpx.Client(base_url=gw.url, timeout=20) as c:
        admin = {"authorization": f"Bearer {ADMIN}"}
        assert c.get("/v1/router/status").status_code == 401
        assert c.get("/v1/router/history").status_code == 401
        assert c.get("/v1/router/status", headers=admin).status_code == 200
        client_key = {"authorization": f"Bearer {DAVE}"}
        assert c.post("/v1/router/reload", headers=client_key).status_code == 401
        # An admin key is not a client key.
        r = c.post(
            "/v1/chat/completions",
            headers=admin,
            json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert r.status_code == 401
        # The dashboard page holds no data; what it polls is guarded.
        assert c.get("/dashboard").status_code == 200


def test_client_credentials_are_not_forwarded_upstream(gw: Harness) -> None:
    c = client(gw, DAVE)
    ask(c, model="brain", extra_headers={"x-api-key": DAVE, "Connection": "keep-alive, X-Foo"})
    seen = {
        **gw.backend("b1").last_headers,
        **gw.backend("b2").last_headers,
    }
    headers = {k.lower(): v for k, v in seen.items()}
    assert headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert "x-api-key" not in headers and "x-foo" not in headers
    assert all(DAVE not in v for v in headers.values())


def test_no_key_value_or_hash_leaks(gw: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    needles = [*KEYS, *(sha(k) for k in KEYS), "K3YVALUE"]
    needles += [bytes.fromhex(sha(k)).hex().upper() for k in KEYS]
    seen = Seen(needles)
    with httpx.Client(base_url=gw.url, timeout=20) as c:
        body = {"model": "auto", "messages": [{"role": "user", "content": "Say hi."}]}
        for key in (*KEYS, "sk-wrong-K3YVALUE", f"Basic {ALICE}"):
            auth = key if key.startswith("Basic") else f"Bearer {key}"
            for stream in (False, True):
                seen.add(
                    c.post(
                        "/v1/chat/completions",
                        json={**body, "stream": stream},
                        headers={"authorization": auth},
                    )
                )
            seen.add(c.post("/v1/messages", json=body, headers={"x-api-key": key}))
            seen.add(c.post("/v1/chat/completions", json={**body, "model": "brain"},
                            headers={"authorization": f"Bearer {key}"}))
        for _ in range(3):
            seen.add(c.post("/v1/chat/completions", json=body,
                            headers={"authorization": f"Bearer {BOB}"}))
        seen.add(c.post("/v1/router/reload", headers={"authorization": f"Bearer {ALICE}"}))
        gw.thread.call(gw.router.telemetry.flush)
        admin = {"authorization": f"Bearer {ADMIN}"}
        for path in ("/metrics", "/v1/router/status?decisions=200", "/v1/router/history"):
            r = seen.add(c.get(path, headers=admin))
            assert r.status_code == 200, (path, r.text)
        status = c.get("/v1/router/status?decisions=200", headers=admin).json()
        assert {"alice", "bob"} <= {d["client"] for d in status["decisions"]}
        # The per-key limit views (searched above with the rest) name keys by name only.
        assert set(status["limits"]["keys"]) == {"bob", "carol", "dave"}
        assert status["limits"]["keys"]["bob"]["refusals"]["rpm"] >= 1
        metrics = c.get("/metrics", headers=admin).text
        assert 'zeta_limit_refusals_total{key="bob",limit="rpm"}' in metrics
        assert 'zeta_limit_remaining{key="carol",limit="tpm"}' in metrics
        seen.add(c.get("/v1/models", headers={"authorization": f"Bearer {ALICE}"}))
    # What the router (and its server) logged; the test's own HTTP client logs are not its.
    logs = [
        rec.getMessage() + str(rec.__dict__)
        for rec in caplog.records
        if rec.name.startswith(("zeta_router", "uvicorn"))
    ]
    assert any(rec.name == "zeta_router.access" for rec in caplog.records)
    leaks = seen.leaks(logs)
    assert not leaks, leaks
