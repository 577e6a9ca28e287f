"""The shared state's config and its Redis wire protocol, without a server: URLs, the RESP
parser on replies split anywhere, errors naming the key, secrets kept out of /status."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zeta_router.config import parse_config
from zeta_router.errors import ConfigError
from zeta_router.fleet.resp import (
    Endpoint,
    RedisReplyError,
    _Incomplete,
    pack,
    parse,
    parse_url,
)
from zeta_router.ops.status import redact_config


def test_urls() -> None:
    assert parse_url("redis://127.0.0.1:6390/3") == Endpoint(port=6390, db=3)
    e = parse_url("rediss://user:p%40ss@cache.internal/1")
    assert (e.host, e.port, e.db, e.username, e.password, e.tls) == (
        "cache.internal",
        6379,
        1,
        "user",
        "p@ss",
        True,
    )
    assert parse_url("unix:///run/redis.sock?db=2").path == "/run/redis.sock"
    with pytest.raises(ValueError, match="redis://"):
        parse_url("http://localhost")


def _reply(blob: bytes) -> object:
    value, end = parse(bytearray(blob), 0)
    assert end == len(blob)
    return value


def test_reply_types() -> None:
    assert _reply(b":42\r\n") == 42
    assert _reply(b"$3\r\nabc\r\n") == b"abc"
    assert _reply(b"$-1\r\n") is None
    assert _reply(b"+OK\r\n") == b"OK"
    assert _reply(b"*3\r\n:1\r\n*0\r\n*2\r\n$-1\r\n$1\r\nx\r\n") == [1, [], [None, b"x"]]
    err = _reply(b"-NOSCRIPT No matching script\r\n")
    assert isinstance(err, RedisReplyError) and err.kind == "NOSCRIPT"


@given(st.binary(max_size=40), st.integers(min_value=-(2**40), max_value=2**40))
def test_a_reply_cut_anywhere_is_incomplete_never_wrong(data: bytes, n: int) -> None:
    blob = b"*3\r\n$%d\r\n%s\r\n:%d\r\n*1\r\n+OK\r\n" % (len(data), data, n)
    assert _reply(blob) == [data, n, [b"OK"]]
    for cut in range(len(blob)):
        with pytest.raises(_Incomplete):
            parse(bytearray(blob[:cut]), 0)


def test_commands_are_length_prefixed() -> None:
    assert pack(("SET", b"k\r\n", 5, 0.5)) == (
        b"*4\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$1\r\n5\r\n$3\r\n0.5\r\n"
    )


def _config(state: dict[str, object]) -> dict[str, object]:
    return {"models": {"m": {"replicas": [{"url": "http://127.0.0.1:9/v1"}]}}, "state": state}


def test_state_config_errors_name_the_key() -> None:
    assert parse_config(_config({})).state.backend == "memory"
    with pytest.raises(ConfigError, match=r"state\.backend"):
        parse_config(_config({"backend": "etcd"}))
    with pytest.raises(ConfigError, match=r"state\.url: must be a redis://"):
        parse_config(_config({"backend": "redis", "url": "localhost:6379"}))
    with pytest.raises(ConfigError, match=r"state\.timeout_ms"):
        parse_config(_config({"backend": "redis", "timeout_ms": 0}))


def test_the_redis_password_never_shows_in_status() -> None:
    config = parse_config(_config({"backend": "redis", "url": "redis://:hunter2@h:6379/0"}))
    shown = str(redact_config(config))
    assert "hunter2" not in shown and "redis://h:6379/0" in shown
