"""The per-key limiter's arithmetic on a fake clock, the key table, and the auth config's
validation (errors name the key)."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from zeta_router.config import parse_config
from zeta_router.errors import ConfigError, RateLimited, Unauthorized
from zeta_router.http.auth import Gate, presented
from zeta_router.routing.limits import KeyLimits, Limiter, MemoryStore, left_early


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def admit(lim: Limiter, limits: KeyLimits, cost: int = 0, key: str = "k") -> object:
    return asyncio.run(lim.admit(key, limits, cost))


def test_rpm_bursts_to_the_limit_then_refills_continuously() -> None:
    clock = Clock()
    lim = Limiter(MemoryStore(), clock)
    limits = KeyLimits(rpm=6)
    tickets = [admit(lim, limits) for _ in range(6)]
    assert len(tickets) == 6
    with pytest.raises(RateLimited) as err:
        admit(lim, limits)
    assert err.value.code == "rpm_exceeded"
    assert err.value.retry_after_s == pytest.approx(10.0)  # one request per 10 s
    assert err.value.headers() == [(b"retry-after", b"10")]
    clock.now += 10.0
    admit(lim, limits)
    with pytest.raises(RateLimited):
        admit(lim, limits)
    # Keys are apart.
    admit(lim, limits, key="other")


def test_tpm_charges_the_estimate_and_settles_to_the_usage() -> None:
    clock = Clock()
    store = MemoryStore()
    lim = Limiter(store, clock)
    limits = KeyLimits(tpm=600)
    t1 = admit(lim, limits, 500)
    with pytest.raises(RateLimited) as err:
        admit(lim, limits, 500)
    assert err.value.code == "tpm_exceeded"
    assert err.value.retry_after_s == pytest.approx(40.0)  # 400 tokens at 10 per second
    lim.settle(t1, 50)  # it used 50: 450 back
    c = store.counters("k")
    assert c is not None and c.tokens == pytest.approx(550)
    admit(lim, limits, 500)
    # A request larger than a minute's tokens waits for a full bucket, then leaves it in debt.
    clock.now += 60
    t3 = admit(lim, limits, 5000)
    with pytest.raises(RateLimited):
        admit(lim, limits, 1)
    lim.settle(t3, None)  # no usage reported: the estimate stays charged
    c = store.counters("k")
    assert c is not None and c.tokens == pytest.approx(600 - 5000)


def test_a_stream_left_early_is_charged_its_prompt_and_a_block_a_token() -> None:
    lim = Limiter(MemoryStore(), Clock())
    ticket = asyncio.run(lim.admit("k", KeyLimits(tpm=600), 309, prompt=9))
    assert left_early(ticket, 4) == 13
    assert left_early(ticket, 0) == 9
    assert left_early(ticket, 1000) == 309  # never more than the estimate charged


def test_max_parallel_counts_in_flight_until_settled() -> None:
    lim = Limiter(MemoryStore(), Clock())
    limits = KeyLimits(max_parallel=2)
    a, _b = admit(lim, limits), admit(lim, limits)
    with pytest.raises(RateLimited) as err:
        admit(lim, limits)
    assert err.value.code == "max_parallel_exceeded" and err.value.retry_after_s == 1.0
    lim.settle(a, None)  # type: ignore[arg-type]
    admit(lim, limits)


def test_a_refused_request_charges_nothing() -> None:
    store = MemoryStore()
    lim = Limiter(store, Clock())
    limits = KeyLimits(rpm=10, tpm=100, max_parallel=1)
    admit(lim, limits, 10)
    for _ in range(3):
        with pytest.raises(RateLimited):
            admit(lim, limits, 10)
    c = store.counters("k")
    assert c is not None and (c.requests, c.tokens, c.in_flight) == (9, 90, 1)


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


BASE = {"models": {"a": {"replicas": [{"url": "http://127.0.0.1:1"}]}}}


def test_gate_finds_keys_by_their_digest_only() -> None:
    config = parse_config(
        {
            **BASE,
            "auth": {
                "keys": [{"name": "c", "key_sha256": sha("sk-c"), "models": ["a"]}],
                "admin_keys": [{"name": "adm", "key_sha256": sha("sk-adm")}],
            },
        }
    )
    gate = Gate(config.auth)

    def scope(*headers: tuple[bytes, bytes]) -> dict[str, object]:
        return {"headers": list(headers)}

    assert gate.client(scope((b"authorization", b"Bearer sk-c"))).name == "c"
    assert gate.client(scope((b"authorization", b"bearer  sk-c "))).name == "c"
    assert gate.client(scope((b"x-api-key", b"sk-c")), api_key_header=True).name == "c"
    for bad in [
        scope(),
        scope((b"x-api-key", b"sk-c")),
        scope((b"authorization", b"Basic sk-c")),
        scope((b"authorization", b"Bearer sk-adm")),
        scope((b"authorization", b"Bearer " + sha("sk-c").encode())),  # the hash is no key
    ]:
        with pytest.raises(Unauthorized):
            gate.client(bad)
    assert gate.admin(scope((b"authorization", b"Bearer sk-adm"))) == "adm"
    with pytest.raises(Unauthorized):
        gate.admin(scope((b"authorization", b"Bearer sk-c")))
    assert presented(scope((b"authorization", b"Token x")), False) == b""


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"keys": [{"name": "bob"}]}, "auth.keys[0]: key 'bob': give exactly one of"),
        ({"keys": [{"name": "bob", "key_sha256": "abc"}]}, "key 'bob': key_sha256 must be 64"),
        ({"keys": [{"name": "bob", "key_env": "ZETA_NO_SUCH_VAR"}]}, "ZETA_NO_SUCH_VAR is not set"),
        (
            {"keys": [{"name": "bob", "key_sha256": sha("x"), "models": ["zz"]}]},
            "auth.keys[0].models[0]: key 'bob' names no model 'zz'",
        ),
        (
            {
                "keys": [{"name": "bob", "key_sha256": sha("x")}],
                "admin_keys": [{"name": "bob", "key_sha256": sha("y")}],
            },
            "key 'bob': the name is used twice",
        ),
        (
            {
                "keys": [{"name": "bob", "key_sha256": sha("x")}],
                "admin_keys": [{"name": "adm", "key_sha256": sha("x")}],
            },
            "key 'adm': the same secret as another key",
        ),
        ({"keys": [{"name": "bob", "key_sha256": sha("x"), "rpm": 0}]}, "auth.keys[0].rpm"),
    ],
)
def test_auth_config_errors_name_the_key(auth: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({**BASE, "auth": auth})
    assert message in str(err.value), str(err.value)


def test_the_key_table_follows_a_reload() -> None:
    from zeta_router.http.server import App
    from zeta_router.ops.reload import reload
    from zeta_router.router import Router

    first = parse_config({**BASE, "auth": {"keys": [{"name": "a", "key_sha256": sha("one")}]}})
    app = App(Router(first))
    scope = {"headers": [(b"authorization", b"Bearer two")]}
    with pytest.raises(Unauthorized):
        app.caller(scope)
    reload(app.router, parse_config(
        {**BASE, "auth": {"keys": [{"name": "b", "key_sha256": sha("two")}]}}
    ))
    caller = app.caller(scope)
    assert caller is not None and caller.name == "b"
    reload(app.router, parse_config(BASE))
    assert app.caller(scope) is None  # no keys: open again
