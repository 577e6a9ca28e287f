"""Background scraping of what each backend reports about its own load, off the request path.

Our in-flight count only sees our own requests; a backend shared with other clients, or one
that batches internally, knows better. Where the server exposes it we read:

- vLLM ``/metrics``: ``vllm:num_requests_waiting``, ``vllm:num_requests_running`` and
  ``vllm:kv_cache_usage_perc`` (older releases: ``vllm:gpu_cache_usage_perc``);
- llama.cpp ``/metrics`` (needs ``--metrics``): ``llamacpp:requests_deferred`` and
  ``llamacpp:requests_processing``; without it, ``/slots`` (busy slots out of all slots);
- SGLang ``/metrics``: ``sglang:num_queue_reqs``, ``sglang:num_running_reqs``,
  ``sglang:token_usage``.

Ollama and plain OpenAI-compatible servers report nothing; their replicas keep
``scraped = None`` and the router's own counters serve. A server that answers 404/501 is asked
again only after a while. A scrape that fails leaves the last figures in place so they go stale,
and stale figures count as saturated (see :func:`is_stale`): a backend too busy to answer its
metrics endpoint is not one to send more work to.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Collection, Mapping

import orjson

from zeta_router.config import Config, HealthKind
from zeta_router.errors import UpstreamError
from zeta_router.fleet.periodic import Clock, FleetRounds, Getter, Sleep
from zeta_router.fleet.state import Fleet, ReplicaState, ScrapedLoad

log = logging.getLogger("zeta_router.scrape")

VLLM_WAITING = "vllm:num_requests_waiting"
VLLM_RUNNING = "vllm:num_requests_running"
VLLM_KV = "vllm:kv_cache_usage_perc"
VLLM_KV_OLD = "vllm:gpu_cache_usage_perc"
LLAMACPP_DEFERRED = "llamacpp:requests_deferred"
LLAMACPP_PROCESSING = "llamacpp:requests_processing"
SGLANG_QUEUE = "sglang:num_queue_reqs"
SGLANG_RUNNING = "sglang:num_running_reqs"
SGLANG_TOKEN_USAGE = "sglang:token_usage"

#: Counts add up across label sets (one per served model); usage ratios take the highest.
SUMMED = frozenset(
    {
        VLLM_WAITING,
        VLLM_RUNNING,
        LLAMACPP_DEFERRED,
        LLAMACPP_PROCESSING,
        SGLANG_QUEUE,
        SGLANG_RUNNING,
    }
)
MAXED = frozenset({VLLM_KV, VLLM_KV_OLD, SGLANG_TOKEN_USAGE})
WANTED = SUMMED | MAXED

#: Model health kinds whose servers expose no load metrics.
_NO_METRICS: frozenset[HealthKind] = frozenset({"ollama", "openai", "none"})
_MISSING = frozenset({404, 405, 501})
#: A server without metrics is asked again after this long (it may have been restarted with
#: ``--metrics``).
RECHECK_S = 300.0


def parse_metrics(
    text: str, wanted: Collection[str] = WANTED, maxed: Collection[str] = MAXED
) -> dict[str, float]:
    """The wanted samples of a Prometheus text exposition, summed over label sets (``maxed``
    names keep the highest). Minimal on purpose: only the names we read are converted, so a
    vLLM page of a few hundred lines parses in tens of microseconds."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        brace = line.find("{")
        space = line.find(" ")
        if brace != -1 and (space == -1 or brace < space):
            name = line[:brace]
            if name not in wanted:
                continue
            # Label values may hold spaces; the value follows the last closing brace.
            rest = line[line.rfind("}") + 1 :].split()
        else:
            name = line[:space] if space != -1 else line
            if name not in wanted:
                continue
            rest = line[space + 1 :].split() if space != -1 else []
        if not rest:
            continue
        try:
            value = float(rest[0])
        except ValueError:
            continue
        if math.isnan(value):
            continue
        if name in out:
            out[name] = max(out[name], value) if name in maxed else out[name] + value
        else:
            out[name] = value
    return out


def load_from_samples(samples: Mapping[str, float], now: float) -> ScrapedLoad | None:
    """Map whichever server's names are present onto one :class:`ScrapedLoad`."""
    if VLLM_WAITING in samples or VLLM_RUNNING in samples:
        kv = samples.get(VLLM_KV, samples.get(VLLM_KV_OLD))
        return ScrapedLoad(samples.get(VLLM_WAITING, 0.0), samples.get(VLLM_RUNNING, 0.0), kv, now)
    if LLAMACPP_DEFERRED in samples or LLAMACPP_PROCESSING in samples:
        return ScrapedLoad(
            samples.get(LLAMACPP_DEFERRED, 0.0), samples.get(LLAMACPP_PROCESSING, 0.0), None, now
        )
    if SGLANG_QUEUE in samples:
        return ScrapedLoad(
            samples[SGLANG_QUEUE],
            samples.get(SGLANG_RUNNING, 0.0),
            samples.get(SGLANG_TOKEN_USAGE),
            now,
        )
    return None


def load_from_slots(body: bytes, now: float) -> ScrapedLoad | None:
    """llama.cpp's ``/slots``: busy slots are running; when all are busy the slot usage counts
    as full so the replica reads as saturated."""
    try:
        slots = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(slots, list) or not slots:
        return None
    busy = 0
    for s in slots:
        if not isinstance(s, dict):
            return None
        # Newer builds say is_processing; older ones a numeric state (0 idle).
        if s.get("is_processing") or s.get("state", 0) not in (0, None):
            busy += 1
    return ScrapedLoad(0.0, float(busy), busy / len(slots), now)


def is_stale(load: ScrapedLoad, now: float, stale_after_s: float) -> bool:
    return now - load.at > stale_after_s


def metrics_url(base_url: str) -> str:
    root = base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url
    return root + "/metrics"


def slots_url(base_url: str) -> str:
    return metrics_url(base_url)[: -len("/metrics")] + "/slots"


class Scraper(FleetRounds):
    """Scrapes every replica that may report load. ``scrape_once`` is one round (tests call it
    with a fake clock); ``start`` runs rounds every ``health.scrape_interval_s``."""

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
            "metric scrapes", lambda h: h.scrape_interval_s, log, config, fleet, get, clock, sleep
        )
        #: Replica id -> when to ask again, for servers that said they have no metrics.
        self._quiet_until: dict[str, float] = {}
        #: Replica id -> True once /metrics was missing and /slots answered instead.
        self._use_slots: dict[str, bool] = {}

    async def _round(self) -> None:
        await self.scrape_once()

    def targets(self, now: float) -> list[ReplicaState]:
        out = []
        for r in self._fleet.replicas.values():
            if self._fleet.models[r.model].config.health in _NO_METRICS:
                continue
            if now < self._quiet_until.get(r.id, 0.0):
                continue
            out.append(r)
        return out

    async def scrape_once(self) -> None:
        now = self._clock()
        targets = self.targets(now)
        if targets:
            await asyncio.gather(*(self._scrape(r) for r in targets))
        self.rounds += 1

    async def _scrape(self, r: ReplicaState) -> None:
        timeout = self._settings.timeout_s
        try:
            if self._use_slots.get(r.id):
                status, body = await self._get(slots_url(r.base_url), timeout)
                load = load_from_slots(body, self._clock()) if status == 200 else None
            else:
                status, body = await self._get(metrics_url(r.base_url), timeout)
                load = None
                if status == 200:
                    samples = parse_metrics(body.decode("utf-8", "replace"))
                    load = load_from_samples(samples, self._clock())
                elif status in _MISSING and await self._try_slots(r):
                    return
        except UpstreamError:
            # Keep the last figures: they go stale and the replica reads as saturated.
            return
        if load is not None:
            r.scraped = load
        elif status in _MISSING or status == 200:
            # Answered, but nothing we can read: the router's own counters serve.
            r.scraped = None
            self._quiet_until[r.id] = self._clock() + RECHECK_S
            self._use_slots.pop(r.id, None)

    async def _try_slots(self, r: ReplicaState) -> bool:
        status, body = await self._get(slots_url(r.base_url), self._settings.timeout_s)
        load = load_from_slots(body, self._clock()) if status == 200 else None
        if load is None:
            return False
        self._use_slots[r.id] = True
        r.scraped = load
        return True
