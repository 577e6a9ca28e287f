"""The heuristic analyzer: task from message structure plus a few keyword families.

No model, no I/O, tens of microseconds. Evidence for each built-in task is added up as a score;
the winner's softmax share is the confidence, so a prompt with one weak signal gets a low
confidence the router can act on (min_confidence / default_task).
"""

from __future__ import annotations

import math

from zeta_router.analysis.features import DOC_CHARS, Features, extract
from zeta_router.analysis.profile import Prompt, TaskProfile, estimate_tokens

TASKS = ("code", "reasoning", "simple", "retrieval")
# Quoted or pasted prose this long, with a question, is worth reading even below DOC_CHARS.
SHORT_DOC_CHARS = 150
_MANY_NUMBERS = 3
_LABELLED_DOC_CHARS = 60
ELLIPTIC_WORDS = 12
# Softmax temperature, fitted by negative log-likelihood on tune + supplement (optimum ~0.3;
# rounded up because the scores were hand-tuned on those sets): a score gap of ~1 is a
# confident call.
_TEMPERATURE = 0.4


def score(f: Features) -> tuple[dict[str, float], list[str]]:
    """Evidence per task and the human-readable reasons behind it."""
    s = {"code": 0.0, "reasoning": 0.0, "simple": 0.5, "retrieval": 0.0}
    why: list[str] = []
    if f.fence:
        s["code"] += 2.5
        why.append("code fence")
    if f.traceback:
        s["code"] += 3.0
        why.append("stack trace")
    if f.code_lines >= 3 and f.code_ratio >= 0.2:
        s["code"] += 1.5 + min(f.code_ratio, 1.0) * 2.0
        why.append(f"{f.code_lines} code-like lines")
    elif f.code_lines and f.code_ratio >= 0.3:
        # One pasted statement ("optimize: SELECT ...") in a short prompt.
        s["code"] += 1.0
        why.append("a line of code")
    if f.code_ask:
        s["code"] += 2.0
        why.append("asks for code")
    if f.code_words:
        s["code"] += min(f.code_words, 3) * 1.0
        why.append("programming terms")
    if f.code_tokens:
        s["code"] += min(f.code_tokens, 3) * 0.7
        why.append("code-shaped tokens")
    if f.io_examples:
        s["code"] += 1.5
        why.append("input/output examples")
    # A short follow-up ("now for k lists", "also allow slashes") names no topic of its own.
    # Not after a pasted document, whose topic words ("library", "closure") are no conversation.
    elliptic = f.user_turns > 1 and f.words <= ELLIPTIC_WORDS and f.doc_chars < SHORT_DOC_CHARS
    if f.context_code:
        # A follow-up in a programming conversation ("now group it by month") stays code.
        s["code"] += min(f.context_code, 3) * (1.0 if elliptic else 0.5)
        why.append("programming conversation")

    # Translating or proofreading pasted text is a rewrite even when the ask names it ("this
    # email"); writing a *reply* to it, or condensing it, is answering from it.
    rewrite = f.transform_ask and not (f.reply_ask or f.summary_ask)
    if f.doc_chars >= DOC_CHARS:
        doc_weight = 1.5 + min(f.doc_chars / 4000.0, 1.0)
        s["retrieval"] += doc_weight
        why.append("pasted document")
        if (f.question or f.retrieval_ask) and not rewrite:
            s["retrieval"] += 1.5
            why.append("pasted document + question")
        if f.reply_ask:
            s["retrieval"] += 1.5
            why.append("reply to provided text")
        # A long paste swamps keyword counts in the other tasks; only structure competes.
        s["simple"] -= 1.0
        if f.turns > 2:
            why.append("multi-turn with long context")
    elif f.doc_chars >= SHORT_DOC_CHARS and (f.question or f.retrieval_ask or f.context_markers):
        # A short quoted review or email plus a question about it.
        s["retrieval"] += 2.0
        s["simple"] -= 0.5
        why.append("quoted text + question")
    if f.retrieval_ask and not (rewrite and f.doc_chars >= DOC_CHARS):
        s["retrieval"] += min(f.retrieval_ask, 2) * (1.5 if f.chars >= 400 else 0.6)
        why.append("refers to provided text")
    if f.context_markers and f.doc_chars >= _LABELLED_DOC_CHARS:
        # "Passage: ... Question: ..." is a reading task even when the passage is one sentence.
        s["retrieval"] += 2.0
        why.append("context layout")
    if f.back_ref:
        s["retrieval"] += 3.0
        why.append("refers back to the conversation")
    if rewrite and f.doc_chars >= DOC_CHARS:
        # Translating or proofreading pasted text is light rewriting, not answering from it.
        s["simple"] += 3.0
        why.append("rewrite of provided text")

    if f.math:
        s["reasoning"] += min(f.math, 4) * 0.6
        why.append("math notation")
    if f.context_math:
        s["reasoning"] += min(f.context_math, 3) * (0.8 if elliptic else 0.3)
    if f.context_reason:
        # "Think step by step" in the system prompt: the operator expects worked answers.
        s["reasoning"] += min(f.context_reason, 2) * 0.35
    if f.conversion:
        s["simple"] += 2.0
        why.append("unit conversion")
    elif f.math_words:
        s["reasoning"] += min(f.math_words, 4) * 0.5
        # Numbers next to programming terms are specs ("3 digits then 4 digits"), not a problem.
        if f.numbers + f.number_words >= 2 and not (f.code_words or f.code_tokens):
            s["reasoning"] += 1.0 + min(f.numbers + f.number_words, 6) * 0.15
            why.append("word problem")
    elif f.numbers >= _MANY_NUMBERS and not (f.code_words or f.code_tokens or f.doc_chars):
        # Several figures and an ask, even without a math word, is something to work out.
        s["reasoning"] += 1.0
        why.append("several numbers")
    if f.reason_ask:
        s["reasoning"] += min(f.reason_ask, 3) * 1.0
        why.append("multi-step ask")
    if f.sentences >= 4 and f.ask_chars > 250 and f.doc_chars < DOC_CHARS:
        s["reasoning"] += 0.5

    if f.greeting:
        # "hi" alone is chit-chat; "hi, can you write a parser" is whatever follows it.
        s["simple"] += 1.5 if f.words <= 4 else 0.5
        why.append("greeting")
    if f.simple_ask:
        s["simple"] += min(f.simple_ask, 2) * 0.8
        why.append("short factual/rewrite ask")
    if f.chars < 120:
        # Short asks are usually simple, unless something else already spoke for a task.
        other = max(s["code"], s["reasoning"], s["retrieval"])
        s["simple"] += 1.0 if other < 0.7 else 0.2
        why.append("short")
    elif f.chars > 600:
        s["simple"] -= 0.5
    return s, why


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


def softmax(scores: dict[str, float], temperature: float = _TEMPERATURE) -> dict[str, float]:
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
