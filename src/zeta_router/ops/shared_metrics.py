"""Prometheus series of the shared fleet state (``state.backend``): whether this instance is
on Redis or balancing on local state, how often it fell back, and what the fleet-wide checks
refused. Read from :class:`~zeta_router.fleet.shared.SharedStatus` at scrape time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from zeta_router.fleet.shared import SharedStatus
from zeta_router.fleet.state import ReplicaState


def gauge(name: str, doc: str, value: float | None) -> GaugeMetricFamily:
    """A gauge of one unlabelled sample (none while ``value`` is None)."""
    g = GaugeMetricFamily(name, doc)
    if value is not None:
        g.add_metric([], float(value))
    return g


def shared_state_metrics(st: SharedStatus, replicas: Iterable[ReplicaState]) -> Iterator[Metric]:
    labels = ["backend"]
    up = GaugeMetricFamily(
        "zeta_shared_state_connected",
        "1 while the fleet view is shared (memory: always); 0 while balancing on local state",
        labels=labels,
    )
    up.add_metric([st.backend], float(st.connected))
    yield up
    instances = GaugeMetricFamily(
        "zeta_shared_state_instances", "Gateway instances seen at the last sync", labels=labels
    )
    instances.add_metric([st.backend], float(st.instances))
    yield instances
    for name, doc, value in (
        ("outages", "Times the shared state became unreachable", st.outages),
        (
            "failed_open",
            "Requests sent without their fleet-wide check (Redis too slow)",
            st.failed_open,
        ),
        ("acquires", "Fleet-wide checks made on the request path", st.acquires),
        (
            "refused",
            "Fleet-wide checks refused (replica full, or probed by another instance)",
            st.refused,
        ),
    ):
        c = CounterMetricFamily(f"zeta_shared_state_{name}", doc, labels=labels)
        c.add_metric([st.backend], value)
        yield c
    remote = GaugeMetricFamily(
        "zeta_replica_remote_in_flight",
        "Requests other gateway instances have in flight on the replica (last sync)",
        labels=["model", "replica"],
    )
    for r in replicas:
        remote.add_metric([r.model, r.id], r.remote_in_flight)
    yield remote
