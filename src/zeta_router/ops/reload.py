"""Config reload without downtime: validate, build, then swap.

Everything that can fail (parsing, validation, building an analyzer or a balancing strategy) runs
before any live state changes, so a bad config leaves the router exactly as it was. The swap then:

- keeps the live :class:`~zeta_router.fleet.state.ReplicaState` (breaker, EWMA, in-flight,
  counters) of every replica whose id and URL stay, updating what the config says about it
  (weight, key, upstream model name, max_concurrency);
- drains replicas that go: they leave the fleet, so no new request picks them, and are marked
  ``draining`` while their in-flight requests finish (still shown in status and metrics);
- builds the next :class:`~zeta_router.routing.engine.Engine`, reusing the analyzer, strategy
  and retry budget when their settings did not change (a reload that touches one model keeps
  the decision cache warm), and hands it to :meth:`Router.swap
  <zeta_router.router.Router.swap>`, the one place the router's parts are replaced;
- mutates the :class:`~zeta_router.fleet.state.Fleet` in place, so background tasks holding it
  (health probes, scrapes) see the new replicas on their next round.

Triggered by ``POST /v1/router/reload`` (admin) and by SIGHUP (see
:mod:`zeta_router.ops.lifecycle`).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
import time
from dataclasses import dataclass

from zeta_router.config import Config, load_config, parse_config, read_yaml
from zeta_router.errors import ConfigError, InvalidRequest, Unauthorized, Unprocessable
from zeta_router.fleet.state import Fleet, ReplicaState
from zeta_router.http.asgi import Receive, Scope, json_response, read_body
from zeta_router.http.auth import Gate
from zeta_router.http.response import Response
from zeta_router.http.server import App
from zeta_router.ops.reload_log import ReloadResult
from zeta_router.router import Router
from zeta_router.routing.engine import Engine, build_engine
from zeta_router.routing.engine import rebuilt as rebuilt_parts

log = logging.getLogger("zeta_router.reload")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated config and the engine built from it, ready to swap in."""

    config: Config
    engine: Engine


def prepare(router: Router, new: Config) -> Prepared:
    """Build what the new config needs without touching the router; raises ConfigError."""
    live = router.engine
    engine = build_engine(
        new,
        clock=router.clock,
        transport=live.transport,
        admission=live.admission,
        # The router's own (injectable) rng keeps seeded tests deterministic.
        rng=live.rng,
        prev=live,
    )
    return Prepared(new, engine)


def commit(router: Router, prep: Prepared) -> ReloadResult:
    """Swap the prepared config in. Runs on the event loop; never fails half-way."""
    old, new = router.config, prep.config
    now = router.clock()
    fleet = router.fleet
    fresh = Fleet(new, subscribers=fleet.subscribers, watchers=fleet.watchers)
    added: list[str] = []
    kept: list[str] = []
    survivors: set[int] = set()
    for ms in fresh.models.values():
        states: list[ReplicaState] = []
        for st in ms.replicas:
            prev = fleet.replicas.get(st.id) or router.draining.get(st.id)
            if prev is None or prev.base_url != st.base_url:
                added.append(st.id)
                states.append(st)
                continue
            if router.draining.get(st.id) is prev:
                del router.draining[st.id]
            prev.adopt(st, old, new)
            survivors.add(id(prev))
            kept.append(st.id)
            states.append(prev)
        ms.replicas = tuple(states)
    removed = [r for r in fleet.replicas.values() if id(r) not in survivors]
    for r in removed:
        r.drain()
        router.draining[r.id] = r
    # A request planned under the old config may still walk to a model this reload removes:
    # it finds the model with only draining replicas and moves on, rather than failing.
    retired = router.reloads.retired
    gone = {id(r) for r in removed}
    kept_models = {}
    for name, ms in fleet.models.items():
        if name not in fresh.models:
            retired.setdefault(name, now)
            ms.replicas = tuple(
                r for r in ms.replicas if id(r) in gone or router.draining.get(r.id) is r
            )
            kept_models[name] = ms
    for name in fresh.models:
        retired.pop(name, None)
    fleet.models.clear()
    fleet.models.update(fresh.models)
    fleet.models.update(kept_models)
    fleet.replicas.clear()
    for ms in fleet.models.values():
        for st in ms.replicas:
            fleet.replicas[st.id] = st
    prune_drained(router)

    rebuilt = rebuilt_parts(router.engine, prep.engine)
    rebuilt += router.swap(prep.engine)
    router.reloads.ok += 1
    router.reloads.last_at = time.time()
    router.reloads.last_error = None
    result = ReloadResult(tuple(added), tuple(r.id for r in removed), tuple(kept), tuple(rebuilt))
    log.info(
        "config reloaded at %.3f: %d kept, %d added, %d draining%s",
        now,
        len(kept),
        len(added),
        len(removed),
        f"; rebuilt {', '.join(rebuilt)}" if rebuilt else "",
    )
    return result


def prune_drained(router: Router) -> None:
    """Forget drained replicas once their last request has finished, and removed models once
    no request planned before their removal can still be running."""
    for rid in [rid for rid, r in router.draining.items() if r.in_flight <= 0]:
        del router.draining[rid]
    retired = router.reloads.retired
    if not retired:
        return
    now = router.clock()
    grace = router.config.timeouts.total_s
    models = router.fleet.models
    for name, at in list(retired.items()):
        ms = models.get(name)
        if ms is None or (now - at >= grace and all(r.in_flight <= 0 for r in ms.replicas)):
            models.pop(name, None)
            del retired[name]


def reload(router: Router, new: Config) -> ReloadResult:
    """Swap in a new config, keeping live replica state; raises ConfigError and keeps the
    running config when the new one cannot be built."""
    try:
        prep = prepare(router, new)
    except ConfigError as exc:
        _failed(router, str(exc))
        raise
    return commit(router, prep)


def _failed(router: Router, message: str) -> None:
    router.reloads.failed += 1
    router.reloads.last_error = message
    log.error("config reload failed, keeping the running config: %s", message)


def _parse_body(raw: bytes) -> Config:
    return parse_config(read_yaml(raw, "request body"), "request body")


async def reload_from(router: Router, body: bytes | None) -> ReloadResult:
    """Reload from a config document, or (``body`` empty) by re-reading the config file.

    Parsing and building run in a worker thread (a semantic analyzer may take a while to load);
    only the swap runs on the event loop."""
    try:
        if body and body.strip():
            new = await asyncio.to_thread(_parse_body, body)
        elif router.config_path is not None:
            new = await asyncio.to_thread(load_config, router.config_path)
        else:
            raise ConfigError("no config file to re-read: send the new config as the body")
        prep = await asyncio.to_thread(prepare, router, new)
    except ConfigError as exc:
        _failed(router, str(exc))
        raise
    old_health = router.config.health
    result = commit(router, prep)
    if new.health != old_health and router.telemetry.running:
        await router.restart_background()
    return result


# -- the admin endpoint ------------------------------------------------------------------------


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def authorize(scope: Scope, token_env: str | None, gate: Gate | None = None) -> None:
    """Admin access: an admin key when ``auth.admin_keys`` are set (never a client key), else
    a bearer token from ``server.admin_token_env``, else loopback."""
    if gate is not None and gate.admins_enabled:
        gate.admin(scope)
        return
    token = os.environ.get(token_env) if token_env else None
    if token:
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                given = value
                break
        if hmac.compare_digest(given, b"Bearer " + token.encode()):
            return
        raise Unauthorized("This admin endpoint needs 'Authorization: Bearer <admin token>'")
    client = scope.get("client")
    if _is_loopback(client[0] if client else None):
        return
    raise Unauthorized(
        "Admin endpoints accept only loopback clients unless server.admin_token_env names a token"
    )


def install(app: App) -> None:

    router = app.router

    async def reload_endpoint(scope: Scope, receive: Receive) -> Response:
        authorize(scope, router.config.server.admin_token_env, app.gate())
        raw = await read_body(scope, receive, router.config.server.max_body_bytes)
        try:
            result = await reload_from(router, raw)
        except ConfigError as exc:
            if not raw.strip() and router.config_path is None:
                raise InvalidRequest(str(exc)) from None
            raise Unprocessable(f"Config not reloaded, the running one is kept: {exc}") from None
        return json_response(result.to_dict())

    app.add_route("/v1/router/reload", "POST", reload_endpoint)
