"""examples/grafana-dashboard.json queries only what the router exports: every metric name and
label in every query is checked against a live gateway's GET /metrics (one without client keys,
one with keys and limits; the shared-affinity panels against one sharing state through a real
redis-server, skipped where it is missing)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from zeta_router.testing import Harness

from .conftest import fleet_template
from .redis_helpers import needs_redis, redis_server

DASHBOARD = Path(__file__).resolve().parents[1] / "examples" / "grafana-dashboard.json"
CODE_PROMPT = "Fix this bug:\n```python\ndef add(a, b):\n    return a - b\n```"
#: Labels Prometheus itself adds to every scraped series.
TARGET_LABELS = {"instance", "job"}

_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
_NAME = re.compile(r"(?<![\w:])(zeta_[A-Za-z0-9_:]*)")
_SELECTOR = re.compile(r"(?<![\w:])(zeta_[A-Za-z0-9_:]*)\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)\s*\"")
_BY = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_LABEL_VALUES = re.compile(r"label_values\(\s*(zeta_\w+)[^,]*,\s*(\w+)\s*\)")

Exported = dict[str, set[str]]
KEY, ADMIN = "sk-grafana-test-key", "adm-grafana-test"
#: Exported only when state.backend is redis: checked by the test that starts one.
SHARED = "zeta_affinity_share_"


def exported(metrics_text: str) -> Exported:
    """Every series name a PromQL query can use (histogram and counter suffixes included),
    with the labels seen on it."""
    out: Exported = {}
    for family in text_string_to_metric_families(metrics_text):
        for suffix in _SUFFIXES.get(family.type, ("",)):
            out.setdefault(family.name + suffix, set())
        for s in family.samples:
            out.setdefault(s.name, set()).update(k for k in s.labels if k != "le")
            if s.name.endswith("_bucket"):
                out[s.name].add("le")
    return out


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, PromQL) for every panel target and templating query."""

    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for p in items:
            yield p
            yield from panels(p.get("panels", []))

    for p in panels(dashboard["panels"]):
        for t in p.get("targets", []):
            yield f"panel {p['title']!r} {t['refId']}", t["expr"]
    for v in dashboard["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]
            yield f"variable {v['name']!r}", q["query"] if isinstance(q, dict) else q


def problems(expr: str, names: Exported) -> list[str]:
    """What in ``expr`` the router does not export: unknown names, unknown labels in
    selectors, ``by`` clauses and label_values()."""
    out = []
    used = _NAME.findall(expr)
    if not used:
        out.append("no zeta_* metric")
    for name in used:
        if name not in names:
            out.append(f"{name} is not exported")
    for name, body in _SELECTOR.findall(expr):
        for label in _MATCHER.findall(body):
            if name in names and label not in names[name] | TARGET_LABELS:
                out.append(f"{name} has no label {label!r}")
    labels = set().union(*(names.get(n, set()) for n in used)) | TARGET_LABELS
    for group in _BY.findall(expr):
        for label in (x.strip() for x in group.split(",")):
            if label and label not in labels:
                out.append(f"by ({label}): no metric in the query has that label")
    for name, label in _LABEL_VALUES.findall(expr):
        if name in names and label not in names[name] | TARGET_LABELS:
            out.append(f"label_values: {name} has no label {label!r}")
    if "histogram_quantile" in expr and "_bucket" not in expr:
        out.append("histogram_quantile over something other than a _bucket series")
    return out


@pytest.fixture(scope="module")
def metrics() -> Iterator[Exported]:
    template = fleet_template(breaker={"consecutive_failures": 1}, admission={"queue_size": 0})
    template["models"]["embed"]["replicas"][0]["max_concurrency"] = 1
    h = Harness(["b1", "b2", "c1", "s1", "e1"], template)
    try:
        c = openai.OpenAI(base_url=h.base_url, api_key="unused", max_retries=0, timeout=20)
        code = [{"role": "user", "content": CODE_PROMPT}]
        c.chat.completions.create(model="auto", messages=code)  # type: ignore[arg-type]
        # A stream cut short by small's backend: a stream error.
        h.set("s1", mode="cut", cut_after=1)
        with pytest.raises(openai.APIError):
            for _ in c.chat.completions.create(
                model="small", messages=[{"role": "user", "content": "hi"}], stream=True
            ):
                pass
        # coder down: a failed attempt, a retry and a fallback to brain.
        h.down("c1")
        c.chat.completions.create(model="auto", messages=code)  # type: ignore[arg-type]
        # embed busy with no queue: a 429 shed.
        embed = h.router.fleet.replicas["embed-0"]
        h.thread.call(lambda: setattr(embed, "in_flight", 1))
        with pytest.raises(openai.RateLimitError):
            c.embeddings.create(model="embed", input="x")
        h.thread.call(lambda: setattr(embed, "in_flight", 0))
        resp = httpx.get(h.url + "/metrics")
        assert resp.status_code == 200
        yield exported(resp.text)
    finally:
        h.close()


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture(scope="module")
def keyed_metrics() -> Iterator[Exported]:
    """A gateway with a client key's limits: one request served, one refused by its rpm."""
    auth = {
        "keys": [
            {"name": "k1", "key_sha256": _sha(KEY), "rpm": 1, "tpm": 10000, "max_parallel": 4}
        ],
        "admin_keys": [{"name": "ops", "key_sha256": _sha(ADMIN)}],
    }
    h = Harness(["b1", "b2", "c1", "s1", "e1"], fleet_template(auth=auth))
    try:
        c = openai.OpenAI(base_url=h.base_url, api_key=KEY, max_retries=0, timeout=20)
        hi = [{"role": "user", "content": "hi"}]
        c.chat.completions.create(model="small", messages=hi)  # type: ignore[arg-type]
        with pytest.raises(openai.RateLimitError):
            c.chat.completions.create(model="small", messages=hi)  # type: ignore[arg-type]
        resp = httpx.get(h.url + "/metrics", headers={"authorization": f"Bearer {ADMIN}"})
        assert resp.status_code == 200
        yield exported(resp.text)
    finally:
        h.close()


def test_every_query_uses_exported_metrics_and_labels(
    metrics: Exported, keyed_metrics: Exported
) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    found = [(where, expr) for where, expr in queries(dashboard) if SHARED not in expr]
    assert len(found) >= 30
    names = {
        n: metrics.get(n, set()) | keyed_metrics.get(n, set()) for n in {*metrics, *keyed_metrics}
    }
    bad = {where: p for where, expr in found if (p := problems(expr, names))}
    assert bad == {}
    # It covers the router's metrics, not a corner of them, client keys' limits included.
    used = {n for _, expr in found for n in _NAME.findall(expr)}
    assert len(used) >= 20, sorted(used)
    assert {"zeta_limit_refusals_total", "zeta_limit_remaining", "zeta_limit_in_flight"} <= used


@needs_redis
def test_the_shared_affinity_panels_use_exported_metrics(tmp_path: Path) -> None:
    with redis_server(tmp_path) as redis:
        state = {"backend": "redis", "url": redis.url}
        h = Harness(["b1", "b2", "c1", "s1", "e1"], fleet_template(state=state))
        try:
            c = openai.OpenAI(base_url=h.base_url, api_key="unused", max_retries=0, timeout=20)
            c.chat.completions.create(
                model="brain", messages=[{"role": "user", "content": CODE_PROMPT}]
            )
            resp = httpx.get(h.url + "/metrics")
            assert resp.status_code == 200
            shared = exported(resp.text)
        finally:
            h.close()
    found = [(w, e) for w, e in queries(json.loads(DASHBOARD.read_text())) if SHARED in e]
    assert len(found) >= 4
    bad = {where: p for where, expr in found if (p := problems(expr, shared))}
    assert bad == {}


def test_the_validator_catches_what_the_router_does_not_export(metrics: Exported) -> None:
    assert problems("rate(zeta_requests[5m])", metrics) == ["zeta_requests is not exported"]
    assert problems("sum(zeta_replica_in_flight{pod=\"x\"})", metrics) == [
        "zeta_replica_in_flight has no label 'pod'"
    ]
    assert problems("sum by (tenant) (rate(zeta_requests_total[5m]))", metrics) == [
        "by (tenant): no metric in the query has that label"
    ]
    assert problems("histogram_quantile(0.5, rate(zeta_router_overhead_seconds_sum[5m]))", metrics)
    assert problems("up", metrics) == ["no zeta_* metric"]
    assert problems("label_values(zeta_requests_total, pod)", metrics)


def test_dashboard_is_importable_grafana_json() -> None:
    d = json.loads(DASHBOARD.read_text())
    assert d["uid"] and d["title"] and d["schemaVersion"] >= 36
    names = [v["name"] for v in d["templating"]["list"]]
    assert names[0] == "datasource"
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids))
    for p in d["panels"]:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0, p["title"]
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}"
            assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]
    # Panels do not overlap on the 24-column grid.
    cells: set[tuple[int, int]] = set()
    for p in d["panels"]:
        g = p["gridPos"]
        xs, ys = range(g["x"], g["x"] + g["w"]), range(g["y"], g["y"] + g["h"])
        mine = {(x, y) for x in xs for y in ys}
        assert not (cells & mine), p["title"]
        cells |= mine
