"""Config reload: validate first, keep live replica state, drain what goes, admin-only API."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from zeta_router.config import Config, parse_config
from zeta_router.errors import ConfigError, Unauthorized
from zeta_router.fleet.breaker import BreakerState
from zeta_router.fleet.outcome import Health
from zeta_router.ops.reload import authorize, reload
from zeta_router.router import Router
from zeta_router.testing import Harness
from zeta_router.testing.clock import ManualClock

from .conftest import fleet_template


def small_config(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "health": {"enabled": False},
        "analysis": {"analyzer": "heuristic"},
        "models": {
            "a": {
                "replicas": [
                    {"url": "http://10.0.0.1:8000/v1", "id": "a1"},
                    {"url": "http://10.0.0.2:8000/v1", "id": "a2"},
                ]
            },
            "b": {"replicas": [{"url": "http://10.0.0.3:8000/v1", "id": "b1"}]},
        },
    }
    data.update(changes)
    return data


@pytest.fixture()
def router() -> Router:
    return Router(parse_config(small_config()), clock=ManualClock())


def test_reload_keeps_live_state_of_replicas_that_stay(router: Router) -> None:
    now = router.clock()
    a1 = router.fleet.replicas["a1"]
    a1.breaker.on_failure(now, "connect failed", 0)
    a1.breaker.force_open(now, "connect failed", 30)
    a1.latency.observe(0.7, now)
    a1.in_flight, a1.requests = 2, 17
    analyzer, strategy = router.analyzer, router.strategy

    new = small_config()
    new["models"]["a"]["replicas"][0]["weight"] = 3.0
    new["models"]["a"]["replicas"][1] = {"url": "http://10.0.0.9:8000/v1", "id": "a3"}
    result = reload(router, parse_config(new))

    assert router.fleet.replicas["a1"] is a1, "same live object"
    assert a1.breaker.state is BreakerState.OPEN
    assert a1.latency.value == 0.7 and a1.in_flight == 2 and a1.requests == 17
    assert a1.weight == 3.0, "what the config says about it is updated"
    assert [r.id for r in router.fleet.models["a"].replicas] == ["a1", "a3"]
    assert (result.kept, result.added, result.removed) == (("a1", "b1"), ("a3",), ("a2",))
    assert router.analyzer is analyzer and router.strategy is strategy, "nothing to rebuild"
    assert result.rebuilt == ()
    assert router.reloads.ok == 1


def test_replicas_that_go_drain_until_their_requests_finish(router: Router) -> None:
    a2 = router.fleet.replicas["a2"]
    a2.in_flight = 1
    new = small_config()
    del new["models"]["a"]["replicas"][1]
    reload(router, parse_config(new))

    assert "a2" not in router.fleet.replicas
    assert a2.health is Health.DRAINING
    assert not a2.available(router.clock()), "no new requests"
    assert router.draining == {"a2": a2}
    a2.in_flight = 0
    reload(router, parse_config(new))  # any later look at the fleet forgets drained replicas
    assert router.draining == {}


def test_a_replica_whose_url_changes_is_a_new_replica(router: Router) -> None:
    old_b1 = router.fleet.replicas["b1"]
    new = small_config()
    new["models"]["b"]["replicas"][0]["url"] = "http://10.0.0.4:8000/v1"
    result = reload(router, parse_config(new))
    assert router.fleet.replicas["b1"] is not old_b1
    assert result.added == ("b1",) and result.removed == ("b1",)


def test_analyzer_and_strategy_rebuilt_only_when_their_settings_change(router: Router) -> None:
    analyzer = router.analyzer
    result = reload(router, parse_config(small_config(balancer={"strategy": "least-request"})))
    assert result.rebuilt == ("strategy",)
    assert router.strategy.name == "least-request"
    assert router.analyzer is analyzer
    result = reload(router,
        parse_config(
            small_config(
                balancer={"strategy": "least-request"},
                analysis={"analyzer": "heuristic", "cache_size": 8},
            )
        )
    )
    assert result.rebuilt == ("analyzer",)
    assert router.analyzer is not analyzer


def test_a_config_that_cannot_be_built_keeps_the_running_one(router: Router) -> None:
    before: Config = router.config
    fleet_before = dict(router.fleet.replicas)
    bad = small_config(balancer={"strategy": "fastest-please"})
    with pytest.raises(ConfigError, match=r"balancer\.strategy"):
        reload(router, parse_config(bad))
    assert router.config is before
    assert router.fleet.replicas == fleet_before
    assert router.reloads.failed == 1 and "fastest-please" in (router.reloads.last_error or "")


def test_admin_endpoints_are_loopback_only_without_a_token() -> None:
    authorize({"headers": [], "client": ("127.0.0.1", 5000)}, None)
    authorize({"headers": [], "client": ("::1", 5000)}, None)
    with pytest.raises(Unauthorized):
        authorize({"headers": [], "client": ("10.1.2.3", 5000)}, None)
    with pytest.raises(Unauthorized):
        authorize({"headers": [], "client": None}, None)


def test_admin_token_is_required_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZETA_TEST_ADMIN", "s3cret")
    remote = ("10.1.2.3", 5000)
    authorize(
        {"headers": [(b"authorization", b"Bearer s3cret")], "client": remote}, "ZETA_TEST_ADMIN"
    )
    with pytest.raises(Unauthorized):
        # With a token configured, loopback alone is not enough.
        authorize({"headers": [], "client": ("127.0.0.1", 1)}, "ZETA_TEST_ADMIN")
    with pytest.raises(Unauthorized):
        authorize(
            {"headers": [(b"authorization", b"Bearer nope")], "client": remote}, "ZETA_TEST_ADMIN"
        )


# -- over HTTP, against a real gateway ----------------------------------------------------------


@pytest.fixture()
def gw() -> Iterator[Harness]:
    h = Harness(["b1", "b2", "c1", "s1", "e1"], fleet_template())
    yield h
    h.close()


def resolved(h: Harness, **overrides: Any) -> dict[str, Any]:
    """The fleet template with fake:NAME URLs replaced by the backends' real ones."""
    text = yaml.safe_dump(fleet_template(**overrides))
    for name, backend in h.backends.items():
        text = text.replace(f"fake:{name}", backend.url)
    return yaml.safe_load(text)  # type: ignore[no-any-return]


def post_reload(h: Harness, body: bytes = b"", token: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/yaml"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return httpx.post(h.url + "/v1/router/reload", content=body, headers=headers, timeout=10)


def test_reload_endpoint_applies_yaml_and_rejects_bad_configs(gw: Harness) -> None:
    new = resolved(gw)
    new["routes"]["simple"] = ["coder", "small"]
    resp = post_reload(gw, yaml.safe_dump(new).encode())
    assert resp.status_code == 200, resp.text
    assert resp.json()["reloaded"] is True
    assert set(resp.json()["kept"]) == {"brain-a", "brain-b", "coder-0", "small-0", "embed-0"}
    c = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0)
    raw = c.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hello"}]
    )
    assert raw.headers["x-zeta-model"] == "coder", "the new route is in effect"

    bad = resolved(gw)
    bad["routes"]["simple"] = ["no-such-model"]
    resp = post_reload(gw, yaml.safe_dump(bad).encode())
    assert resp.status_code == 422
    assert "routes.simple[0]: no model named 'no-such-model'" in resp.json()["error"]["message"]
    assert gw.router.config.routes["simple"] == ("coder", "small"), "the running config stays"
    resp = post_reload(gw, b"models: [unclosed")
    assert resp.status_code == 422
    status = httpx.get(gw.url + "/v1/router/status").json()
    assert status["reloads"]["ok"] == 1 and status["reloads"]["failed"] == 2


def test_empty_body_rereads_the_config_file(gw: Harness, tmp_path: Path) -> None:
    resp = post_reload(gw)
    assert resp.status_code == 400, "no file to re-read"
    new = resolved(gw)
    new["models"]["coder"]["description"] = "from the file"
    path = tmp_path / "router.yaml"
    path.write_text(yaml.safe_dump(new))
    gw.router.config_path = str(path)
    resp = post_reload(gw)
    assert resp.status_code == 200, resp.text
    assert gw.router.config.models["coder"].description == "from the file"


def test_reload_can_require_a_token(gw: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZETA_TEST_ADMIN", "tok-123")
    new = resolved(gw, server={"admin_token_env": "ZETA_TEST_ADMIN"})
    assert post_reload(gw, yaml.safe_dump(new).encode()).status_code == 200
    again = yaml.safe_dump(new).encode()
    resp = post_reload(gw, again)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "unauthorized"
    assert post_reload(gw, again, token="wrong").status_code == 401
    assert post_reload(gw, again, token="tok-123").status_code == 200


def test_stream_on_a_removed_replica_finishes_while_it_drains(gw: Harness) -> None:
    gw.set("c1", chunks=6, chunk_delay_s=0.15)
    c = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0, timeout=20)
    first = threading.Event()
    pieces: list[str] = []

    def consume() -> None:
        for chunk in c.chat.completions.create(
            model="coder", messages=[{"role": "user", "content": "hi"}], stream=True
        ):
            pieces.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
            first.set()

    t = threading.Thread(target=consume)
    t.start()
    assert first.wait(10)
    new = resolved(gw)
    new["models"]["coder"]["replicas"] = [{"url": gw.backend("s1").url, "id": "coder-new"}]
    resp = post_reload(gw, yaml.safe_dump(new).encode())
    assert resp.status_code == 200
    assert resp.json()["removed"] == ["coder-0"]
    status = httpx.get(gw.url + "/v1/router/status").json()
    draining = [r for r in status["replicas"] if r.get("draining")]
    assert [(r["id"], r["health"], r["in_flight"]) for r in draining] == [
        ("coder-0", "draining", 1)
    ]
    t.join(20)
    assert not t.is_alive()
    assert "".join(pieces).startswith("[c1]") and len(pieces) == 7, "the stream completed"
    status = httpx.get(gw.url + "/v1/router/status").json()
    assert not [r for r in status["replicas"] if r.get("draining")], "drained and forgotten"
    raw = c.chat.completions.with_raw_response.create(
        model="coder", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.headers["x-zeta-replica"] == "coder-new"


def test_a_replaced_replica_draining_under_its_id_gives_one_metric_series(router: Router) -> None:
    from zeta_router.ops.metrics import RouterCollector

    router.fleet.replicas["b1"].in_flight = 1
    new = small_config()
    new["models"]["b"]["replicas"][0]["url"] = "http://10.0.0.4:8000/v1"
    reload(router, parse_config(new))
    assert "b1" in router.draining
    (family,) = [m for m in RouterCollector(router).collect() if m.name == "zeta_replica_in_flight"]
    series = [s for s in family.samples if s.labels["replica"] == "b1"]
    assert len(series) == 1


def test_reload_reaches_queues_feedback_hedging_and_probes(router: Router) -> None:
    admission, feedback, prober = router.admission, router.feedback, router.prober
    assert router.hedge is None
    new = small_config(
        admission={"queue_size": 3},
        hedge={"enabled": True},
        health={"enabled": False, "interval_s": 1.5},
    )
    result = reload(router, parse_config(new))
    assert router.admission is admission and admission.settings.queue_size == 3
    assert router.feedback is feedback and feedback.settings == router.config.feedback
    assert router.hedge is not None
    assert router.prober is not prober, "probe settings changed on a router not yet serving"
    assert set(result.rebuilt) == {"hedge", "probes"}


def test_reload_restarts_probes_of_a_running_router(gw: Harness) -> None:
    old = gw.router.prober
    assert not old.running, "the template disables probes"
    new = resolved(gw, health={"enabled": True, "interval_s": 60, "scrape_metrics": False})
    assert post_reload(gw, yaml.safe_dump(new).encode()).status_code == 200
    assert gw.router.prober is not old
    assert gw.thread.call(lambda: gw.router.prober.running)
    assert not gw.thread.call(lambda: gw.router.scraper.running)


def test_a_removed_model_stays_reachable_but_unusable_for_requests_already_planned(
    router: Router,
) -> None:
    from zeta_router.ops.status import snapshot

    clock = router.clock
    assert isinstance(clock, ManualClock)
    b1 = router.fleet.replicas["b1"]
    new = small_config()
    del new["models"]["b"]
    reload(router, parse_config(new))
    # A plan made before the reload may still name "b": it finds only draining replicas.
    retired = router.fleet.models["b"]
    assert retired.replicas == (b1,)
    assert retired.unavailable_reason(clock.now) == "removed by reload"
    assert [m["name"] for m in snapshot(router)["models"]] == ["a"]
    clock.now += router.config.timeouts.total_s + 1
    snapshot(router)  # looking at the fleet forgets what nothing can reach any more
    assert "b" not in router.fleet.models and router.reloads.retired == {}


def test_a_draining_replica_added_back_keeps_its_state(router: Router) -> None:
    a2 = router.fleet.replicas["a2"]
    a2.in_flight, a2.requests = 1, 9
    new = small_config()
    removed = small_config()
    del removed["models"]["a"]["replicas"][1]
    reload(router, parse_config(removed))
    assert a2.health is Health.DRAINING
    result = reload(router, parse_config(new))
    assert router.fleet.replicas["a2"] is a2 and "a2" in result.kept
    assert a2.health is Health.UNKNOWN and a2.requests == 9
    assert router.draining == {}
