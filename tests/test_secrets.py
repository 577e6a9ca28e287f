"""Secrets never leave the router: not in logs, error bodies, response headers, /metrics or
/v1/router/status.

The secrets: an API key read from ``api_key_env``, a user:password in a replica URL (sent as
HTTP Basic auth, so its base64 form too) and the admin token. The fleet is driven through
success, connect failures, a 401 and a 500 whose bodies echo the request's Authorization header
back, a 400 relayed to the client, stream cuts, and failed reloads; every byte the router emits
on the way is then searched for every secret.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.leak_search import Seen
from zeta_router.testing import Harness

API_KEY = "sk-zeta-APIKEY-S3CR3T-7f3a9c"
USER = "zuser"
PASSWORD = "zpass-S3CR3T-91b"
BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
ADMIN_TOKEN = "adm-S3CR3T-token-55e1"
#: The marker every plain secret contains: finds a secret quoted in part, too.
MARK = "S3CR3T"
SECRETS = (API_KEY, PASSWORD, BASIC, ADMIN_TOKEN, MARK)
KEY_ENV, ADMIN_ENV = "ZETA_SECRETS_TEST_KEY", "ZETA_SECRETS_TEST_ADMIN"
REASONING = "Explain step by step why the sky is blue, and prove each claim rigorously."


class CredHarness(Harness):
    """``cred:NAME`` in the template is the backend's URL with user:password in it."""

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, str) and node.startswith("cred:"):
            url = self.backends[node[5:]].url
            return url.replace("http://", f"http://{USER}:{PASSWORD}@", 1)
        return super()._resolve(node)


def template() -> dict[str, Any]:
    return {
        "health": {"enabled": False},
        "server": {"admin_token_env": ADMIN_ENV},
        "timeouts": {"connect_s": 1.0, "first_byte_s": 2.0, "idle_s": 2.0, "total_s": 10.0},
        "retry": {"backoff_base_s": 0.01, "backoff_max_s": 0.02},
        "breaker": {"consecutive_failures": 1000, "min_samples": 1000},
        "analysis": {"analyzer": "heuristic"},
        "models": {
            "brain": {
                "endpoints": ["chat", "completions"],
                "replicas": [
                    {"url": "fake:b1", "id": "brain-key", "api_key_env": KEY_ENV},
                    {"url": "cred:b2", "id": "brain-cred"},
                ],
            },
            "coder": {"endpoints": ["chat", "completions"], "replicas": [{"url": "fake:c1"}]},
        },
        "routes": {"reasoning": ["brain", "coder"], "code": ["coder", "brain"]},
        "fallbacks": {"brain": ["coder"]},
    }


@pytest.fixture()
def gw(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(ADMIN_ENV, ADMIN_TOKEN)
    h = CredHarness(["b1", "b2", "c1"], template())
    yield h
    h.close()


def prefer(h: Harness, rid: str) -> None:
    for r in h.router.fleet.models["brain"].replicas:
        r.latency.value = 0.0001 if r.id == rid else 5.0


def chat(c: httpx.Client, *, stream: bool = False, model: str = "brain") -> httpx.Response:
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": REASONING}]}
    return c.post("/v1/chat/completions", json=body)


def log_text(caplog: pytest.LogCaptureFixture) -> list[str]:
    out = []
    for rec in caplog.records:
        out.append(rec.getMessage())
        if rec.exc_info:
            out.append(logging.Formatter().formatException(rec.exc_info))
    return out


def test_secrets_never_leave_the_router(gw: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="zeta_router")
    seen = Seen(SECRETS)
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=gw.url, timeout=20) as c:
        # Success on each replica, JSON and SSE; each replica gets its own credential.
        for rid in ("brain-key", "brain-cred"):
            for stream in (False, True):
                prefer(gw, rid)
                r = seen.add(chat(c, stream=stream))
                assert r.status_code == 200 and r.headers["x-zeta-replica"] == rid, r.text
        assert gw.backend("b1").last_headers["Authorization"] == f"Bearer {API_KEY}"
        assert gw.backend("b2").last_headers["Authorization"] == f"Basic {BASIC}"

        # Upstream errors that quote the Authorization header back.
        for name in ("b1", "b2"):
            gw.set(name, echo_headers=True)
        for mode in ("401", "500", "503", "429"):
            for name in ("b1", "b2"):
                gw.set(name, mode=mode, retry_after_s=0)
            for stream in (False, True):
                prefer(gw, "brain-key")
                r = seen.add(chat(c, stream=stream))
                assert r.status_code == 200 and r.headers["x-zeta-model"] == "coder", r.text
                assert "x-zeta-fallback" in r.headers
        # The whole fleet failing: the 503 lists what was tried and why.
        gw.set("c1", mode="500", echo_headers=True)
        for name in ("b1", "b2"):
            gw.set(name, mode="500")
        r = seen.add(chat(c))
        assert r.status_code == 503, r.text
        # A 400 is the request's fault: relayed to the client with the upstream's message.
        gw.set("b1", mode="400")
        prefer(gw, "brain-key")
        r = seen.add(chat(c))
        assert r.status_code == 400 and r.json()["error"]["code"] == "upstream_rejected", r.text
        for name in ("b1", "b2", "c1"):
            gw.heal(name)

        # Down replicas: connect failures, and what the health probes and metric scrapes
        # (which use the credentialed URL) make of them.
        gw.down("b2")
        prefer(gw, "brain-cred")
        assert seen.add(chat(c)).headers["x-zeta-replica"] == "brain-key"
        gw.set("b1", mode="500", echo_headers=True)
        for _ in range(2):
            gw.thread.run(gw.router.prober.probe_once())
            gw.thread.run(gw.router.scraper.scrape_once())
        assert gw.router.fleet.replicas["brain-cred"].health.value == "down"
        gw.up("b2")
        for name in ("b1", "b2"):
            gw.heal(name)
        gw.thread.run(gw.router.prober.probe_once())

        # Streams cut after the first bytes.
        for rid, name in (("brain-key", "b1"), ("brain-cred", "b2")):
            gw.set(name, mode="cut", cut_after=2)
            prefer(gw, rid)
            r = seen.add(chat(c, stream=True))
            assert '"code":"stream_interrupted"' in r.text
            gw.heal(name)

        # Reloads: unauthorised, broken YAML on the line holding URL credentials, an invalid
        # config, and a good one (same fleet).
        good = gw._resolve(template())
        url = good["models"]["brain"]["replicas"][1]["url"]
        seen.add(c.post("/v1/router/reload", content=b"models: {}"))
        seen.add(
            c.post("/v1/router/reload", content=b"x", headers={"authorization": "Bearer nope"})
        )
        broken = f"models:\n  brain:\n    replicas: [{{url: {url}}}]: oops\n".encode()
        r = seen.add(c.post("/v1/router/reload", content=broken, headers=admin))
        assert r.status_code == 422, r.text
        bad = json.loads(json.dumps(good))
        bad["models"]["brain"]["replicas"][1]["weight"] = -1
        r = seen.add(c.post("/v1/router/reload", json=bad, headers=admin))
        assert r.status_code == 422, r.text
        r = seen.add(c.post("/v1/router/reload", json=good, headers=admin))
        assert r.status_code == 200, r.text

        # The observability endpoints, after all of the above.
        gw.thread.call(gw.router.telemetry.flush)
        for path in ("/metrics", "/v1/router/status?decisions=200", "/v1/feedback", "/v1/models"):
            r = seen.add(c.get(path))
            assert r.status_code == 200, (path, r.text)
    assert any(rec.name == "zeta_router.access" for rec in caplog.records), "no access log"
    leaks = seen.leaks(log_text(caplog))
    assert not leaks, "\n\n".join(f"{s!r} in: ...{ctx}..." for s, ctx in leaks)


def test_openai_sdk_error_carries_no_secret(gw: Harness) -> None:
    """What an SDK user sees (the exception's message and body) when every replica fails with
    an echoing 500."""
    for name in ("b1", "b2", "c1"):
        gw.set(name, mode="500", echo_headers=True)
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0, timeout=20)
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="brain", messages=[{"role": "user", "content": REASONING}]
        )
    text = f"{info.value} {info.value.body} {info.value.response.headers}"
    # 500: two replicas failing one request alike is relayed as the upstream's own error.
    assert info.value.status_code in (500, 503)
    assert not [s for s in SECRETS if s in text], text


def test_replica_with_both_an_api_key_and_url_credentials_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both want the one Authorization header: aiohttp refused every request (reported as
    "connection reset: ValueError") and the replica never served. The configured key wins."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    t = template()
    t["models"]["brain"]["replicas"] = [{"url": "cred:b1", "id": "both", "api_key_env": KEY_ENV}]
    h = CredHarness(["b1", "b2", "c1"], t)
    try:
        r = httpx.post(
            h.base_url + "/chat/completions",
            json={"model": "brain", "messages": [{"role": "user", "content": "hi"}]},
            timeout=20,
        )
        assert r.status_code == 200, r.text
        assert r.headers["x-zeta-replica"] == "both", r.headers
        assert h.backend("b1").last_headers["Authorization"] == f"Bearer {API_KEY}"
        status = httpx.get(h.url + "/v1/router/status", timeout=20).text
        assert MARK not in status and API_KEY not in status
    finally:
        h.close()
