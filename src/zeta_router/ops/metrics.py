"""Prometheus metrics: plain counters filled off the response path, exported at scrape time.

The request path touches none of this. :class:`RequestStats` is fed by the telemetry drain task
(one ``observe`` per finished request: a few dict increments and bisects); live replica state
(breaker, in-flight, EWMA, scraped queue) is read straight from the fleet when Prometheus
scrapes. Nothing is registered in prometheus_client's global registry: each app gets its own
:class:`~prometheus_client.CollectorRegistry`, so two routers in one process never share series.

Label values are bounded: model and replica names come from the config, tasks from the config's
task list, reasons from the typed outcomes' labels (enum values), never request ids or text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from zeta_router import __version__
from zeta_router.analysis.cache import CachedAnalyzer
from zeta_router.fleet.breaker import BreakerState
from zeta_router.fleet.outcome import Health
from zeta_router.fleet.state import ReplicaState
from zeta_router.http.asgi import Receive, Scope
from zeta_router.http.response import Response
from zeta_router.http.server import App
from zeta_router.ops.limit_status import limit_metrics
from zeta_router.ops.reload import prune_drained
from zeta_router.ops.shared_metrics import gauge, shared_state_metrics
from zeta_router.ops.stats import Histogram, RequestStats
from zeta_router.router import Router
from zeta_router.routing.affinity_share import MERGE_BUCKETS, AffinityShare
from zeta_router.routing.limits import Limiter


class RouterCollector:
    """Reads the router's counters and live fleet state when Prometheus scrapes."""

    def __init__(self, router: Router, limiter: Limiter | None = None) -> None:
        self._router = router
        self._limiter = limiter

    def describe(self) -> Iterable[Metric]:
        # Nothing up front: series appear as the fleet and traffic do.
        return ()

    def collect(self) -> Iterator[Metric]:
        router = self._router
        router.telemetry.flush()
        yield from _request_metrics(router.telemetry.stats)
        yield from _replica_metrics(router)
        yield from _analysis_metrics(router)
        yield from _load_metrics(router)
        yield from shared_state_metrics(router.shared.status(), router.fleet.replicas.values())
        yield from _affinity_metrics(router)
        if self._limiter is not None:
            yield from limit_metrics(self._limiter, router.config.auth, router.clock())
        info = GaugeMetricFamily("zeta_build_info", "zeta-router build", labels=["version"])
        info.add_metric([__version__], 1.0)
        yield info
        reloads = CounterMetricFamily(
            "zeta_config_reloads", "Config reloads attempted, by result", labels=["result"]
        )
        reloads.add_metric(["ok"], router.reloads.ok)
        reloads.add_metric(["error"], router.reloads.failed)
        yield reloads


def _request_metrics(s: RequestStats) -> Iterator[Metric]:
    yield _counter(
        "zeta_requests",
        "Finished requests by serving model, task, HTTP status and endpoint",
        ["model", "task", "status", "endpoint"],
        s.requests.items(),
    )
    yield _histograms(
        "zeta_request_duration_seconds",
        "Request duration from routing to the last byte, by serving model",
        "model",
        s.duration,
    )
    yield _histograms(
        "zeta_time_to_first_byte_seconds",
        "Upstream time to first byte (first SSE event for streams), by serving model",
        "model",
        s.ttfb,
    )
    h = HistogramMetricFamily(
        "zeta_router_overhead_seconds",
        "Time the router itself spent on a request, upstream attempts excluded",
    )
    h.add_metric([], s.overhead.cumulative(), s.overhead.sum)
    yield h
    yield _histograms(
        "zeta_classification_confidence",
        "Analyzer confidence of the routed task (header-pinned tasks excluded)",
        "task",
        s.confidence,
    )
    yield _counter(
        "zeta_fallbacks",
        "Requests served by another model than the preferred one",
        ["from", "to", "reason"],
        s.fallbacks.items(),
    )
    yield _counter(
        "zeta_retries",
        "Upstream attempts after a request's first, by model",
        ["model"],
        s.retries.items(),
    )
    yield _counter(
        "zeta_upstream_failures",
        "Failed upstream attempts by model and reason",
        ["model", "reason"],
        s.attempt_failures.items(),
    )
    yield _counter(
        "zeta_request_faults",
        "Failed upstream attempts blamed on the request itself (relayed to the client, never "
        "counted against a breaker), by model and reason",
        ["model", "reason"],
        s.request_faults.items(),
    )
    yield _counter(
        "zeta_shed_requests",
        "Requests refused with 429 by admission, by preferred model",
        ["model"],
        s.shed.items(),
    )
    yield _counter(
        "zeta_stream_errors",
        "Streams that ended early after the first byte",
        ["model", "reason"],
        s.stream_errors.items(),
    )
    yield _counter(
        "zeta_breaker_transitions",
        "Circuit breaker state changes, by replica and the state entered",
        ["replica", "state"],
        s.breaker_transitions.items(),
    )


def _counter(
    name: str, doc: str, labels: list[str], counts: Iterable[tuple[str | tuple[str, ...], int]]
) -> Metric:
    """A counter family from (label value or label values, count) pairs."""
    c = CounterMetricFamily(name, doc, labels=labels)
    for key, n in counts:
        c.add_metric([key] if isinstance(key, str) else list(key), n)
    return c


def _histograms(name: str, doc: str, label: str, table: dict[str, Histogram]) -> Metric:
    h = HistogramMetricFamily(name, doc, labels=[label])
    for key, hist in table.items():
        h.add_metric([key], hist.cumulative(), hist.sum)
    return h


def _replica_metrics(router: Router) -> Iterator[Metric]:
    labels = ["model", "replica"]
    in_flight = GaugeMetricFamily("zeta_replica_in_flight", "Requests in flight", labels=labels)
    queue = GaugeMetricFamily(
        "zeta_replica_queue_depth", "Requests waiting in the backend (scraped)", labels=labels
    )
    ewma = GaugeMetricFamily(
        "zeta_replica_latency_ewma_seconds", "Peak-EWMA time to first byte", labels=labels
    )
    breaker = GaugeMetricFamily(
        "zeta_replica_breaker_state",
        "Circuit breaker state (1 for the current one)",
        labels=[*labels, "state"],
    )
    health = GaugeMetricFamily(
        "zeta_replica_health", "Replica health (1 for the current one)", labels=[*labels, "health"]
    )
    requests = CounterMetricFamily(
        "zeta_replica_requests", "Upstream attempts sent to the replica", labels=labels
    )
    failures = CounterMetricFamily(
        "zeta_replica_failures", "Upstream attempts that failed on the replica", labels=labels
    )
    prune_drained(router)
    live = router.fleet.replicas
    # A replaced replica (same id, new URL) may drain under its old id: one series per id.
    draining = [r for rid, r in router.draining.items() if rid not in live]
    replicas: list[ReplicaState] = [*live.values(), *draining]
    for r in replicas:
        key = [r.model, r.id]
        in_flight.add_metric(key, r.in_flight)
        queue.add_metric(key, r.scraped.waiting if r.scraped is not None else 0.0)
        ewma.add_metric(key, r.latency.value)
        for state in BreakerState:
            breaker.add_metric([*key, state.value], float(r.breaker.state is state))
        for h in Health:
            health.add_metric([*key, h.value], float(r.health is h))
        requests.add_metric(key, r.requests)
        failures.add_metric(key, r.failures)
    yield from (in_flight, queue, ewma, breaker, health, requests, failures)


def _load_metrics(router: Router) -> Iterator[Metric]:
    queue = GaugeMetricFamily(
        "zeta_admission_queue_depth", "Requests waiting in the router's queue", labels=["model"]
    )
    for name in router.config.models:
        queue.add_metric([name], router.admission.waiting(name))
    yield queue
    score = GaugeMetricFamily(
        "zeta_feedback_score",
        "Outcome and rating score per model and task",
        labels=["model", "task"],
    )
    for row in router.feedback.snapshot():
        score.add_metric([row["model"], row["task"]], row["score"])
    yield score


def _affinity_metrics(router: Router) -> Iterator[Metric]:
    yield _counter(
        "zeta_affinity_decisions",
        "Cache-affinity choices of served requests by model and outcome: session and prefix "
        "are affinity hits, load-bound the affine replica was over the load bound, none nothing "
        "was known",
        ["model", "outcome"],
        router.telemetry.stats.affinity.items(),
    )
    a = router.affinity
    blocks = GaugeMetricFamily(
        "zeta_affinity_index_blocks", "Prefix blocks in the affinity index", labels=["replica"]
    )
    for rid, n in a.index.sizes().items():
        blocks.add_metric([rid], n)
    yield blocks
    sessions = GaugeMetricFamily("zeta_affinity_sessions", "Client-named sessions remembered")
    sessions.add_metric([], len(a.sessions))
    yield sessions
    corrections = CounterMetricFamily(
        "zeta_affinity_corrections",
        "Backend cache reports that showed a replica no longer held an expected prefix",
    )
    corrections.add_metric([], a.corrections)
    yield corrections
    share = router.affinity_share
    if share is not None:
        yield from _affinity_share_metrics(share)


def _affinity_share_metrics(share: AffinityShare) -> Iterator[Metric]:
    """Affinity shared across instances (``state.backend: redis``): what was published and
    merged, how long merges take on the loop, how long since the last one."""
    yield gauge(
        "zeta_affinity_share_connected",
        "1 while affinity is published to and merged from other instances; 0 while Redis is "
        "unreachable (each instance keeps its own)",
        share.connected,
    )
    yield _counter(
        "zeta_affinity_share_batches",
        "Affinity batches published by this instance, or heard from others and merged",
        ["direction"],
        [("published", share.published), ("merged", share.merged_batches)],
    )
    merged = share.merged
    yield _counter(
        "zeta_affinity_share_records",
        "Affinity records (prompt heads routed, named sessions placed) published, merged from "
        "other instances, or dropped unpublished while Redis was down",
        ["direction", "kind"],
        [
            (("published", "prefix"), share.published_prefixes),
            (("published", "session"), share.published_sessions),
            (("merged", "prefix"), merged.prefixes),
            (("merged", "session"), merged.sessions),
            (("dropped", "any"), share.dropped),
        ],
    )
    blocks = CounterMetricFamily(
        "zeta_affinity_share_merged_blocks", "Prefix blocks merged from other instances"
    )
    blocks.add_metric([], merged.blocks)
    yield blocks
    times = Histogram(MERGE_BUCKETS)
    times.counts, times.sum = list(share.merge_counts), share.merge_seconds
    h = HistogramMetricFamily(
        "zeta_affinity_share_merge_seconds",
        "Time to decode and merge one batch from another instance (on the event loop)",
    )
    h.add_metric([], times.cumulative(), times.sum)
    yield h
    yield gauge(
        "zeta_affinity_share_last_merge_age_seconds",
        "Seconds since a batch from another instance was last merged (absent: never)",
        share.merge_age(),
    )


def _analysis_metrics(router: Router) -> Iterator[Metric]:
    analyzer = router.analyzer
    if isinstance(analyzer, CachedAnalyzer):
        c = CounterMetricFamily("zeta_decision_cache_hits", "Analyzer decision-cache hits")
        c.add_metric([], analyzer.hits)
        yield c
        c = CounterMetricFamily("zeta_decision_cache_misses", "Analyzer decision-cache misses")
        c.add_metric([], analyzer.misses)
        yield c
        g = GaugeMetricFamily("zeta_decision_cache_entries", "Analyzer decision-cache entries")
        g.add_metric([], len(analyzer))
        yield g


def install(app: App) -> None:
    """Serve ``GET /metrics`` from a registry owned by this app."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RouterCollector(app.router, app.limiter))
    headers = [(b"content-type", CONTENT_TYPE_LATEST.encode())]

    async def metrics(scope: Scope, receive: Receive) -> Response:
        return Response(200, list(headers), generate_latest(registry))

    app.add_route("/metrics", "GET", metrics)
