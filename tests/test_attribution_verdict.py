"""The attribution rules on their own: whose fault each pair of failures is (no I/O)."""

from __future__ import annotations

from zeta_router.config import parse_config
from zeta_router.errors import Blame, FailureKind, UpstreamError
from zeta_router.fleet.outcome import Reason
from zeta_router.fleet.state import Fleet, ReplicaState
from zeta_router.routing.attribution import Verdict
from zeta_router.routing.decision import Attempt, Decision

BARE = (FailureKind.SERVER_ERROR, 500)
VALIDATION = (FailureKind.REQUEST_REJECTED, 500)
MISSING = (FailureKind.NOT_FOUND, 404)


def setup() -> tuple[Decision, Verdict, ReplicaState, ReplicaState]:
    config = parse_config(
        {"models": {"m": {"replicas": [{"url": "http://127.0.0.1:1/v1"}] * 2}}}
    )
    fleet = Fleet(config)
    a, b = fleet.models["m"].replicas
    for r in (a, b):
        r.on_success(1.0)  # both serving
    d = Decision("r", "chat", 0.0)
    return d, Verdict(d, config.breaker), a, b


def fail(d: Decision, r: ReplicaState, what: tuple[FailureKind, int]) -> UpstreamError:
    err = UpstreamError(what[0], "HTTP", what[1])
    d.attempts.append(Attempt(r.model, r.id, Reason.of(err), 0.1, err.blame))
    return err


def test_the_same_bare_500_from_two_serving_replicas_is_the_requests() -> None:
    d, v, a, b = setup()
    assert v.failed(a, fail(d, a, BARE), 2.0) is None, "held"
    fault = v.failed(b, fail(d, b, BARE), 2.0)
    assert fault is not None and fault.replica is a
    assert [x.blame for x in d.attempts] == [Blame.REQUEST, Blame.REQUEST]
    assert a.failures == b.failures == 0 and a.request_faults == b.request_faults == 1


def test_different_failures_are_the_replicas() -> None:
    d, v, a, b = setup()
    v.failed(a, fail(d, a, BARE), 2.0)
    assert v.failed(b, fail(d, b, MISSING), 2.0) is None
    assert a.failures == b.failures == 1
    assert [x.blame for x in d.attempts] == [Blame.REPLICA, Blame.REPLICA]


def test_a_validation_error_explains_itself_not_a_bare_500_beside_it() -> None:
    d, v, a, b = setup()
    v.failed(a, fail(d, a, BARE), 2.0)
    fault = v.failed(b, fail(d, b, VALIDATION), 2.0)
    assert fault is not None and fault.replica is b
    assert a.failures == 1 and b.failures == 0


def test_another_replica_serving_blames_the_held_one() -> None:
    d, v, a, _ = setup()
    v.failed(a, fail(d, a, VALIDATION), 2.0)
    assert a.breaker.state.value == "closed" and a.failures == 0
    v.served(2.5)
    assert a.failures == 1 and d.attempts[0].blame is Blame.REPLICA


def test_a_replica_whose_last_outcome_failed_is_not_excused_a_bare_500() -> None:
    d, v, a, b = setup()
    b.on_failure(UpstreamError(FailureKind.CONNECT), 1.5)  # after its last success
    v.failed(a, fail(d, a, BARE), 2.0)
    assert v.failed(b, fail(d, b, BARE), 2.0) is None
    assert a.failures == 1 and b.failures == 2


def test_two_bare_faults_in_a_row_then_they_count() -> None:
    d, v, a, b = setup()
    for n in (1, 2):
        v.failed(a, fail(d, a, BARE), 2.0)
        assert v.failed(b, fail(d, b, BARE), 2.0) is not None, n
    v.failed(a, fail(d, a, BARE), 2.0)
    assert v.failed(b, fail(d, b, BARE), 2.0) is None
    assert a.failures == b.failures == 1


def test_the_walk_ending_relays_a_held_validation_error_and_counts_the_rest() -> None:
    d, v, a, b = setup()
    v.failed(a, fail(d, a, VALIDATION), 2.0)
    fault = v.exhausted(3.0)
    assert fault is not None and fault.replica is a and a.failures == 0
    v.failed(b, fail(d, b, BARE), 3.0)
    assert v.exhausted(3.0) is None and b.failures == 1
