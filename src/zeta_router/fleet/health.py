"""Active health probes: one small GET per replica on an interval, off the request path.

Passive signals (the breaker) only learn about a replica from the requests sent to it; a probe
also catches a replica that is loading its model, one that died while idle, and the moment a
dead one comes back. What a probe asks depends on the server:

- llama.cpp, vLLM, SGLang: ``GET /health`` at the server root (llama.cpp answers 503 "Loading
  model" until the weights are in memory);
- Ollama: ``GET /`` ("Ollama is running");
- any other OpenAI-compatible server: ``GET {url}/models``;
- ``auto`` tries ``/health`` and falls back to ``/models`` for good once ``/health`` is missing.

A replica that probes healthy after being down or loading re-enters with a clean breaker and a
fresh ``ready_since`` so the balancer's slow start ramps its share up; but one that went down,
or started loading again, after it had been ready (it crashed, or was restarted) is ejected and
re-enters on probation, through half-open probes once its ejection ends, so a server that
crashes on every request settles as ejected. Probes never touch
replicas whose process the supervisor is starting, ones a reload is draining, nor models with
``health: none`` (their health is whatever the supervisor or the request path says).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import Enum

from zeta_router.config import Config, HealthKind
from zeta_router.errors import UpstreamError
from zeta_router.fleet.outcome import Ejected, Health, Ready, Unready
from zeta_router.fleet.periodic import Clock, FleetRounds, Getter, Sleep
from zeta_router.fleet.state import Fleet, ReplicaState

log = logging.getLogger("zeta_router.health")

#: States owned by someone else (the process supervisor, a reload).
_NOT_OURS = frozenset({Health.STARTING, Health.EXITED, Health.DRAINING})
#: States only a probe moves a replica out of.
_PROBED_BACK = frozenset({Health.DOWN, Health.LOADING})
#: Answers that mean "no such path here", so ``auto`` moves on to ``/models``.
_MISSING = frozenset({404, 405, 501})


class Verdict(Enum):
    READY = "ready"
    LOADING = "loading"
    FAILED = "failed"
    #: ``auto`` only: the server has no /health; ask /models instead.
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class ProbeResult:
    verdict: Verdict
    detail: str = ""


def server_root(url: str) -> str:
    """The server's root for ``/health`` and Ollama's ``/``: the replica URL without ``/v1``."""
    return url[: -len("/v1")] if url.endswith("/v1") else url


def probe_url(kind: HealthKind, base_url: str) -> str | None:
    if kind == "none":
        return None
    if kind == "openai":
        return base_url + "/models"
    if kind == "ollama":
        return server_root(base_url) + "/"
    return server_root(base_url) + "/health"


def judge(status: int, body: bytes, *, auto: bool) -> ProbeResult:
    if 200 <= status < 300:
        return ProbeResult(Verdict.READY)
    if status == 503 and b"loading" in body.lower():
        return ProbeResult(Verdict.LOADING, "model loading")
    if auto and status in _MISSING:
        return ProbeResult(Verdict.MISSING, f"HTTP {status}")
    if status in (401, 403):
        # The server is up and answering; only our unauthenticated probe is refused. Whether
        # the configured key works is the request path's business.
        return ProbeResult(Verdict.READY)
    return ProbeResult(Verdict.FAILED, f"HTTP {status}")


class _ProbeState:
    __slots__ = ("failures", "kind")

    def __init__(self, kind: HealthKind) -> None:
        self.kind: HealthKind = kind
        self.failures = 0


class HealthProber(FleetRounds):
    """Probes every replica of a fleet; ``probe_once`` is one round, ``start`` runs rounds on an
    interval in a background task. Tests call ``probe_once`` directly with a fake clock."""

    def __init__(
        self,
        config: Config,
        fleet: Fleet,
        get: Getter,
        *,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(
            "health probes", lambda h: h.interval_s, log, config, fleet, get, clock, sleep
        )
        self._state: dict[str, _ProbeState] = {
            r.id: _ProbeState(fleet.models[r.model].config.health) for r in fleet.replicas.values()
        }
        #: When the running probe loop starts its next round.
        self.next_round_at: float | None = None

    async def _round(self) -> None:
        await self.probe_once()
        self.next_round_at = self._clock() + self._settings.interval_s

    def retry_at(self, replica: ReplicaState, now: float) -> float:
        """Earliest time the replica may serve again: a down or loading one only comes back
        through a probe, so not before the next round (for Retry-After on a 503)."""
        at = replica.retry_at(now)
        if replica.health in _PROBED_BACK and self.running and self.next_round_at is not None:
            at = max(at, self.next_round_at)
        return at

    async def probe_once(self) -> None:
        """Probe every replica once, concurrently, and apply the verdicts."""
        replicas = [
            r
            for r in self._fleet.replicas.values()
            if r.health not in _NOT_OURS and self._probe_state(r).kind != "none"
        ]
        await asyncio.gather(*(self._probe(r) for r in replicas))
        self.rounds += 1

    async def check(self, replica: ReplicaState) -> ProbeResult:
        """Ask the replica once; no state changes (besides learning that /health is absent)."""
        st = self._probe_state(replica)
        url = probe_url(st.kind, replica.base_url)
        if url is None:
            return ProbeResult(Verdict.READY)
        result = await self._ask(url, auto=st.kind == "auto")
        if result.verdict is Verdict.MISSING:
            st.kind = "openai"
            result = await self._ask(replica.base_url + "/models", auto=False)
        return result

    def _probe_state(self, replica: ReplicaState) -> _ProbeState:
        st = self._state.get(replica.id)
        if st is None:
            # A replica added by a reload after this prober was built.
            model = self._fleet.models.get(replica.model)
            st = _ProbeState(model.config.health if model is not None else "auto")
            self._state[replica.id] = st
        return st

    async def _ask(self, url: str, *, auto: bool) -> ProbeResult:
        try:
            status, body = await self._get(url, self._settings.timeout_s)
        except UpstreamError as err:
            return ProbeResult(Verdict.FAILED, err.reason)
        return judge(status, body, auto=auto)

    async def _probe(self, replica: ReplicaState) -> None:
        result = await self.check(replica)
        if replica.health in _NOT_OURS:
            return  # changed hands while we were asking
        self.apply(replica, result)

    def apply(self, replica: ReplicaState, result: ProbeResult) -> None:
        st = self._probe_state(replica)
        now = self._clock()
        if result.verdict is Verdict.READY:
            st.failures = 0
            previous = replica.health
            if previous is Health.READY:
                return
            # Back from down or loading: forget the failures of the outage (unless its
            # process crashed: then it is on probation) and ramp up.
            replica.record(Ready(now, first=previous is Health.UNKNOWN))
            if previous is not Health.UNKNOWN:
                log.info("replica %s is ready again (was %s)", replica.id, previous.value)
            return
        if result.verdict is Verdict.LOADING:
            # Definitive: the server itself says it cannot serve yet.
            st.failures = 0
            if replica.health is Health.READY:
                # A server that served and now loads its model again was restarted: it died,
                # as far as the router can tell, and comes back on probation.
                replica.record(Ejected(now, "server restarted while serving (loading again)"))
            replica.record(Unready(now, Health.LOADING, "model loading"))
            return
        st.failures += 1
        if st.failures >= self._settings.unhealthy_after and replica.health is not Health.DOWN:
            if replica.health is Health.READY:
                replica.record(Ejected(now, f"down while serving: {result.detail}"))
            replica.record(Unready(now, Health.DOWN, f"health probe failed: {result.detail}"))
            log.warning("replica %s is down: %s", replica.id, result.detail)
