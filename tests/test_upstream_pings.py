"""Keep-alive pings before and inside a stream, as llama-cpp-python's server sends them (an SSE
comment every 15 s from the moment the headers go out): over real sockets, with the openai SDK.

A ping says the server's event loop is alive, not that the model answers. So it neither starts
the answer (a crash while the prompt is read stays a retry, and the first token's time is the
first event's) nor counts as progress against the idle timeout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from zeta_router.testing import Harness
from zeta_router.upstream.attempt import only_comments

PING = 0.05


@pytest.fixture()
def gw() -> Iterator[Harness]:
    h = Harness(
        ["slow", "spare"],
        {
            "health": {"enabled": False, "scrape_metrics": False},
            "analysis": {"analyzer": "heuristic"},
            "timeouts": {"first_byte_s": 0.6, "idle_s": 0.6, "total_s": 30.0},
            "breaker": {"consecutive_failures": 1000, "min_samples": 1000},
            "models": {
                "a": {"replicas": [{"url": "fake:slow", "id": "slow"}]},
                "b": {"replicas": [{"url": "fake:spare", "id": "spare"}]},
            },
            "fallbacks": {"a": ["b"]},
        },
    )
    yield h
    h.close()


def stream(h: Harness) -> tuple[Any, str]:
    c = openai.OpenAI(base_url=h.base_url, api_key="x", max_retries=0, timeout=20)
    with (
        c,
        c.chat.completions.with_streaming_response.create(
            model="a", messages=[{"role": "user", "content": "hi"}], stream=True
        ) as resp,
    ):
        parts = [chunk.choices[0].delta.content or "" for chunk in resp.parse() if chunk.choices]
        return resp.headers, "".join(parts)


def test_the_first_token_time_is_the_first_events_not_a_pings(gw: Harness) -> None:
    gw.set("slow", ping_s=PING, delay_s=0.3)
    headers, text = stream(gw)
    assert headers["x-zeta-replica"] == "slow" and text.startswith("[slow]")
    samples = gw.thread.call(lambda: list(gw.router.fleet.replicas["slow"].ttfb_samples))
    assert len(samples) == 1 and samples[0] >= 0.3, samples


def test_a_replica_that_pings_but_never_answers_is_failed_over_before_any_byte(
    gw: Harness,
) -> None:
    # Its model is stuck on the prompt while its event loop keeps pinging: committed on the
    # first ping, the answer would hang until the request's deadline and then break.
    gw.set("slow", ping_s=PING, delay_s=60.0)
    headers, text = stream(gw)
    assert headers["x-zeta-model"] == "b" and headers["x-zeta-attempts"] == "2"
    assert text.startswith("[spare]")


def test_pings_do_not_keep_a_stalled_stream_from_its_idle_timeout(gw: Harness) -> None:
    gw.set("slow", ping_s=PING, chunk_delay_s=60.0)
    with pytest.raises(openai.APIError) as err:
        stream(gw)
    # The idle timeout itself, not the request's deadline 30 s later.
    assert "idle" in str(err.value) and "deadline" not in str(err.value), err.value


@pytest.mark.parametrize(
    ("block", "comments"),
    [
        (b": ping - 2026-12-02 07:04:02.885127+00:00\r\n\r\n", True),
        (b": ping\n\n: ping\n\n", True),
        (b': ping\r\n\r\ndata: {"choices": []}\n\n', False),
        (b'data: {"choices": []}\n\n', False),
        (b"event: ping\ndata: {}\n\n", False),
    ],
)
def test_only_comment_blocks_count_as_pings(block: bytes, comments: bool) -> None:
    assert only_comments(block) is comments
