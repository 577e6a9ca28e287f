from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture()
def harness(harness_module: Harness) -> Iterator[Harness]:
    yield harness_module
    for name in BACKENDS:
        b = harness_module.backend(name)
        if b._runner is None:
            harness_module.up(name)
        harness_module.heal(name)
    # Fresh breaker and load state per test, without restarting the sockets.
    for r in harness_module.router.fleet.replicas.values():
        r.breaker.reset(harness_module.router.clock())
        r.cooldown_until = 0.0
        r.in_flight = 0
