"""The heuristic analyzer: task from message structure plus a few keyword families.

No model, no I/O, tens of microseconds. Evidence for each built-in task is the sum of a table's
weights over the cues (``cues.py``) that fire; the table is fitted from real prompts by
``benchmarks/fit_heuristic.py`` and ships as ``data/heuristic_table.json``. The winner's softmax
share is the confidence, so a prompt with one weak signal gets a low confidence the router can
act on (min_confidence / default_task).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from zeta_router.analysis.cues import ELLIPTIC_WORDS, NAMES, REASONS, SHORT_DOC_CHARS, read
from zeta_router.analysis.features import Features, extract
from zeta_router.analysis.profile import Prompt, TaskProfile, estimate_tokens

TASKS = ("code", "reasoning", "simple", "retrieval")


@dataclass(frozen=True, slots=True)
class Table:
    """What each cue is worth per task: rows in ``cues.NAMES`` order, columns in ``TASKS``
    order. ``temperature`` is the softmax temperature it was fitted at, so ``softmax(score)`` is
    a calibrated probability."""

    bias: tuple[float, ...]
    rows: tuple[tuple[float, ...], ...]
    temperature: float

    @classmethod
    def load(cls, name: str = "heuristic_table.json") -> Table:
        path = resources.files(__package__).joinpath("data").joinpath(name)
        return cls.parse(json.loads(path.read_text("utf-8")))

    @classmethod
    def parse(cls, d: Mapping[str, Any]) -> Table:
        if tuple(d["tasks"]) != TASKS or set(d["weights"]) != set(NAMES):
            raise ValueError("heuristic table does not match this version's cues")
        rows = tuple(tuple(float(w) for w in d["weights"][name]) for name in NAMES)
        return cls(tuple(float(b) for b in d["bias"]), rows, float(d["temperature"]))


TABLE = Table.load()
_TEMPERATURE = TABLE.temperature
# Per cue its weights and its reason, zipped once: the loop below reads them with the values.
_ROWS = tuple(zip(TABLE.rows, REASONS, strict=True))


def score(f: Features) -> tuple[dict[str, float], list[str]]:
    """Evidence per task (the table's weights summed over the cues that fire) and the
    human-readable reasons behind it."""
    code, reasoning, simple, retrieval = TABLE.bias
    why: list[str] = []
    for v, ((w_code, w_reasoning, w_simple, w_retrieval), reason) in zip(
        read(f), _ROWS, strict=True
    ):
        if v:
            code += v * w_code
            reasoning += v * w_reasoning
            simple += v * w_simple
            retrieval += v * w_retrieval
            if reason:
                why.append(reason)
    return {"code": code, "reasoning": reasoning, "simple": simple, "retrieval": retrieval}, why


def complexity(f: Features, task: str) -> float:
    """A rough 0..1 difficulty: longer, multi-step, mathematical or code-heavy asks score higher."""
    c = min(math.log1p(f.chars) / math.log1p(20000), 1.0) * 0.35
    c += min(f.reason_ask, 3) * 0.08 + min(f.math, 4) * 0.04 + min(f.math_words, 4) * 0.03
    c += min(f.code_lines, 60) / 60 * 0.15 + (0.05 if f.traceback else 0.0)
    c += min(f.user_turns - 1, 5) * 0.02 if f.user_turns > 1 else 0.0
    if task == "simple":
        c *= 0.6
    elif task == "reasoning":
        c += 0.1
    return max(0.0, min(c, 1.0))


def softmax(scores: Mapping[str, float], temperature: float = _TEMPERATURE) -> dict[str, float]:
    top = max(scores.values())
    exp = {k: math.exp((v - top) / temperature) for k, v in scores.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


class HeuristicAnalyzer:
    """Structural + keyword classifier for the four built-in tasks."""

    name = "heuristic"

    def analyze(self, prompt: Prompt) -> TaskProfile:
        f = extract(prompt)
        scores, why = score(f)
        probs = softmax(scores)
        task = max(probs, key=probs.__getitem__)
        return TaskProfile(
            task=task,
            complexity=round(complexity(f, task), 3),
            confidence=round(probs[task], 3),
            prompt_tokens=estimate_tokens(prompt.chars),
            source=self.name,
            signals=tuple(dict.fromkeys(why)),
        )


__all__ = ["ELLIPTIC_WORDS", "SHORT_DOC_CHARS", "TABLE", "TASKS", "HeuristicAnalyzer", "score"]
