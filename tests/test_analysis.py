"""Heuristic analyzer, decision cache and analyzer registry."""

from __future__ import annotations

import logging
import sys

import pytest

from zeta_router.analysis import (
    ANALYZERS,
    CachedAnalyzer,
    HeuristicAnalyzer,
    Prompt,
    TaskProfile,
    build_analyzer,
    prompt_from_messages,
)
from zeta_router.analysis.cache import prompt_key
from zeta_router.config import AnalysisSettings
from zeta_router.errors import ConfigError

DOC = (
    "The city council met on Tuesday evening to review the proposed budget for the coming "
    "fiscal year. Council members raised concerns about the rising cost of road maintenance, "
    "and several residents spoke in favour of expanding the public library's opening hours. "
    "The finance director noted that property tax revenue grew by four percent last year. "
) * 6

CASES = [
    ("```python\ndef add(a, b):\n    return a - b\n```\nthis returns the wrong thing", "code"),
    (
        "Traceback (most recent call last):\n"
        '  File "app.py", line 12, in <module>\n'
        "    main()\n"
        "KeyError: 'user_id'",
        "code",
    ),
    ("write a python function that reverses a linked list", "code"),
    (DOC + "\n\nBased on the text above, what did residents ask for?", "retrieval"),
    ("Summarize this for me:\n" + DOC, "retrieval"),
    ("Solve for x: 3x + 5 = 20", "reasoning"),
    ("Prove that the square root of 2 is irrational.", "reasoning"),
    (
        "A train leaves at 3pm going 60 mph and another leaves at 4pm going 80 mph. "
        "When does the second catch up?",
        "reasoning",
    ),
    ("hi how are you", "simple"),
    ("what is the capital of france", "simple"),
    ("rewrite this to sound more formal: hey guys the meeting moved to 3", "simple"),
]


@pytest.mark.parametrize(("text", "task"), CASES, ids=[c[1] + str(i) for i, c in enumerate(CASES)])
def test_heuristic_structure(text: str, task: str) -> None:
    profile = HeuristicAnalyzer().analyze(Prompt.from_text(text))
    assert profile.task == task, profile.signals
    assert 0.0 <= profile.confidence <= 1.0
    assert 0.0 <= profile.complexity <= 1.0
    assert profile.source == "heuristic"
    assert profile.prompt_tokens == len(text) // 4 + 8


def test_signals_explain_the_verdict() -> None:
    doc = HeuristicAnalyzer().analyze(Prompt.from_text(DOC + "\nWhat was the revenue growth?"))
    assert "pasted document + question" in doc.signals
    fence = HeuristicAnalyzer().analyze(Prompt.from_text("```\nx = 1\n```\nwhy"))
    assert "code fence" in fence.signals


def test_multi_turn_long_context_is_retrieval() -> None:
    messages: list[dict[str, object]] = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Here is our onboarding handbook:\n" + DOC},
        {"role": "assistant", "content": "Thanks, I have read it. What would you like to know?"},
        {"role": "user", "content": "what does it say about the library hours?"},
    ]
    profile = HeuristicAnalyzer().analyze(prompt_from_messages(messages))
    assert profile.task == "retrieval", profile.signals


def test_long_assistant_answers_are_not_a_pasted_document() -> None:
    messages: list[dict[str, object]] = [
        {"role": "user", "content": "tell me about the city council"},
        {"role": "assistant", "content": DOC},
        {"role": "user", "content": "thanks!"},
    ]
    assert HeuristicAnalyzer().analyze(prompt_from_messages(messages)).task == "simple"


def test_complexity_grows_with_difficulty() -> None:
    a = HeuristicAnalyzer()
    easy = a.analyze(Prompt.from_text("hi"))
    hard = a.analyze(
        Prompt.from_text(
            "Prove step by step that for every integer n > 1 the sum 1/2 + ... + 1/n is never "
            "an integer, then compare the argument with the p-adic approach and explain why."
        )
    )
    assert easy.complexity < hard.complexity


def test_empty_prompt_is_handled() -> None:
    profile = HeuristicAnalyzer().analyze(Prompt(turns=()))
    assert profile.task in ("code", "reasoning", "simple", "retrieval")


class CountingAnalyzer:
    name = "counting"

    def __init__(self) -> None:
        self.calls = 0

    def analyze(self, prompt: Prompt) -> TaskProfile:
        self.calls += 1
        return TaskProfile("simple", 0.1, 0.9, 10, source=self.name)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_hit_miss_and_ttl() -> None:
    inner, clock = CountingAnalyzer(), FakeClock()
    cache = CachedAnalyzer(inner, size=8, ttl_s=10.0, clock=clock)
    p = Prompt.from_text("hello")
    cache.analyze(p)
    cache.analyze(Prompt.from_text("hello"))
    assert (cache.hits, cache.misses, inner.calls) == (1, 1, 1)
    clock.now += 9.9
    cache.analyze(p)
    assert (cache.hits, cache.misses) == (2, 1)
    clock.now += 0.2
    cache.analyze(p)
    assert (cache.hits, cache.misses, inner.calls) == (2, 2, 2)


def test_cache_is_lru_bounded() -> None:
    inner = CountingAnalyzer()
    cache = CachedAnalyzer(inner, size=2, ttl_s=60.0, clock=FakeClock())
    a, b, c = (Prompt.from_text(t) for t in "abc")
    cache.analyze(a)
    cache.analyze(b)
    cache.analyze(a)  # a is now the most recent, so c evicts b
    cache.analyze(c)
    assert len(cache) == 2
    cache.analyze(a)
    assert cache.hits == 2
    cache.analyze(b)
    assert inner.calls == 4


def test_cache_keys_on_full_content() -> None:
    inner = CountingAnalyzer()
    cache = CachedAnalyzer(inner, size=8, ttl_s=60.0, clock=FakeClock())
    prefix = "x" * 10_000
    cache.analyze(Prompt.from_text(prefix + " question one"))
    cache.analyze(Prompt.from_text(prefix + " question two"))
    assert cache.misses == 2 and cache.hits == 0
    # Same text in a different role or split differently is a different prompt.
    assert prompt_key(Prompt.from_text("ab", system="c")) != prompt_key(Prompt.from_text("cab"))
    assert prompt_key(Prompt.from_text("hi")) != prompt_key(Prompt.from_text("hi", system=" "))


def test_cache_size_zero_disables() -> None:
    inner = CountingAnalyzer()
    cache = CachedAnalyzer(inner, size=0, ttl_s=60.0)
    cache.analyze(Prompt.from_text("x"))
    cache.analyze(Prompt.from_text("x"))
    assert inner.calls == 2 and cache.hits == 0
    built = build_analyzer(AnalysisSettings(analyzer="heuristic", cache_size=0))
    assert isinstance(built, HeuristicAnalyzer)


def test_build_heuristic_is_cached() -> None:
    built = build_analyzer(AnalysisSettings(analyzer="heuristic"))
    assert isinstance(built, CachedAnalyzer)
    assert built.name == "heuristic"
    built.analyze(Prompt.from_text("hi"))
    built.analyze(Prompt.from_text("hi"))
    assert built.hits == 1


def test_unknown_analyzer_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown analyzer"):
        build_analyzer(AnalysisSettings(analyzer="nope"))
    assert set(ANALYZERS) >= {"heuristic", "semantic", "auto"}


def test_auto_falls_back_when_semantic_deps_are_missing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # None in sys.modules makes `import` raise ImportError, as if the package were absent.
    monkeypatch.setitem(sys.modules, "zeta_router.analysis.semantic", None)
    with caplog.at_level(logging.WARNING, logger="zeta_router.analysis"):
        analyzer = build_analyzer(AnalysisSettings(analyzer="auto", cache_size=0))
    assert isinstance(analyzer, HeuristicAnalyzer)
    assert "falling back to the heuristic" in caplog.text
    with pytest.raises(ConfigError, match="semantic"):
        build_analyzer(AnalysisSettings(analyzer="semantic"))
