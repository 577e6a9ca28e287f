"""A managed process's state, mirrored into its replica: a replica is routable only while its
process is ready; meanwhile the normal fallback path serves its requests."""

from __future__ import annotations

from enum import StrEnum

from zeta_router.fleet.outcome import Ejected, Health, Ready, Unready
from zeta_router.fleet.state import ReplicaState


class ProcessState(StrEnum):
    """Where a managed server's process is in its life."""

    STARTING = "starting"
    READY = "ready"
    EXITED = "exited"
    RESTARTING = "restarting"
    #: Given up after ``launch.max_restarts`` restarts in a row.
    FAILED = "failed"
    STOPPED = "stopped"


def mirror_process_state(
    replica: ReplicaState, state: ProcessState, now: float, last_exit: str | None
) -> None:
    if state is ProcessState.READY:
        # A new process: what was measured of the old one (failure penalties included)
        # says nothing about it.
        replica.record(Ready(now, new_process=True))
        return
    if state is ProcessState.EXITED and replica.health is Health.READY:
        # It died while serving: a crash, not a slow start. Eject it for longer each time,
        # so a server that crashes on every request stops getting its share back.
        replica.record(Ejected(now, f"process died while serving ({last_exit or 'exited'})"))
    starting = state in (ProcessState.STARTING, ProcessState.RESTARTING)
    health = Health.STARTING if starting else Health.EXITED
    replica.record(Unready(now, health, f"process {state}"))
