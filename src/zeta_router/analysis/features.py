"""Structural features of a prompt, shared by the heuristic and the semantic analyzers.

A prompt's *shape* says as much about its task as its words: a pasted article reads like its
topic (cooking, law, physics) but the request is to read it, so the analyzers look at where the
text sits (system, earlier turns, the last user turn), how much prose, code or tabular data there
is and what the short "ask" around it says.

Speed matters more than elegance here (the budget is tens of microseconds): Python's regex engine
is slow on wide alternations, so keywords are matched by one tokenising regex plus set lookups on
words and bigrams, and line structure by ``str`` methods. Regexes that do run are gated by a cheap
character check and only see the ask or a bounded sample. Long prompts are sampled (head + tail).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import compress, islice
from typing import TypedDict

from zeta_router.analysis import lexicon as lx
from zeta_router.analysis.code_lines import count_code_lines, has_traceback
from zeta_router.analysis.matching import (
    Branches,
    Gate,
    Literals,
    finds,
    has,
    non_ascii_finds,
    split_words,
    starts_or_finds,
)
from zeta_router.analysis.profile import Prompt

# Long texts are sampled: head and tail carry the instruction and most of the structure.
_SAMPLE_HALF = 2000
# Earlier turns only set the scene; a short sample of them is enough for keyword counts.
_CONTEXT_SAMPLE = 600
# The ask: where users put the question relative to pasted material.
_ASK_MIN_SPLIT = 400
_ASK_HEAD = 300
_ASK_TAIL = 400
_ASK_TAIL_SENTENCES = 200
# A single paragraph up to this long is read as one request; it also bounds the regex work.
_ASK_MAX = 1200
# A last line longer than this after an introducing first line is material, not the ask.
_ASK_TAIL_LINE = 200
_INTRO_MAX = 60
# Middle lines of a short prompt this long are a pasted message rather than part of the ask.
_SHORT_MATERIAL = 150
# Material before a "Question:" label this long (one sentence) makes a laid-out reading task.
_MARKER_MIN = 60
# Earlier user or system text this long is something a back-reference can point at.
_BACK_REF_MIN = 60
# A long paragraph this dense in first-person words, addressing the assistant, is a request.
_FIRST_PERSON = frozenset(["i", "i'm", "i've", "i'd", "my", "me", "we", "we're", "our", "us"])
_ADDRESS_MARKERS = ("can you", "could you", "help me", "help us", "i need", "we need", "please")
_PERSONAL_SHARE = 0.04
_PERSONAL_SAMPLE = 1500
# Prose this long, outside code, counts as a pasted document.
DOC_CHARS = 350


# Characters without which no inline math can match, checked with one fast char-class scan.
_MATH_GATE = re.compile(r"[=^*/×÷+<>\\$∫∑∏√π∞∂≈∈∀∃≤≥≠]")
_MATH_INLINE_PARTS: tuple[tuple[str, Gate], ...] = (
    (r"\d\s*[+\-*/×÷^=<>]\s*\(?-?\d", finds(r"\d\s*[+\-*/×÷^=<>]")),
    (r"[a-z]\s*\^\s*\(?\d", has("^")),
    (r"\d[a-z]\b", finds(r"\d[a-z]")),
    (r"\\[a-z]{2,6}\b", has("\\")),
    (r"\$[^$\n]{1,60}\$", has("$")),
    # An ASCII text (str.isascii is a flag check) has none of these; the class scan costs 3 µs.
    (r"[∫∑∏√π∞∂≈∈∀∃≤≥≠]", non_ascii_finds(r"[∫∑∏√π∞∂≈∈∀∃≤≥≠]")),
    # "\b[xyzn]" with the boundary checked after the letter, so the engine skips to the letters.
    (
        r"[xyzn](?<=\b[xyzn]) ?[+\-=] ?\d",
        finds(r"[+\-=](?:(?<=[xyzn][+\-=])|(?<=[xyzn] [+\-=])) ?\d"),
    ),
    (r"\bf\([a-z]\)", has("f(")),
)
_MATH_INLINE = Branches.of(_MATH_INLINE_PARTS)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
# Code-shaped tokens in an ask: camelCase, snake_case, calls, file names, CLI flags, operators,
# inline `code`. Chat users name code this way without writing "code" or "python".
_EXTENSIONS = "py|js|jsx|ts|tsx|rs|go|java|cpp|rb|php|sh|ya?ml|json|toml|sql|css|html|ipynb"
_SQL = ("SELECT", "INSERT INTO", "DELETE FROM", "WHERE", "JOIN", "GROUP BY", "ORDER BY")
_CODE_TOKEN_PARTS: tuple[tuple[str, Gate], ...] = (
    # The gates below need as much of their branch as can be written from a literal character;
    # a gate that passes where its branch cannot match costs a branch search (~15 ns a char).
    (r"\b[a-z]{2,}[A-Z][a-z]\w*", finds(r"[A-Z](?<=[a-z]{2}[A-Z])[a-z]")),
    (r"\b[a-z]+_[a-z_]+\b", finds(r"_(?<=[a-z]_)[a-z_]")),
    (r"\b\w+\.\w+\(", finds(r"\.(?<=\w\.)\w+\(")),
    (r"\b\w+\(\)", has("()")),
    (rf"\w\.(?:{_EXTENSIONS})\b", finds(rf"\.(?<=\w\.)(?:{_EXTENSIONS})\b")),
    (r"(?:^|\s)--?[a-zA-Z][\w-]*", starts_or_finds("-", r"-(?<=\s-)-?[a-zA-Z]")),
    (r"==|!=|=>|->|::|&&|\|\||\+\+", finds(r"==|!=|=>|->|::|&&|\|\||\+\+")),
    (r"</?[a-z]+>", has("<")),
    (r"`[^`\n]+`", has("`")),
    (rf"\b(?:{'|'.join(_SQL)})\b", finds("|".join(_SQL))),
)
_CODE_TOKEN = Branches.of(_CODE_TOKEN_PARTS)
_CODE_TOKEN_GATE = re.compile(r"[A-Z_.()\-=!&|+:<`]")
# Worked input/output examples: programming-problem statements and doctests.
_IO_MARKERS = Literals.of("Input:", "Output:", ">>> ", "assert ", "Example 1", "Constraints:")
# Labels that frame provided material: reading-comprehension and RAG prompt layouts.
_CONTEXT_MARKERS = (
    "Context:", "Passage:", "Question:", "Document", "Doc ", "Title:", "Article", "[1]", "(1)",
    "Source:", "<context", "<doc", "Excerpt", "Retrieved", "Knowledge", "Transcript",
)  # fmt: skip
# One scan for all the labels: they start with capitals or brackets, which the engine skips to
# directly, where 16 substring searches each read the whole sample (18 -> 7 µs on 4 kB).
_CONTEXT_MARKER = re.compile("|".join(map(re.escape, _CONTEXT_MARKERS)))
# A question word this early in the ask makes it a question even without a "?".
_WH_WITHIN = 4
# Quoted material long enough to be something to read rather than a phrase to rewrite.
_QUOTE_MIN = 150
_QUOTE = Branches.of(
    (
        (r"[\"“«]([^\"”»]{150,})[\"”»]", has('"', "“", "«")),
        (r"(?:^|[\s:(])'(.{150,}?)'(?=[\s.,;:!?)]|$)", starts_or_finds("'", r"'(?<=[\s:(]')")),
    ),
    re.DOTALL,
)
# "30 cm in inches", "how many ounces in a cup", "convert 5 miles to km": a lookup, not math.
_UNITS = "|".join(lx.UNITS)
# "\s*(?:°\s*)?", not "\s*°?\s*": two adjacent \s* split a run of spaces every way before
# failing, which cost 65 µs on a 170-character error message with an indented caret line.
# The branches of one alternation, each after a gate that scans for a literal it needs. Ignoring
# case, the alternation and a gate for "convert|how many|\d" both tried every position: ~4 µs
# on a 100-character ask with a number in it.
_CONVERSION: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (re.compile(gate, re.IGNORECASE), re.compile(branch, re.IGNORECASE))
    for gate, branch in (
        ("convert", r"\bconvert\b"),
        ("how many", r"\bhow many \w+ (?:are )?in (?:a|an|one)\b"),
        (" (?:in|to|into) ", rf"\d\s*(?:°\s*)?(?:{_UNITS})\.? (?:in|to|into) (?:{_UNITS})\b"),
    )
)
# Conversions are short lookups; a long ask with numbers and units is a word problem.
_CONVERSION_MAX = 200
# A path, glob, shell variable or file name in a shell ask: "/etc/nginx", "*.txt", "$HOME"
# (upper case: "$x" is LaTeX).
_PATHISH = re.compile(r"(?:^|[\s\"'`(])(?:~?/\w|\*\.?\w|\$(?:[A-Z_]|\{))|\w\.[a-z]{1,4}\b")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


@dataclass(frozen=True, slots=True)
class Features:
    """What the analyzers know about a prompt's structure; every field is cheap to compute."""

    chars: int
    ask_chars: int
    turns: int
    user_turns: int
    fence: bool
    traceback: bool
    code_lines: int
    lines: int
    doc_chars: int  # prose or tables outside the ask: pasted, earlier turns or system
    question: bool
    math: int
    numbers: int
    number_words: int
    sentences: int
    words: int
    # Keyword families counted in the ask (see lexicon.py).
    code_words: int
    code_ask: bool
    retrieval_ask: int
    math_words: int
    reason_ask: int
    simple_ask: int
    greeting: bool
    code_tokens: int = 0
    io_examples: bool = False
    transform_ask: bool = False  # translate / rewrite / proofread the given text
    back_ref: bool = False  # "what did I say earlier" with earlier material to look at
    conversion: bool = False
    context_markers: bool = False  # "Context:", "Passage:", "[1]": material laid out to read
    context_code: int = 0  # programming terms in the system prompt and earlier turns
    context_math: int = 0
    context_reason: int = 0  # "think step by step" in the system prompt or earlier turns
    reply_ask: bool = False  # write a reply to the provided message
    summary_ask: bool = False  # condense the provided text
    explain_ask: int = 0  # "explain", "describe", "why": general-knowledge explanations
    writing_ask: int = 0  # stories, poems, role-play: writing, not working a problem out
    estimate_ask: bool = False  # "how many drops of water fill a pool": a Fermi estimate
    shell_ask: bool = False  # "list all *.txt files under /etc": a shell one-liner

    @property
    def code_ratio(self) -> float:
        return self.code_lines / self.lines if self.lines else 0.0


def _sample(text: str) -> str:
    if len(text) <= 2 * _SAMPLE_HALF:
        return text
    return text[:_SAMPLE_HALF] + "\n" + text[-_SAMPLE_HALF:]


def _last_sentence_at(text: str, start: int) -> int:
    """Where the last sentence of ``text`` begins, searching no earlier than ``start``."""
    cut = max(text.rfind(". ", start, len(text) - 2), text.rfind("? ", start, len(text) - 2))
    cut = max(cut, text.rfind("! ", start, len(text) - 2), text.rfind("\n", start, len(text) - 2))
    return cut + 2 if cut >= 0 else start


def split_ask(text: str) -> tuple[str, str]:
    """Split a user turn into (pasted material, ask); see ``_split_ask``. The ask is capped at
    ``_ASK_MAX`` characters (head and tail) so keyword and regex work stays bounded."""
    at = _options_at(text)
    if at is None:
        body, ask = _split_ask(text)
    else:
        # Answer choices are part of the question, never the end of a pasted document: the
        # stem is split as a prompt of its own and the choices join its ask.
        body, ask = _split_ask(text[:at].rstrip())
        ask = ask + "\n" + text[at:]
    if len(ask) > _ASK_MAX:
        half = _ASK_MAX // 2
        ask = ask[:half] + "\n" + ask[-half:]
    return body, ask


# A line of a multiple-choice list: "(A) ...", "A) ...", "A. ...", "a: ...".
_OPTION = re.compile(r"\(?([A-Ha-h])[).:]\s+\S")
_OPTIONS_LABELS = frozenset(["options", "choices", "answer choices", "answer options"])
_OPTIONS_MIN = 2


def _options_at(text: str) -> int | None:
    """Where a closing list of answer choices starts (an "Options:" line above it included), or
    None. Only the last ``_ASK_MAX`` characters are read. The choices must be lettered in order
    from A, one a line: a pasted outline or contract rarely ends that way."""
    start = max(len(text) - _ASK_MAX, 0)
    window = text[start:].rstrip()
    if "\n" not in window[-_ASK_TAIL:]:
        return None
    lines = window.split("\n")
    i = len(lines)
    letters: list[str] = []
    while i > 1:
        m = _OPTION.match(lines[i - 1].lstrip())
        if m is None:
            break
        letters.append(m.group(1).lower())
        i -= 1
    if len(letters) < _OPTIONS_MIN or letters[::-1] != [chr(97 + k) for k in range(len(letters))]:
        return None
    if i > 1 and lines[i - 1].strip().rstrip(":").strip().lower() in _OPTIONS_LABELS:
        i -= 1
    if i <= 1 and start > 0:
        return None  # the window starts inside the choices (or holds nothing else): no stem seen
    return start + sum(len(line) + 1 for line in lines[:i])


def _split_ask(text: str) -> tuple[str, str]:
    """Split a user turn into (pasted material, ask).

    People write "Summarize this:" on a line before a paste, or "what does it say about X?" on
    a line after it, or "Context: ... Question: ..." in one paragraph. The ask is a short first
    line plus a short last line. When the last line is itself a paragraph of the material (after
    a "Translate this:" line), or a long paragraph with a question glued to its end, only that
    question belongs to the ask. A single paragraph without line breaks is one self-contained
    request (a long word problem), not material plus a question, unless it is longer than any
    question would be. A short prompt keeps all its words in the ask unless its middle lines
    are enough prose to be a pasted message.
    """
    marker = max(text.rfind("\nQuestion:"), text.rfind("\nQ:"))
    if marker >= _MARKER_MIN:
        # A laid-out reading task: everything before the question label is the material.
        return text[:marker], text[marker:]
    first = text.find("\n")
    if first < 0:
        if len(text) < _ASK_MIN_SPLIT:
            return "", text
        cut = text.find("Question:")
        if cut > 0:
            return text[:cut], text[cut:]
        if len(text) <= _ASK_MAX or _is_personal_request(text):
            return "", text
        # Longer than any self-contained question: a pasted paragraph with the ask at its end.
        tail_at = _last_sentence_at(text, len(text) - _ASK_TAIL_SENTENCES)
        return text[:tail_at], text[tail_at:]
    head = text[:first] if first <= _ASK_HEAD else ""
    last = text.rfind("\n")
    tail = text[last + 1 :].strip()
    if len(text) < _ASK_MIN_SPLIT:
        if _is_pasted_tail(head, tail):
            return text[len(head) :], head
        middle = text[len(head) : last] if last > len(head) else ""
        if len(middle.strip()) < _SHORT_MATERIAL:
            return "", text
        return middle, head + "\n" + text[last:]
    if last > len(head) and len(text) - last <= _ASK_TAIL and not _is_pasted_tail(head, tail):
        tail_at = last
    else:
        floor = max(len(head), last)
        cut = text.find("Question:", max(floor, len(text) - _ASK_TAIL))
        if cut > len(head):
            tail_at = cut
        elif text.rstrip().endswith("?") or not head:
            tail_at = _last_sentence_at(text, max(floor, len(text) - _ASK_TAIL_SENTENCES))
        else:
            tail_at = len(text)
    return text[len(head) : tail_at], head + "\n" + text[tail_at:]


def _is_pasted_tail(head: str, tail: str) -> bool:
    """Whether a last line is the end of the material: a long line that is no question, after
    a first line that introduces a paste ("Summarize this:", "tl;dr") or asks the question
    first ("how many people came? <the minutes>")."""
    if len(tail) <= _ASK_TAIL_LINE or tail.endswith(("?", "？")):
        return False
    intro = head.rstrip()
    return intro.endswith((":", "：", "?", "？")) or 0 < len(intro) < _INTRO_MAX


def _is_personal_request(text: str) -> bool:
    """Whether one long paragraph is the user's own request ("my partner and I are deciding
    ... can you work through the numbers") rather than pasted prose: it is written in the first
    person and addresses the assistant before its last sentences. Articles and reports are
    rarely either, and a pasted letter comes with line breaks."""
    head = text[: len(text) - _ASK_TAIL_SENTENCES].lower()
    if not any(m in head for m in _ADDRESS_MARKERS):
        return False
    words = split_words(head[:_PERSONAL_SAMPLE])
    mine = sum(map(_FIRST_PERSON.__contains__, words))
    return mine >= _PERSONAL_SHARE * max(len(words), 1)


def _bigrams() -> dict[str, dict[str, tuple[int, ...]]]:
    # Keyed by the first word, so a bigram is looked up from its two tokens without building
    # (and hashing) the "first second" string for every candidate.
    table: dict[str, dict[str, tuple[int, ...]]] = {}
    for key, fams in lx.TABLE.items():
        if " " in key:
            first, rest = key.split(" ", 1)
            table.setdefault(first, {})[rest] = fams
    return table


_BIGRAMS = _bigrams()


def _keywords(ask: str) -> tuple[list[int], bool, bool, list[str]]:
    """Counts per keyword family, whether the ask opens with a greeting or question word,
    and the words."""
    words = split_words(ask.lower())
    counts = [0] * lx.FAMILIES
    get = lx.TABLE.get
    # The lookups run in C (map/filter); only hits reach Python code. Most words are misses.
    for fams in filter(None, map(get, words)):
        for fam in fams:
            counts[fam] += 1
    firsts = lx.BIGRAM_FIRSTS
    if not firsts.isdisjoint(words):
        # The positions of bigram first words picked in C: a Python loop over every word cost
        # ~5 µs on a 100-word ask.
        for i in compress(range(len(words) - 1), map(firsts.__contains__, words)):
            pair = _BIGRAMS[words[i]].get(words[i + 1])
            if pair is not None:
                for fam in pair:
                    counts[fam] += 1
    if not ask.isascii() and _CJK.search(ask) is not None:
        # No spaces between words: look the (few) CJK keys up as substrings instead.
        for key, fams in lx.CJK_TABLE.items():
            if key in ask:
                for fam in fams:
                    counts[fam] += 1
    first = words[0] if words else ""
    # "just tell me when it starts", "ok so what did she say": the question word comes late.
    question = first in lx.QUESTION_STARTS or not lx.WH_WORDS.isdisjoint(words[1:_WH_WITHIN])
    return counts, first in lx.GREETINGS, question, words


def _count(pattern: re.Pattern[str], text: str, cap: int) -> int:
    """Matches up to ``cap``: the analyzers saturate there, and dense text stops early."""
    return len(list(islice(pattern.finditer(text), cap)))


def _quoted_chars(text: str) -> int:
    if len(text) < _QUOTE_MIN:
        return 0
    # The quoted text is the one group that took part in the match, whichever branch matched.
    return max((len(m[m.lastindex or 0]) for m in _QUOTE.finditer(text)), default=0)


@dataclass(frozen=True, slots=True)
class _Where:
    """Where a prompt's text sits: the last user turn split into material and ask, and the
    context around it. The feature families below read this, not the raw prompt."""

    last: str
    body: str  # material pasted in the last user turn
    ask: str
    sample: str  # the last user turn, sampled
    ctx: str  # sample of system + the previous non-assistant turn, when they carry material
    context_chars: int  # material outside the last turn (system over 200 chars, user, tool)
    user_context: int  # of which in earlier user or tool turns
    earlier: str  # the previous non-assistant turn
    answer: str  # the assistant's last answer: its topic carries over to a follow-up
    system: str


def _where(prompt: Prompt) -> _Where:
    last = prompt.last_user
    body, ask = split_ask(last)
    # Earlier turns and system text are context only when they carry material the user provided
    # (user, tool, system); long assistant answers in a chat are not a pasted document.
    context_chars = len(prompt.system) if len(prompt.system) > 200 else 0
    earlier = answer = ""
    user_context = 0
    skipped_last = False
    for turn in reversed(prompt.turns):
        if not skipped_last and turn.role == "user" and turn.text is last:
            skipped_last = True
            continue
        if turn.role == "assistant":
            answer = answer or turn.text
        else:
            context_chars += len(turn.text)
            user_context += len(turn.text)
            earlier = earlier or turn.text
    ctx = _sample(prompt.system + "\n" + earlier) if context_chars else ""
    return _Where(
        last, body, ask, _sample(last), ctx, context_chars, user_context, earlier, answer,
        prompt.system,
    )  # fmt: skip


class _CodeAndMaterial(TypedDict):
    fence: bool
    traceback: bool
    code_lines: int
    lines: int
    doc_chars: int
    io_examples: bool
    context_markers: bool


class _Asked(TypedDict):
    question: bool
    code_words: int
    code_ask: bool
    code_tokens: int
    retrieval_ask: int
    reason_ask: int
    simple_ask: int
    transform_ask: bool
    back_ref: bool
    reply_ask: bool
    summary_ask: bool
    explain_ask: int
    writing_ask: int
    estimate_ask: bool
    shell_ask: bool


class _Math(TypedDict):
    math: int
    numbers: int
    number_words: int
    math_words: int
    conversion: bool


class _Conversation(TypedDict):
    context_code: int
    context_math: int
    context_reason: int


def _code_and_material(w: _Where) -> _CodeAndMaterial:
    """Code structure (fences, tracebacks, code-like lines) and, from what is not code, the
    material to read: the two are one family because a line is either."""
    code_lines, lines, table_chars = count_code_lines(w.sample)
    ctx_code, ctx_lines, ctx_table = count_code_lines(w.ctx) if w.ctx else (0, 0, 0)
    fence = "```" in w.last or "```" in w.ctx
    prose_last = not fence and code_lines * 4 < max(lines, 1)
    prose_ctx = ctx_code * 4 < max(ctx_lines, 1) and "```" not in w.ctx
    doc_chars = (len(w.body) if prose_last else 0) + (w.context_chars if prose_ctx else 0)
    if table_chars or ctx_table:
        # A pasted table is material to read however short: a few rows of figures are a lot.
        doc_chars += max(table_chars + ctx_table, DOC_CHARS)
    if prose_last and not w.body:
        doc_chars += _quoted_chars(w.last)
    return {
        "fence": fence,
        "traceback": has_traceback(w.sample) or (bool(w.ctx) and has_traceback(w.ctx)),
        "code_lines": code_lines + ctx_code,
        "lines": lines + ctx_lines,
        "doc_chars": doc_chars,
        "io_examples": _IO_MARKERS.any_in(w.sample),
        "context_markers": (bool(w.ctx) or len(w.last) >= _SHORT_MATERIAL)
        and (
            _CONTEXT_MARKER.search(w.sample) is not None
            or _CONTEXT_MARKER.search(w.ctx) is not None
        ),
    }


def _estimate(words: list[str]) -> bool:
    """A quantity asked of something to estimate, not look up (lexicon.ESTIMATE_STARTS)."""
    return (
        len(words) > 2
        and (words[0], words[1]) in lx.ESTIMATE_STARTS
        and not lx.ESTIMATE_WORDS.isdisjoint(words[2:])
    )


def _shell(ask: str, words: list[str]) -> bool:
    """A shell one-liner described in words (lexicon.SHELL_VERBS)."""
    if not words or words[0] not in lx.SHELL_VERBS:
        return False
    return not lx.SHELL_NOUNS.isdisjoint(words) or _PATHISH.search(ask) is not None


def _asked(w: _Where, counts: list[int], qstart: bool, words: list[str]) -> _Asked:
    """What the ask's words say: the keyword families (lexicon.py) and code-shaped tokens."""
    ask = w.ask
    return {
        "estimate_ask": _estimate(words),
        "shell_ask": _shell(ask, words),
        "question": qstart or "?" in ask.rstrip()[-300:],
        "code_words": counts[lx.CODE],
        "code_ask": counts[lx.CODE_VERB] > 0 and counts[lx.CODE_NOUN] > 0,
        "code_tokens": _CODE_TOKEN.count(ask, 3) if _CODE_TOKEN_GATE.search(ask) else 0,
        "retrieval_ask": counts[lx.RETRIEVAL],
        "reason_ask": counts[lx.REASON],
        "simple_ask": counts[lx.SIMPLE],
        "transform_ask": counts[lx.TRANSFORM] > 0,
        "back_ref": counts[lx.BACK_REF] > 0 and w.user_context + len(w.system) >= _BACK_REF_MIN,
        "reply_ask": counts[lx.REPLY] > 0,
        "summary_ask": counts[lx.SUMMARY] > 0,
        "explain_ask": counts[lx.EXPLAIN],
        "writing_ask": counts[lx.WRITING],
    }


def _math(w: _Where, counts: list[int]) -> _Math:
    """Notation, figures and math words in the ask; a short unit conversion is a lookup."""
    ask = w.ask
    conversion = len(ask) <= _CONVERSION_MAX and any(
        gate.search(ask) is not None and branch.search(ask) is not None
        for gate, branch in _CONVERSION
    )
    return {
        "math": _MATH_INLINE.count(ask, 4) if _MATH_GATE.search(ask) else 0,
        "numbers": _count(_NUMBER, ask, 6),
        "number_words": counts[lx.NUMBER],
        "math_words": counts[lx.MATH],
        "conversion": conversion,
    }


def _conversation(w: _Where) -> _Conversation:
    """The scene: programming, math or step-by-step words in the system prompt and the previous
    user turn, and the shape of the assistant's last answer. A follow-up such as "now for each
    month" inherits the topic of the conversation."""
    scene = w.system[:_CONTEXT_SAMPLE] + "\n" + w.earlier[:_CONTEXT_SAMPLE]
    scene_counts = _keywords(scene)[0] if scene.strip() else [0] * lx.FAMILIES
    answer_code = answer_math = 0
    if w.answer:
        # A code answer (or a worked calculation) makes "now for k lists" / "and with 5?" a
        # follow-up in the same task, even when the user's own words name no topic.
        reply = w.answer[:_CONTEXT_SAMPLE]
        answer_code = 2 if "```" in reply or count_code_lines(reply)[0] >= 2 else 0
        # A regex or code answer is full of "0-9" and "a*b": no worked calculation.
        worked = not answer_code and "\\" not in reply and "[" not in reply
        answer_math = _MATH_INLINE.count(reply, 2) if worked and _MATH_GATE.search(reply) else 0
    return {
        "context_code": scene_counts[lx.CODE] + answer_code,
        "context_math": scene_counts[lx.MATH] + answer_math,
        "context_reason": scene_counts[lx.REASON],
    }


def extract(prompt: Prompt) -> Features:
    w = _where(prompt)
    counts, greeting, qstart, words = _keywords(w.ask)
    ask = w.ask
    return Features(
        chars=prompt.chars,
        ask_chars=len(ask),
        turns=len(prompt.turns),
        user_turns=sum(1 for t in prompt.turns if t.role == "user"),
        sentences=ask.count(". ") + ask.count("? ") + ask.count("! ") + ask.count(".\n"),
        words=len(words),
        greeting=greeting,
        **_code_and_material(w),
        **_asked(w, counts, qstart, words),
        **_math(w, counts),
        **_conversation(w),
    )
