"""``GET /v1/router/status`` (the fleet, recent decisions, the config in effect) and the live
``GET /dashboard`` page that polls it.

Built only when asked for, from live router state. Secrets never leave: replica URLs lose their
credentials and query strings, ``api_key_env`` shows the variable's name but never its value,
launch environments show keys only, and command-line values after secret-looking flags are
masked.
"""

from __future__ import annotations

import dataclasses
import re
import time
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import orjson

from zeta_router import __version__
from zeta_router.analysis.cache import CachedAnalyzer
from zeta_router.config import Config
from zeta_router.errors import InvalidRequest
from zeta_router.fleet.snapshot import ReplicaSnapshot
from zeta_router.fleet.state import ReplicaState, redact_url
from zeta_router.http.asgi import Receive, Scope, json_response
from zeta_router.http.response import JSON_TYPE, Response
from zeta_router.http.server import App
from zeta_router.managed.supervisor import ReplicaStatus
from zeta_router.ops.history import FIELDS
from zeta_router.ops.limit_status import limits_status
from zeta_router.ops.reload import authorize, prune_drained
from zeta_router.router import Router
from zeta_router.routing.decision import Decision
from zeta_router.routing.limits import Limiter

REDACTED = "<redacted>"
#: Config keys whose values are secrets wherever they appear (``*_env`` names are not).
_SECRET_KEY = re.compile(r"(?i)(secret|password|passwd|token|api[_-]?key|credential|sha256)")
_SECRET_FLAG = re.compile(r"(?i)^--?[\w-]*(secret|password|token|api[_-]?key)[\w-]*$")
DEFAULT_DECISIONS = 50
MAX_DECISIONS = 200


def redact_config(config: Config) -> dict[str, Any]:
    """The config as JSON with every secret masked."""
    data: dict[str, Any] = config.model_dump(mode="json")
    return _redact(data)  # type: ignore[no-any-return]


def _redact(node: Any, key: str = "") -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k == "env" and isinstance(v, dict):
                # A launch environment: names are useful, values may be keys.
                out[k] = dict.fromkeys(v, REDACTED)
            else:
                out[k] = _redact(v, k)
        return out
    if isinstance(node, list):
        if key == "command":
            return _redact_argv(node)
        return [_redact(v, key) for v in node]
    if isinstance(node, str):
        if key == "url":
            return redact_url(node)
        if key == "command":
            return " ".join(_redact_argv(node.split()))
        if _SECRET_KEY.search(key) and not key.endswith("_env"):
            return REDACTED
    return node


def _redact_argv(argv: list[Any]) -> list[Any]:
    out: list[Any] = []
    mask_next = False
    for arg in argv:
        text = str(arg)
        if mask_next:
            out.append(REDACTED)
            mask_next = False
            continue
        flag, eq, _value = text.partition("=")
        if _SECRET_FLAG.match(flag):
            if eq:
                out.append(f"{flag}={REDACTED}")
            else:
                out.append(text)
                mask_next = True
            continue
        out.append(redact_url(text) if "://" in text else arg)
    return out


def replica_status(r: ReplicaState, now: float) -> dict[str, Any]:
    return ReplicaSnapshot.of(r, now).to_dict()


def process_status(st: ReplicaStatus) -> dict[str, Any]:
    """A managed replica's process: why it is not ready (``last_error`` ends with the last line
    of the server's log, so secret-looking flags in it are masked as in commands)."""
    error = st.last_error
    return {
        "state": st.state,
        "pid": st.pid,
        "restarts": st.restarts,
        "last_error": None if error is None else _redact_text(error),
        "log_path": st.log_path,
    }


def _redact_text(text: str) -> str:
    try:
        return " ".join(_redact_argv(text.split()))
    except ValueError:  # a URL-like word urlsplit rejects: hide it all rather than guess
        return REDACTED


def snapshot(
    router: Router, decisions: int = DEFAULT_DECISIONS, limiter: Limiter | None = None
) -> dict[str, Any]:
    router.telemetry.flush()
    prune_drained(router)
    now = router.clock()
    config = router.config
    report = router.load_report()
    load = {m["model"]: m for m in report["models"]}
    models = []
    for name, ms in router.fleet.models.items():
        if name in router.reloads.retired:
            continue  # removed by a reload; its replicas show as draining
        lm = load.get(name, {})
        models.append(
            {
                "name": name,
                "description": ms.config.description,
                "endpoints": list(ms.config.endpoints),
                "context_window": ms.config.context_window,
                "replicas": [r.id for r in ms.replicas],
                "in_flight": ms.in_flight(),
                "unavailable_reason": ms.unavailable_reason(now),
                "saturated": lm.get("saturated", False),
                "saturation": lm.get("why") or None,
                "utilisation": lm.get("utilisation"),
                "queued": lm.get("queued", 0),
                "shed": lm.get("shed", 0),
            }
        )
    replicas = [replica_status(r, now) for r in router.fleet.replicas.values()]
    if router.supervisor is not None:
        for rep in replicas:
            if rep["id"] in router.supervisor:
                rep["process"] = process_status(router.supervisor[rep["id"]].status())
    for r in router.draining.values():
        if r.id not in router.fleet.replicas:
            replicas.append({**replica_status(r, now), "draining": True})
    recent: list[Decision] = list(router.telemetry.recent)
    recent.reverse()
    fallbacks = [d for d in recent if d.fallback is not None]
    analyzer = router.analyzer
    cache = None
    if isinstance(analyzer, CachedAnalyzer):
        cache = {"hits": analyzer.hits, "misses": analyzer.misses, "entries": len(analyzer)}
    reloads = router.reloads
    return {
        "version": __version__,
        "uptime_s": round(time.time() - router.started_at, 3),
        "analyzer": getattr(analyzer, "name", type(analyzer).__name__),
        "decision_cache": cache,
        "affinity": router.affinity.status()
        | ({"shared": router.affinity_share.status()} if router.affinity_share else {}),
        "routes": {task: list(config.route_for(task)) for task in config.tasks},
        "models": models,
        "replicas": replicas,
        "scores": report["scores"],
        "decisions": [d.to_dict() for d in recent[:decisions]],
        "fallbacks": [d.to_dict() for d in fallbacks[:decisions]],
        "reloads": {
            "ok": reloads.ok,
            "failed": reloads.failed,
            "last_at": reloads.last_at,
            "last_error": reloads.last_error,
        },
        "config_path": router.config_path,
        "shared_state": dataclasses.asdict(router.shared.status()),
        "limits": None if limiter is None else limits_status(limiter, config.auth, now),
        "config": redact_config(config),
    }


def history_report(router: Router, since: int = 0) -> bytes:
    """``GET /v1/router/history``: the samples newer than ``since`` (a ``seq`` from an earlier
    answer; 0 for all kept), oldest first, as JSON. Counts are per sample; divide by
    ``span_s`` for rates."""
    history = router.history
    head = orjson.dumps(
        {
            "interval_s": router.sampler.interval_s,
            "capacity": history.capacity,
            "seq": history.seq,
            "fields": dict(FIELDS),
        }
    )
    return head[:-1] + b',"samples":[' + b",".join(history.since(since)) + b"]}"


def _decisions_param(scope: Scope) -> int:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    try:
        n = int(query.get("decisions", [DEFAULT_DECISIONS])[0])
    except ValueError:
        n = DEFAULT_DECISIONS
    return max(0, min(n, MAX_DECISIONS))


def _since_param(scope: Scope) -> int:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    raw = query.get("since", ["0"])[0]
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise InvalidRequest(
            "since must be a sample number (seq) from an earlier answer, or 0", param="since"
        )
    return int(raw)


def install(app: App) -> None:
    """Serve the status JSON, the per-second history and the dashboard page."""

    router = app.router
    page = resources.files(__package__).joinpath("dashboard.html").read_bytes()
    page_headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"cache-control", b"no-cache"),
    ]

    def guard(scope: Scope) -> None:
        # With keys configured the fleet's details are for admins; without, as before.
        gate = app.gate()
        if gate.clients_enabled or gate.admins_enabled:
            authorize(scope, router.config.server.admin_token_env, gate)

    async def status(scope: Scope, receive: Receive) -> Response:
        guard(scope)
        return json_response(snapshot(router, _decisions_param(scope), app.limiter))

    async def history(scope: Scope, receive: Receive) -> Response:
        guard(scope)
        body = history_report(router, _since_param(scope))
        return Response(200, [(b"content-type", JSON_TYPE)], body)

    async def dashboard(scope: Scope, receive: Receive) -> Response:
        return Response(200, list(page_headers), page)

    app.add_route("/v1/router/status", "GET", status)
    app.add_route("/v1/router/history", "GET", history)
    app.add_route("/dashboard", "GET", dashboard)
