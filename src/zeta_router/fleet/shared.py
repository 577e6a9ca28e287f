"""The fleet view several gateway instances share, behind one small protocol.

Each instance keeps its own :class:`~zeta_router.fleet.state.ReplicaState` objects: decisions
read them and never wait for anything. A :class:`SharedState` is what makes those local objects
agree across instances:

- ``gated`` / ``acquire``: before a request goes to a replica with ``max_concurrency`` (or to
  one whose breaker is about to be probed), the one exact check that needs the whole fleet;
  every other piece of shared state arrives in the background;
- ``started`` / ``released``: the local in-flight count changed;
- ``status``: whether the sharing works, for /status, /metrics and the log.

:class:`MemoryState` is the embedded default, one instance alone: it shares nothing and costs a
method call. The Redis implementation is :mod:`zeta_router.fleet.redis_state`;
:mod:`zeta_router.fleet.backends` builds the one the config asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from zeta_router.fleet.resp import Arg, Reply
from zeta_router.fleet.state import Fleet, ReplicaState


@dataclass(frozen=True, slots=True)
class SharedStatus:
    """What /status and /metrics say about the sharing."""

    backend: str
    #: False while the instance runs on local state alone (Redis down or too slow).
    connected: bool
    #: Why not, when not connected ("" otherwise).
    detail: str = ""
    #: This instance's id in the shared state ("" for memory).
    instance: str = ""
    #: Live instances seen at the last sync, this one included.
    instances: int = 1
    #: Times the instance fell back to local state, and requests served meanwhile
    #: without the fleet-wide check.
    outages: int = 0
    failed_open: int = 0
    #: Exact checks made and refused (a replica full fleet-wide, or probed by another).
    acquires: int = 0
    refused: int = 0


class Scores(Protocol):
    """The feedback scores' side of the sharing (:class:`~zeta_router.routing.feedback.Feedback`
    is one): this instance's offsets from neutral out, the others' summed offsets in."""

    def local_offsets(self) -> list[tuple[str, str, float]]: ...

    def set_remote(self, offsets: dict[tuple[str, str], float]) -> None: ...


class SharedChannel(Protocol):
    """The seam for what other features share across instances (the prefix-affinity index,
    rate-limit counters): Redis commands under the feature's own keys, with the fleet state's
    bounds and its fail-open circuit. ``available`` is False while Redis is down: the feature
    runs on its local implementation meanwhile (never waits, never errors). ``call`` is bounded
    by ``state.timeout_ms`` and raises :class:`~zeta_router.fleet.resp.RedisUnavailable`
    (after which ``available`` is False for ``state.retry_s``); ``send`` is not awaited;
    ``publish``/``subscribe`` carry messages between the instances of one fleet."""

    @property
    def available(self) -> bool: ...

    def key(self, suffix: str) -> str: ...

    async def call(self, *args: Arg) -> Reply: ...

    def send(self, *args: Arg) -> None: ...

    def publish(self, message: bytes) -> None: ...

    def subscribe(self, handler: Callable[[bytes], None]) -> None: ...


class SharedState(Protocol):
    def gated(self, replica: ReplicaState) -> bool:
        """Whether a request must ``acquire`` this replica before it is sent. Free of I/O."""
        ...

    async def acquire(self, replica: ReplicaState) -> bool:
        """The fleet-wide check for one request: a slot under ``max_concurrency`` and, when
        its breaker is due for a probe, the probe lease. False: another instance holds the
        slot (the replica now reads as full or open locally, so the caller looks again).
        Bounded in time: past ``state.timeout_ms`` it fails open on local state."""
        ...

    def started(self, replica: ReplicaState) -> None:
        """A request was sent to ``replica`` (its local in-flight count went up)."""
        ...

    def released(self, replica: ReplicaState) -> None:
        """A request sent to ``replica`` ended (its local in-flight count went down)."""
        ...

    def channel(self, name: str) -> SharedChannel | None:
        """The shared channel of feature ``name`` (None: nothing is shared, use local state)."""
        ...

    def status(self) -> SharedStatus: ...

    async def start(self, fleet: Fleet, scores: Scores) -> None: ...

    async def close(self) -> None: ...


class MemoryState:
    """One instance alone: nothing is shared, nothing waits."""

    def gated(self, replica: ReplicaState) -> bool:
        return False

    async def acquire(self, replica: ReplicaState) -> bool:
        return True

    def started(self, replica: ReplicaState) -> None:
        pass

    def released(self, replica: ReplicaState) -> None:
        pass

    def channel(self, name: str) -> SharedChannel | None:
        return None

    def status(self) -> SharedStatus:
        return SharedStatus(backend="memory", connected=True)

    async def start(self, fleet: Fleet, scores: Scores) -> None:
        pass

    async def close(self) -> None:
        pass
