"""GET /metrics: Prometheus text built from router state at scrape time, bounded labels."""

from __future__ import annotations

import httpx
import openai
import prometheus_client
from prometheus_client.parser import text_string_to_metric_families

from zeta_router.analysis.profile import TaskProfile
from zeta_router.config import parse_config
from zeta_router.errors import FailureKind, UpstreamError
from zeta_router.fleet.outcome import SERVED, Health, Reason, Why
from zeta_router.fleet.state import Fleet
from zeta_router.ops.stats import Histogram, RequestStats
from zeta_router.router import Router
from zeta_router.routing.decision import Attempt, Decision
from zeta_router.testing import Harness

CODE_PROMPT = "Fix this bug:\n```python\ndef add(a, b):\n    return a - b\n```"


def scrape(h: Harness) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """sample name -> {sorted label items: value}."""
    resp = httpx.get(h.url + "/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=")
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def value(
    m: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str, **labels: str
) -> float:
    return m.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def chat(h: Harness, content: str, model: str = "auto", stream: bool = False) -> None:
    c = openai.OpenAI(base_url=h.base_url, api_key="unused", max_retries=0, timeout=20)
    if stream:
        list(
            c.chat.completions.create(
                model=model, messages=[{"role": "user", "content": content}], stream=True
            )
        )
    else:
        c.chat.completions.create(model=model, messages=[{"role": "user", "content": content}])


def test_reason_labels_are_a_fixed_vocabulary_whatever_the_text() -> None:
    for kind in FailureKind:
        err = UpstreamError(kind, "my prompt was 'hello'")
        assert Reason.of(err).label.value == kind.value
    config = parse_config({"models": {"m": {"replicas": [{"url": "http://x/v1"}] * 2}}})
    a, b = Fleet(config).models["m"].replicas
    a.breaker.force_open(0.0, "x", 60.0)
    assert a.unavailable(1.0) == Reason(Why.CIRCUIT_OPEN, "circuit open")
    b.max_concurrency, b.in_flight = 1, 1
    assert b.unavailable(1.0) is not None and b.unavailable(1.0).label is Why.SATURATED
    # Free text (a probe detail) never becomes a label value: the health state is the label.
    a.breaker.reset(1.0)
    a.health, a.health_detail = Health.DOWN, "probe said: my prompt was 'hello'"
    why = a.unavailable(1.0)
    assert why is not None and why.label.value == "down"
    labels = {m.value for m in (*FailureKind, *Why, *Health)}
    assert why.label.value in labels


def test_histogram_buckets_are_cumulative_and_le_inclusive() -> None:
    h = Histogram((0.1, 1.0))
    for v in (0.05, 0.1, 0.5, 3.0):
        h.observe(v)
    assert h.cumulative() == [("0.1", 2), ("1.0", 3), ("+Inf", 4)]
    assert h.count == 4
    assert abs(h.sum - 3.65) < 1e-9


REFUSED = Reason(FailureKind.CONNECT, "connect failed: ClientConnectorError")


def test_request_stats_from_decisions() -> None:
    stats = RequestStats()
    d = Decision("zr-1", "chat", 0.0, stream=True)
    d.profile = TaskProfile("code", 0.5, 0.83, 10, "heuristic", ())
    d.task, d.preferred, d.model, d.status = "code", "coder", "brain", 200
    d.attempts = [
        Attempt("coder", "coder-0", REFUSED, 0.001),
        Attempt("brain", "brain-a", SERVED, 0.2),
    ]
    d.passed_over = [("coder", REFUSED)]
    d.ttfb_s, d.duration_s, d.router_overhead_s = 0.2, 1.5, 0.0003
    d.stream_error = Reason(FailureKind.IDLE_TIMEOUT, "stream idle timeout")
    stats.observe(d)
    shed = Decision("zr-2", "chat", 0.0)
    shed.task, shed.preferred, shed.status = "simple", "small", 429
    stats.observe(shed)

    assert stats.requests[("brain", "code", "200", "chat")] == 1
    assert stats.requests[("none", "simple", "429", "chat")] == 1
    assert stats.fallbacks[("coder", "brain", "connect failed")] == 1
    assert stats.retries["brain"] == 1
    assert stats.attempt_failures[("coder", "connect failed")] == 1
    assert stats.shed["small"] == 1
    assert stats.stream_errors[("brain", "stream idle timeout")] == 1
    assert stats.duration["brain"].count == 1
    assert stats.ttfb["brain"].sum == 0.2
    assert stats.overhead.count == 1
    assert stats.confidence["code"].count == 1
    assert "none" not in stats.duration, "failed requests have no serving model to time"


def test_metrics_endpoint_counts_requests_fallbacks_and_replica_state(harness: Harness) -> None:
    before = scrape(harness)
    chat(harness, CODE_PROMPT)
    chat(harness, CODE_PROMPT, stream=True)
    harness.down("c1")
    chat(harness, CODE_PROMPT)  # coder is down: served by the next model of the code route
    m = scrape(harness)

    def delta(name: str, **labels: str) -> float:
        return value(m, name, **labels) - value(before, name, **labels)

    assert (
        delta("zeta_requests_total", model="coder", task="code", status="200", endpoint="chat") == 2
    )
    assert (
        delta("zeta_requests_total", model="brain", task="code", status="200", endpoint="chat") == 1
    )
    assert (
        delta(
            "zeta_fallbacks_total", **{"from": "coder", "to": "brain", "reason": "connect failed"}
        )
        == 1
    )
    assert delta("zeta_retries_total", model="brain") == 1
    assert delta("zeta_upstream_failures_total", model="coder", reason="connect failed") == 1
    assert delta("zeta_request_duration_seconds_count", model="coder") == 2
    assert delta("zeta_time_to_first_byte_seconds_count", model="brain") == 1
    assert delta("zeta_router_overhead_seconds_count") == 3
    assert delta("zeta_classification_confidence_count", task="code") == 3
    # The decision cache saw the same prompt three times.
    hits, misses = (
        delta("zeta_decision_cache_hits_total"),
        delta("zeta_decision_cache_misses_total"),
    )
    assert hits + misses == 3 and hits >= 2
    # Live replica state, read at scrape time.
    assert value(m, "zeta_replica_in_flight", model="coder", replica="coder-0") == 0
    assert value(m, "zeta_replica_health", model="coder", replica="coder-0", health="unknown") == 1
    assert value(m, "zeta_replica_failures_total", model="coder", replica="coder-0") >= 1
    assert "zeta_replica_latency_ewma_seconds" in m
    assert "zeta_replica_queue_depth" in m
    assert value(m, "zeta_build_info", version="0.1.0") == 1


def test_breaker_state_gauge_follows_the_breaker(harness: Harness) -> None:
    router = harness.router
    replica = router.fleet.replicas["coder-0"]
    replica.breaker.force_open(router.clock(), "test", 60.0)
    m = scrape(harness)
    labels = {"model": "coder", "replica": "coder-0"}
    assert value(m, "zeta_replica_breaker_state", state="open", **labels) == 1
    assert value(m, "zeta_replica_breaker_state", state="closed", **labels) == 0


def test_labels_are_bounded(harness: Harness) -> None:
    chat(harness, "please tell me a secret story about zr-ids")
    text = httpx.get(harness.url + "/metrics").text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            for key, val in s.labels.items():
                assert not val.startswith("zr-"), f"request id in label {key} of {s.name}"
                assert "secret" not in val, f"prompt text in label {key} of {s.name}"
                assert len(val) <= 64, f"unbounded label {key}={val!r} on {s.name}"


def test_each_router_has_its_own_registry() -> None:
    # Nothing lands in prometheus_client's process-global registry.
    names = {m.name for m in prometheus_client.REGISTRY.collect()}
    assert not any(n.startswith("zeta_") for n in names)
    config = parse_config(
        {
            "models": {"m": {"replicas": [{"url": "http://127.0.0.1:9"}]}},
            "health": {"enabled": False},
        }
    )
    a, b = Router(config), Router(config)
    d = Decision("zr-x", "chat", 0.0)
    d.task, d.status = "simple", 503
    a.telemetry.stats.observe(d)
    assert sum(a.telemetry.stats.requests.values()) == 1
    assert sum(b.telemetry.stats.requests.values()) == 0


def test_requests_rejected_before_routing_are_counted(harness: Harness) -> None:
    before = scrape(harness)
    resp = httpx.post(harness.base_url + "/chat/completions", json={"model": "auto"})
    assert resp.status_code == 400
    after = scrape(harness)
    labels = {"model": "none", "task": "none", "status": "400", "endpoint": "chat"}
    assert (
        value(after, "zeta_requests_total", **labels)
        - value(before, "zeta_requests_total", **labels)
        == 1
    )
