"""The heuristic analyzer's cues: named, cheap facts about a prompt's features, by family.

A cue is a number read off ``Features`` (0 when it does not fire: a flag is 1.0, a count is
capped so one long list of keywords does not outvote structure). What a cue is worth for each
task is not written here: the weights are a table fitted from real prompts
(``data/heuristic_table.json``, fitted by ``benchmarks/fit_heuristic.py``), so this module says
only *what* is observed, and the data says how much it counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from zeta_router.analysis.features import DOC_CHARS, Features

# Quoted or pasted prose this long, with a question, is worth reading even below DOC_CHARS.
SHORT_DOC_CHARS = 150
# A short follow-up ("now for k lists") this many words long names no topic of its own.
ELLIPTIC_WORDS = 12
_MANY_NUMBERS = 3
_LABELLED_DOC_CHARS = 60
_SHORT_CHARS = 120
_LONG_CHARS = 600
# Asks for the provided text weigh more in a prompt long enough to hold some.
_ASK_LONG_CHARS = 400


def elliptic(f: Features) -> bool:
    """A short follow-up in a conversation, not after a pasted document, whose topic words
    ("library", "closure") would be no conversation."""
    return f.user_turns > 1 and f.words <= ELLIPTIC_WORDS and f.doc_chars < SHORT_DOC_CHARS


def rewrite(f: Features) -> bool:
    """Translating or proofreading given text even when the ask names it ("this email");
    writing a *reply* to it, or condensing it, is answering from it."""
    return f.transform_ask and not (f.reply_ask or f.summary_ask)


def _doc(f: Features) -> bool:
    return f.doc_chars >= DOC_CHARS


def _code_block(f: Features) -> bool:
    return f.code_lines >= 3 and f.code_ratio >= 0.2


def _code_shaped(f: Features) -> bool:
    return bool(f.code_words or f.code_tokens)


def _word_problem(f: Features) -> bool:
    # Numbers next to programming terms are specs ("3 digits then 4 digits"), not a problem.
    return (
        not f.conversion
        and f.math_words > 0
        and f.numbers + f.number_words >= 2
        and not _code_shaped(f)
    )


def _claimed(f: Features) -> bool:
    """Whether anything but shortness speaks for a task other than simple."""
    return bool(
        f.fence or f.traceback or f.code_lines or f.code_ask or f.code_words or f.code_tokens
        or f.io_examples or f.doc_chars >= SHORT_DOC_CHARS or f.retrieval_ask or f.back_ref
        or f.context_markers or f.math >= 2 or f.math_words or f.reason_ask
        or f.numbers >= _MANY_NUMBERS or (elliptic(f) and (f.context_code or f.context_math))
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Family:
    """Cues read together: ``read`` returns one value per name, in order."""

    names: tuple[str, ...]
    reasons: tuple[str, ...]  # shown in the profile's signals when the cue fires; "" if minor
    read: Callable[[Features], tuple[float, ...]]


def _code(f: Features) -> tuple[float, ...]:
    block = _code_block(f)
    # A follow-up in a programming conversation ("now group it by month") stays code.
    follow_up = elliptic(f)
    context = min(f.context_code, 3)
    return (
        f.fence,
        f.traceback,
        block,
        min(f.code_ratio, 1.0) if block else 0.0,
        # One pasted statement ("optimize: SELECT ...") in a short prompt.
        not block and f.code_lines > 0 and f.code_ratio >= 0.3,
        f.code_ask,
        min(f.code_words, 3),
        min(f.code_tokens, 3),
        f.io_examples,
        context if follow_up else 0,
        0 if follow_up else context,
        f.shell_ask,
    )


CODE = Family(
    (
        "fence", "traceback", "code_block", "code_block_ratio", "code_line", "code_ask",
        "code_words", "code_tokens", "io_examples", "context_code_follow_up", "context_code",
        "shell_ask",
    ),
    (
        "code fence", "stack trace", "code-like lines", "", "a line of code", "asks for code",
        "programming terms", "code-shaped tokens", "input/output examples",
        "programming conversation", "programming conversation", "shell command",
    ),
    _code,
)  # fmt: skip


def _retrieval(f: Features) -> tuple[float, ...]:
    doc = f.doc_chars >= DOC_CHARS
    rewritten = rewrite(f)
    asked = min(f.retrieval_ask, 2)
    return (
        doc,
        min(f.doc_chars / 4000.0, 1.0) if doc else 0.0,
        doc and bool(f.question or f.retrieval_ask) and not rewritten,
        doc and f.reply_ask,
        doc and rewritten,
        # A short quoted review or email plus a question about it.
        SHORT_DOC_CHARS <= f.doc_chars < DOC_CHARS
        and bool(f.question or f.retrieval_ask or f.context_markers),
        asked if f.chars >= _ASK_LONG_CHARS and not (doc and rewritten) else 0,
        asked if f.chars < _ASK_LONG_CHARS else 0,
        # "Passage: ... Question: ..." is a reading task even when the passage is one sentence.
        f.context_markers and f.doc_chars >= _LABELLED_DOC_CHARS,
        f.back_ref,
        doc and f.turns > 2,
    )


RETRIEVAL = Family(
    (
        "doc", "doc_length", "doc_question", "doc_reply", "doc_rewrite", "quote_question",
        "retrieval_ask_long", "retrieval_ask_short", "context_layout", "back_ref",
        "multi_turn_doc",
    ),
    (
        "pasted document", "", "pasted document + question", "reply to provided text",
        "rewrite of provided text", "quoted text + question", "refers to provided text",
        "refers to provided text", "context layout", "refers back to the conversation",
        "multi-turn with long context",
    ),
    _retrieval,
)  # fmt: skip


def _reasoning(f: Features) -> tuple[float, ...]:
    follow_up = elliptic(f)
    context = min(f.context_math, 3)
    problem = _word_problem(f)
    return (
        min(f.math, 4),
        context if follow_up else 0,
        0 if follow_up else context,
        # "Think step by step" in the system prompt: the operator expects worked answers.
        min(f.context_reason, 2),
        f.conversion,
        0 if f.conversion else min(f.math_words, 4),
        problem,
        min(f.numbers + f.number_words, 6) if problem else 0,
        # Several figures and an ask, even without a math word, is something to work out.
        not f.conversion
        and not f.math_words
        and f.numbers >= _MANY_NUMBERS
        and not (_code_shaped(f) or f.doc_chars),
        min(f.reason_ask, 3),
        f.sentences >= 4 and f.ask_chars > 250 and f.doc_chars < DOC_CHARS,
        min(f.explain_ask, 2),
        min(f.writing_ask, 2),
        f.estimate_ask,
    )


REASONING = Family(
    (
        "math", "context_math_follow_up", "context_math", "context_reason", "conversion",
        "math_words", "word_problem", "word_problem_numbers", "several_numbers", "reason_ask",
        "long_ask", "explain_ask", "writing_ask", "estimate_ask",
    ),
    (
        "math notation", "", "", "", "unit conversion", "", "word problem", "",
        "several numbers", "multi-step ask", "", "", "", "estimation question",
    ),
    _reasoning,
)  # fmt: skip


def _simple(f: Features) -> tuple[float, ...]:
    short = f.chars < _SHORT_CHARS
    return (
        # "hi" alone is chit-chat; "hi, can you write a parser" is whatever follows it.
        f.greeting and f.words <= 4,
        f.greeting and f.words > 4,
        min(f.simple_ask, 2),
        short,
        # Short asks are usually simple, unless something else already speaks for a task.
        short and not _claimed(f),
        f.chars > _LONG_CHARS,
        math.log1p(f.chars) / math.log(20000),
    )


SIMPLE = Family(
    ("greeting_alone", "greeting", "simple_ask", "short", "short_plain", "long", "log_chars"),
    ("greeting", "greeting", "short factual/rewrite ask", "short", "", "", ""),
    _simple,
)

FAMILIES = (CODE, RETRIEVAL, REASONING, SIMPLE)
NAMES = tuple(name for fam in FAMILIES for name in fam.names)
REASONS = tuple(reason for fam in FAMILIES for reason in fam.reasons)


def read(f: Features) -> tuple[float, ...]:
    """Every cue's value, in ``NAMES`` order (flags as bools, which sum as 0 and 1)."""
    return _code(f) + _retrieval(f) + _reasoning(f) + _simple(f)
