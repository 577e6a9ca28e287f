"""Fast text matching for the feature extractors: word splitting, literal sets and gated regex
alternations.

Python's regex engine tries every branch of an alternation at every position, and ``in`` has no
fast path on wide (non-ASCII) strings; these helpers pick the cheap test for each case, so a
feature costs microseconds on a 4 kB prompt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice

# A branch of a regex alternation with a test that is false when the branch can match nowhere.
Gate = Callable[[str], bool]


def has(*subs: str) -> Gate:
    if len(subs) == 1:
        # No generator for the common single-needle gate: it runs on every counted text.
        (sub,) = subs
        return lambda text: sub in text
    return lambda text: any(sub in text for sub in subs)


def finds(pattern: str) -> Gate:
    search = re.compile(pattern).search
    return lambda text: search(text) is not None


def non_ascii_finds(pattern: str) -> Gate:
    search = re.compile(pattern).search
    return lambda text: not text.isascii() and search(text) is not None


def starts_or_finds(prefix: str, pattern: str) -> Gate:
    # A branch that starts with ``\A`` defeats the engine's fast scan for a first character.
    search = re.compile(pattern).search
    return lambda text: text.startswith(prefix) or search(text) is not None


@dataclass(frozen=True, slots=True)
class Literals:
    """Substrings of which any one is searched for.

    ``in`` is the fastest test on ASCII text, but a wide (UCS-2/4) string has no fast path for
    it (~0.8 µs a needle on 1.5 kB of prose with one accent, even searching its UTF-8 bytes);
    the regex engine's scan for a literal takes ~0.6 µs there.
    """

    needles: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]

    @classmethod
    def of(cls, *needles: str) -> Literals:
        return cls(needles, tuple(re.compile(re.escape(needle)) for needle in needles))

    def any_in(self, text: str) -> bool:
        if text.isascii():
            return any(map(text.__contains__, self.needles))
        return any(p.search(text) is not None for p in self.patterns)


@dataclass(frozen=True, slots=True)
class Branches:
    """A regex alternation matched as its separately compiled branches, skipping the branches
    that can match nowhere in the text.

    Python's engine tries every branch at every position (~15 µs a branch on a 1,200-character
    ask), and compiling the alternation of just the branches a text needs cost ~0.1 ms the first
    time each combination occurred (52 times in a first pass over the eval sets, enough to set
    the p99). Instead each branch is searched on its own: the alternation's next match is the
    leftmost of the branches' next matches, the earliest branch on a tie, with that branch's span,
    which is what the engine finds trying the branches in order at each position. Searching from
    an offset still sees the text before it (lookbehinds, ``\b``, ``^``), and no branch matches
    the empty string, so the matches are exactly those of the full alternation.
    """

    parts: tuple[tuple[re.Pattern[str], Gate], ...]

    @classmethod
    def of(cls, parts: tuple[tuple[str, Gate], ...], flags: int = 0) -> Branches:
        return cls(tuple((re.compile(p, flags), can_match) for p, can_match in parts))

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        # Each live branch with its next match at or after ``pos``; a branch whose next match
        # was overlapped by the one taken is searched again from ``pos``.
        ahead = [(rx, rx.search(text)) for rx, can_match in self.parts if can_match(text)]
        pos = 0
        while True:
            first: re.Match[str] | None = None
            for i, (rx, m) in enumerate(ahead):
                if m is not None and m.start() < pos:
                    m = rx.search(text, pos)
                    ahead[i] = rx, m
                if m is not None and (first is None or m.start() < first.start()):
                    first = m
            if first is None:
                return
            yield first
            pos = first.end()

    def count(self, text: str, cap: int) -> int:
        return len(list(islice(self.finditer(text), cap)))


_WORD = re.compile(r"[\w+#']+")
# The ASCII bytes outside _WORD's class mapped to spaces, then split in C: the same tokens 3x
# faster than the regex, whose per-character class test dominates. Bytes from 128 up occur only
# in the UTF-8 of non-ASCII characters, which are left to _NON_ASCII_SPLIT.
_WORD_BYTES = bytes(
    c if c >= 128 or chr(c).isalnum() or chr(c) in "_+#'" else ord(" ") for c in range(256)
)
_NON_ASCII_SPLIT = re.compile(r"[^\x00-\x7f\w]")


def split_words(text: str) -> list[str]:
    """``_WORD.findall(text)``."""
    if not text.isascii():
        # Usually ASCII but for an accent or a curly quote: blank the few non-ASCII separators
        # with one class scan, then split on the ASCII ones as below (12 -> 4 µs on 600 chars).
        # Lone surrogates are separators too, so none is left to encode.
        text = _NON_ASCII_SPLIT.sub(" ", text)
        return text.encode("utf-8").translate(_WORD_BYTES).decode("utf-8").split()
    return text.encode("ascii").translate(_WORD_BYTES).decode("ascii").split()
