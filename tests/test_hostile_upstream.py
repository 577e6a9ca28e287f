"""Hostile upstream answers, over real sockets: garbage, a stream that never ends, a head of
megabytes, a body that never ends, a body or an event larger than the router relays. Each is
cut by a limit, and the client (the openai SDK) gets an explicit error, never a hang."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from zeta_router.testing import Harness
from zeta_router.upstream import attempt, http_transport

LIMIT = 1 << 20


def template() -> dict[str, Any]:
    return {
        "health": {"enabled": False, "scrape_metrics": False},
        "timeouts": {
            "connect_s": 1.0,
            "first_byte_s": 1.0,
            "idle_s": 1.0,
            "total_s": 2.0,
            "generation_s": 1.0,
        },
        "retry": {"max_attempts": 1},
        "breaker": {"consecutive_failures": 1000, "min_samples": 1000},
        "analysis": {"analyzer": "heuristic"},
        "models": {"m": {"replicas": [{"url": "fake:h"}]}},
    }


@pytest.fixture(scope="module")
def gw() -> Iterator[Harness]:
    mp = pytest.MonkeyPatch()
    # Small limits, so the test sends megabytes rather than the defaults' tens of them.
    mp.setattr(http_transport, "MAX_REPLY_BYTES", LIMIT)
    mp.setattr(attempt, "MAX_EVENT_BYTES", LIMIT)
    h = Harness(["h"], template())
    yield h
    h.close()
    mp.undo()


@pytest.fixture()
def sdk(gw: Harness) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gw.base_url, api_key="x", max_retries=0, timeout=15) as c:
        yield c
    gw.heal("h")


def ask(c: openai.OpenAI, stream: bool = False) -> Any:
    return c.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=stream
    )


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("garbage", "malformed body"),
        ("giant_headers", "response head larger than"),
        ("huge_body", f"answer larger than {LIMIT} bytes"),
        ("endless_body", "first byte timeout"),
    ],
)
def test_bad_complete_answers_are_503_saying_why(
    gw: Harness, sdk: openai.OpenAI, mode: str, reason: str
) -> None:
    gw.set("h", mode=mode, huge_bytes=4 * LIMIT)
    start = time.monotonic()
    with pytest.raises(openai.APIStatusError) as err:
        ask(sdk)
    assert err.value.status_code == 503, err.value.response.text
    assert reason in err.value.message, err.value.message
    assert time.monotonic() - start < 5


def test_stream_with_a_giant_head_is_503(gw: Harness, sdk: openai.OpenAI) -> None:
    gw.set("h", mode="giant_headers")
    with pytest.raises(openai.APIStatusError) as err:
        list(ask(sdk, stream=True))
    assert err.value.status_code == 503
    assert "response head larger than" in err.value.message, err.value.message


def test_stream_event_that_never_ends_is_cut_with_an_error_event(
    gw: Harness, sdk: openai.OpenAI
) -> None:
    # One good event, then bytes without an event separator, megabytes of them.
    gw.set("h", mode="no_events", huge_bytes=4 * LIMIT)
    got = 0
    with pytest.raises(openai.APIError) as err:
        for chunk in ask(sdk, stream=True):
            got += bool(chunk.choices)
    assert got == 1
    assert f"SSE event larger than {LIMIT} bytes" in err.value.message, err.value.message


def test_endless_stream_ends_at_the_deadline_with_an_error_event(
    gw: Harness, sdk: openai.OpenAI
) -> None:
    gw.set("h", mode="endless")
    start = time.monotonic()
    got = 0
    with pytest.raises(openai.APIError) as err:
        for chunk in ask(sdk, stream=True):
            got += bool(chunk.choices)
    took = time.monotonic() - start
    assert got > 10, got  # it did relay, until the deadline
    assert 1.5 < took < 5, took
    assert "request deadline" in err.value.message, err.value.message


