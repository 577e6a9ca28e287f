"""Whose fault a failed request is: a replica's, or the request's own.

Most answers tell by themselves (``errors.BLAME``): a refused connection is the replica's fault,
a 400 the request's. A 5xx or a 404 does not: llama-cpp-python answers 500 to a request its
schema refuses, while a broken replica answers 500 to everything. Such a failure is *held*: it
neither counts against the replica's breaker nor is relayed, and the next replica decides.

- Another replica serves the request: it was servable, so each held failure counts against its
  replica (a replica that fails everything is ejected within its breaker settings).
- Another replica fails it the same way (same kind and status), or either answer's body is a
  validation error: the request is at fault. The client gets the upstream's error after two
  attempts, and no breaker hears of it. A failure that differs from the validation error beside
  it (a generic 500 next to it) is not explained by the request and counts.
- A bare 5xx or 404 says nothing of the request by itself: it is blamed on the request only on
  a replica that may be serving others (:meth:`Verdict._serving_others`): no failure counted
  since its last success, and fewer than two bare failures blamed on requests in a row.
  Otherwise the replica is failing everything and its failures count: a model whose replicas
  all start answering 500 at once costs at most two clients a relayed 500, then the router
  falls back. A validation error is blamed on the request wherever no other replica serves it:
  a server that refuses everything the router sends it that way is not helped by an ejection.

The walk ends without a verdict (no other replica left, retry budget, deadline): a held
validation error is relayed, anything else counts and the router answers as it would have.
"""

from __future__ import annotations

from dataclasses import dataclass

from zeta_router.config import BreakerSettings
from zeta_router.errors import Blame, FailureKind, UpstreamError
from zeta_router.fleet.outcome import Failed
from zeta_router.fleet.state import ReplicaState
from zeta_router.routing.decision import Decision

#: Requests blamed in a row (with no success between) after which a replica's bare 5xx or 404
#: counts again. Low: a bare 500 is weak evidence against a request, and two replicas that
#: broke at once would otherwise keep failing clients instead of being ejected.
_BARE_FAULTS_IN_A_ROW = 2


@dataclass(frozen=True, slots=True)
class Fault:
    """An upstream failure the request is to blame for, and the replica that answered it."""

    replica: ReplicaState
    error: UpstreamError


def _same(a: UpstreamError, b: UpstreamError) -> bool:
    return a.kind is b.kind and a.status == b.status


class Verdict:
    """The attribution of one request's failed attempts; lives as long as the request's walk."""

    __slots__ = ("_d", "_held", "_settings")

    def __init__(self, d: Decision, settings: BreakerSettings) -> None:
        self._d = d
        self._settings = settings
        self._held: list[Fault] = []

    def failed(self, replica: ReplicaState, err: UpstreamError, now: float) -> Fault | None:
        """Account one failed attempt (already recorded by ``relay.failed``). Returns the
        failure to answer the client with when the request is at fault, else None."""
        blame = err.blame
        if blame is Blame.REQUEST:
            return Fault(replica, err)
        if blame is Blame.REPLICA:
            return None
        fault = Fault(replica, err)
        if not self._held:
            self._held.append(fault)
            return None
        first = self._held[0]
        self._held.clear()
        pair = (first, fault)
        validation = [f for f in pair if f.error.kind is FailureKind.REQUEST_REJECTED]
        same = _same(first.error, err)
        if not (same or validation):
            for f in pair:
                self._count(f, now)
            return None
        explained = pair if same else tuple(validation)
        if not all(self._serving_others(f, now) for f in explained):
            for f in pair:
                self._count(f, now)
            return None
        for f in pair:
            if any(f is e for e in explained):
                self._excuse(f)
            else:
                self._count(f, now)
        return validation[0] if validation else first

    def served(self, now: float) -> None:
        """Another replica answered the request: the held failures were their replicas'."""
        for f in self._held:
            self._count(f, now)
        self._held.clear()

    def exhausted(self, now: float) -> Fault | None:
        """The walk ended with no answer and no verdict. A held validation error (its body says
        the request is invalid) is relayed; any other held failure counts."""
        held, self._held = self._held, []
        for f in held:
            if f.error.kind is FailureKind.REQUEST_REJECTED and self._serving_others(f, now):
                self._excuse(f)
                return f
            self._count(f, now)
        return None

    # -- outcomes ------------------------------------------------------------------------------

    def _serving_others(self, f: Fault, now: float) -> bool:
        """Whether ``f``'s replica may be serving other requests, so that a failure of this one
        may be the request's. A validation error says so by itself. A bare 5xx or 404 does not:
        only from a replica with no failure counted since its last success and fewer than
        ``_BARE_FAULTS_IN_A_ROW`` requests blamed in a row."""
        if f.error.kind is FailureKind.REQUEST_REJECTED:
            return True
        r = f.replica
        if r.request_faults >= _BARE_FAULTS_IN_A_ROW:
            return False
        failed, ok = r.last_failure_at, r.last_success_at
        return failed is None or (ok is not None and ok > failed)

    def _mark(self, f: Fault, blame: Blame) -> None:
        for a in self._d.attempts:
            if a.replica == f.replica.id and a.blame is Blame.UNSURE:
                a.blame = blame
                return

    def _count(self, f: Fault, now: float) -> None:
        self._mark(f, Blame.REPLICA)
        f.replica.record(Failed(f.error, now))

    def _excuse(self, f: Fault) -> None:
        self._mark(f, Blame.REQUEST)
        if f.error.kind is not FailureKind.REQUEST_REJECTED:
            # Only bare failures make a replica look as if it failed everything.
            f.replica.request_faults += 1
