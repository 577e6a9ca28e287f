"""Structural features of a prompt, shared by the heuristic and the semantic analyzers.

A prompt's *shape* says as much about its task as its words: a pasted article reads like its
topic (cooking, law, physics) but the request is to read it, so the analyzers look at where the
text sits (system, earlier turns, the last user turn), how much prose or code there is and what
the short "ask" around it says.

Speed matters more than elegance here (the budget is tens of microseconds): Python's regex engine
is slow on wide alternations, so keywords are matched by one tokenising regex plus set lookups on
words and bigrams, and line structure by ``str`` methods. Long prompts are sampled (head + tail).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import lexicon as lx
from .profile import Prompt

# Long texts are sampled: head and tail carry the instruction and most of the structure.
_SAMPLE_HALF = 2000
# The ask: where users put the question relative to pasted material.
_ASK_MIN_SPLIT = 400
_ASK_HEAD = 300
_ASK_TAIL = 400
_ASK_TAIL_SENTENCES = 200
# Prose this long, outside code, counts as a pasted document.
DOC_CHARS = 350

_WORD = re.compile(r"[\w+#']+")
_TRACEBACK = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"\n]+\", line \d+|\bat [\w$.<>/]+\("
    r"|[A-Z]\w{0,40}(?:Error|Exception)(?::| at\b)|panic: |Segmentation fault|error\[E\d+\]"
    r"|npm ERR!|undefined reference to|cannot find symbol|Uncaught \w+|core dumped"
    r"|:\d+:\d+: (?:error|warning)|exit(?:ed with)? (?:code|status) [1-9]"
)
# Cheap substring gates: the traceback regex only runs when one of these is present.
_TRACEBACK_MARKERS = (
    "rror",
    "xception",
    "panic",
    "\tat ",
    "    at ",
    "dumped",
    "Segmentation",
    "undefined ref",
)
# Characters without which no inline math can match, checked with one fast char-class scan.
_MATH_GATE = re.compile(r"[=^*/×÷+<>\\$∫∑∏√π∞∂≈∈∀∃≤≥≠]")
_MATH_INLINE = re.compile(
    r"\d\s*[+\-*/×÷^=<>]\s*\(?-?\d|[a-z]\s*\^\s*\(?\d|\d[a-z]\b|\\[a-z]{2,6}\b|\$[^$\n]{1,60}\$"
    r"|[∫∑∏√π∞∂≈∈∀∃≤≥≠]|\b[xyzn] ?[+\-=] ?\d|\bf\([a-z]\)"
)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_CODE_STARTS = (
    "def ", "class ", "import ", "from ", "#include", "function ", "function(", "const ",
    "let ", "var ", "public ", "private ", "protected ", "static ", "fn ", "func ", "package ",
    "return", "if (", "if(", "for (", "for(", "while (", "elif ", "else:", "else {", "try:",
    "try {", "except", "catch", "SELECT ", "INSERT ", "UPDATE ", "CREATE ", "@", "$ ", ">>> ",
    "<div", "<?", "}", "//", "# ", "#!", "async ", "await ", "print(", "console.", "std::",
    "println", "echo ", "sudo ", "pip ", "npm ", "git ", "docker ", "cd ", "mkdir ",
)  # fmt: skip
_CODE_ENDS = (";", "{", "}", "):", ")", "];", "[", "(", ",")


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
    doc_chars: int  # prose outside the ask: pasted in the last turn, earlier turns or system
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

    @property
    def code_ratio(self) -> float:
        return self.code_lines / self.lines if self.lines else 0.0


def _sample(text: str) -> str:
    if len(text) <= 2 * _SAMPLE_HALF:
        return text
    return text[:_SAMPLE_HALF] + "\n" + text[-_SAMPLE_HALF:]


def split_ask(text: str) -> tuple[str, str]:
    """Split a user turn into (pasted material, ask).

    People write "Summarize this:" on a line before a paste, or "what does it say about X?" on
    a line after it, or "Context: ... Question: ..." in one paragraph. The ask is a short first
    line plus the last line (or, without line breaks, the last couple of sentences)."""
    if len(text) < _ASK_MIN_SPLIT:
        return "", text
    first = text.find("\n")
    head = text[:first] if 0 < first <= _ASK_HEAD else ""
    last = text.rfind("\n")
    if last > len(head) and len(text) - last <= _ASK_TAIL:
        tail_at = last
    else:
        tail_at = max(len(head), len(text) - _ASK_TAIL_SENTENCES)
        cut = text.find("Question:", tail_at - _ASK_TAIL_SENTENCES)
        if cut > len(head):
            tail_at = min(tail_at, cut)
    return text[len(head) : tail_at], head + "\n" + text[tail_at:]


def _has_traceback(text: str) -> bool:
    return any(m in text for m in _TRACEBACK_MARKERS) and _TRACEBACK.search(text) is not None


def count_code_lines(text: str) -> tuple[int, int]:
    """(code-like lines, non-blank lines) by how lines start and end."""
    code = total = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        total += 1
        if line.startswith(_CODE_STARTS) or line.endswith(_CODE_ENDS) or raw.startswith("    "):
            code += 1
    return code, total


def _keywords(ask: str) -> tuple[list[int], bool, bool, int]:
    """Counts per keyword family, whether the ask opens with a greeting or question word,
    and the number of words."""
    words = _WORD.findall(ask.lower())
    counts = [0] * lx.FAMILIES
    table = lx.TABLE
    firsts = lx.BIGRAM_FIRSTS
    prev = ""
    for w in words:
        fams = table.get(w)
        if fams is not None:
            for fam in fams:
                counts[fam] += 1
        if prev in firsts:
            fams = table.get(prev + " " + w)
            if fams is not None:
                for fam in fams:
                    counts[fam] += 1
        prev = w
    first = words[0] if words else ""
    return counts, first in lx.GREETINGS, first in lx.QUESTION_STARTS, len(words)


def extract(prompt: Prompt) -> Features:
    last = prompt.last_user
    body, ask = split_ask(last)
    sample = _sample(last)
    # Earlier turns and system text are context only when they carry material the user provided
    # (user, tool, system); long assistant answers in a chat are not a pasted document.
    context_chars = len(prompt.system) if len(prompt.system) > 200 else 0
    earlier = ""
    skipped_last = False
    for turn in reversed(prompt.turns):
        if not skipped_last and turn.role == "user" and turn.text is last:
            skipped_last = True
            continue
        if turn.role != "assistant":
            context_chars += len(turn.text)
            earlier = earlier or turn.text
    ctx = _sample(prompt.system + "\n" + earlier) if context_chars else ""
    code_lines, lines = count_code_lines(sample)
    ctx_code, ctx_lines = count_code_lines(ctx) if ctx else (0, 0)
    fence = "```" in last or "```" in ctx
    traceback = _has_traceback(sample) or (bool(ctx) and _has_traceback(ctx))
    prose_last = not fence and code_lines * 4 < max(lines, 1)
    prose_ctx = ctx_code * 4 < max(ctx_lines, 1) and "```" not in ctx
    doc_chars = (len(body) if prose_last else 0) + (context_chars if prose_ctx else 0)
    counts, greeting, qstart, words = _keywords(ask)
    tail_q = ask.rstrip()[-300:]
    return Features(
        chars=prompt.chars,
        ask_chars=len(ask),
        turns=len(prompt.turns),
        user_turns=sum(1 for t in prompt.turns if t.role == "user"),
        fence=fence,
        traceback=traceback,
        code_lines=code_lines + ctx_code,
        lines=lines + ctx_lines,
        doc_chars=doc_chars,
        question=qstart or "?" in tail_q,
        math=len(_MATH_INLINE.findall(ask)) if _MATH_GATE.search(ask) else 0,
        numbers=len(_NUMBER.findall(ask)),
        number_words=counts[lx.NUMBER],
        sentences=ask.count(". ") + ask.count("? ") + ask.count("! ") + ask.count(".\n"),
        words=words,
        code_words=counts[lx.CODE],
        code_ask=counts[lx.CODE_VERB] > 0 and counts[lx.CODE_NOUN] > 0,
        retrieval_ask=counts[lx.RETRIEVAL],
        math_words=counts[lx.MATH],
        reason_ask=counts[lx.REASON],
        simple_ask=counts[lx.SIMPLE],
        greeting=greeting,
    )
