from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from zeta_router.testing import Harness

SECRET = "sk-test-very-secret-value-1234"


def fleet_template(**overrides: Any) -> dict[str, Any]:
    template: dict[str, Any] = {
        "health": {"enabled": False},
        "timeouts": {"connect_s": 1.0, "first_byte_s": 2.0, "idle_s": 1.0, "total_s": 10.0},
        "retry": {"backoff_base_s": 0.01, "backoff_max_s": 0.05},
        "analysis": {"analyzer": "heuristic"},
        "models": {
            "brain": {
                "endpoints": ["chat", "completions"],
                "context_window": 8192,
                "replicas": [
                    {
                        "url": "fake:b1",
                        "id": "brain-a",
                        "upstream_model": "qwen2.5-14b-instruct",
                        "api_key_env": "ZETA_TEST_BRAIN_KEY",
                    },
                    {
                        "url": "fake:b2",
                        "id": "brain-b",
                        "upstream_model": "qwen2.5-14b-instruct",
                        "api_key_env": "ZETA_TEST_BRAIN_KEY",
                    },
                ],
            },
            "coder": {"endpoints": ["chat", "completions"], "replicas": [{"url": "fake:c1"}]},
            "small": {
                "endpoints": ["chat", "completions"],
                "context_window": 2048,
                "replicas": [{"url": "fake:s1"}],
            },
            "embed": {"endpoints": ["embeddings"], "replicas": [{"url": "fake:e1"}]},
        },
        "routes": {
            "code": ["coder", "brain", "small"],
            "reasoning": ["brain", "coder", "small"],
            "simple": ["small", "coder", "brain"],
            "retrieval": ["brain", "coder", "small"],
            "embeddings": ["embed"],
        },
        "fallbacks": {"brain": ["coder", "small"]},
    }
    template.update(overrides)
    return template


BACKENDS = ["b1", "b2", "c1", "s1", "e1"]


@pytest.fixture(scope="module")
def harness_module() -> Iterator[Harness]:
    mp = pytest.MonkeyPatch()
    mp.setenv("ZETA_TEST_BRAIN_KEY", SECRET)
    h = Harness(BACKENDS, fleet_template())
    yield h
    h.close()
    mp.undo()


def reset_harness(h: Harness, names: Iterable[str]) -> None:
    """A module's harness as the next test expects it: every backend up and healed, fresh
    breaker and load state per replica, without restarting the sockets."""
    for name in names:
        if h.backend(name)._runner is None:
            h.up(name)
        h.heal(name)
    for r in h.router.fleet.replicas.values():
        r.breaker.reset(h.router.clock())
        r.cooldown_until = 0.0
        r.in_flight = 0


@pytest.fixture()
def harness(harness_module: Harness) -> Iterator[Harness]:
    yield harness_module
    reset_harness(harness_module, BACKENDS)
