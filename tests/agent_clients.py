"""SDK clients for the agent-API tests, closed after each test (a client left to the garbage
collector can drop its pooled socket first: a ResourceWarning, an error here), and the wait for
a harness's managed servers."""

from __future__ import annotations

import anthropic
import openai

from zeta_router.testing import Harness

_MADE: list[openai.OpenAI | anthropic.Anthropic] = []


def close_all() -> None:
    while _MADE:
        _MADE.pop().close()


def oai(h: Harness, timeout: float = 20) -> openai.OpenAI:
    client = openai.OpenAI(base_url=h.base_url, api_key="unused", max_retries=0, timeout=timeout)
    _MADE.append(client)
    return client


def ant(h: Harness, timeout: float = 20) -> anthropic.Anthropic:
    client = anthropic.Anthropic(base_url=h.url, api_key="unused", max_retries=0, timeout=timeout)
    _MADE.append(client)
    return client


def wait_managed(h: Harness) -> None:
    """Block until every server the harness's router launches is ready."""
    supervisor = h.router.supervisor
    assert supervisor is not None
    assert h.thread.run(supervisor.wait_ready(120), timeout=130), [
        (s.id, s.last_error, s.log_path) for s in supervisor.not_ready()
    ]
