"""BERT's uncased WordPiece tokenisation in pure Python, for the bundled static model.

Lower-case; outside ASCII, CJK ideographs split one per word and accents stripped (NFD, combining
marks dropped), as BERT's basic tokenizer does; split on whitespace and on each punctuation
character; then greedy longest-match against the vocabulary with ``##`` continuation pieces.
Two differences from BERT, both for a bag of vectors rather than a transformer: a stretch no
piece covers is skipped a character at a time (BERT turns the whole word into ``[UNK]``, which
carries no meaning here), and any non-alphanumeric character is its own word (BERT keeps a math
symbol such as "√" joined to the digits after it). No HF ``tokenizers``, no files but the
vocabulary given.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import cast

# Runs of letters and digits stay together; every other character but whitespace is a word of
# its own, ASCII symbols included ("_", "$", "`"), as BERT splits them.
_WORDS = re.compile(r"[^\W_]+|[^\w\s]|_")
# The code points BERT's tokenizer treats as CJK ideographs (kana and Hangul are not among them).
_CJK = re.compile(
    "([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df\U0002a700-\U0002b73f"
    "\U0002b740-\U0002b81f\U0002b820-\U0002ceaf\U0002f800-\U0002fa1f])"
)
_CONTINUATION = "##"
# Longer runs (hashes, base64, minified code) are cut to this many characters before matching:
# their pieces carry no meaning, and matching a 4,000-character run piece by piece would cost
# milliseconds.
MAX_WORD = 32
# Characters of out-of-vocabulary words segmented per text; beyond that such words are skipped.
# A text of gibberish or identifiers otherwise costs milliseconds, and a few hundred characters
# of rare words say all they can about a text's task.
SEGMENT_BUDGET = 400
# Bounded per-instance memo of word -> piece ids; most traffic reuses a small vocabulary.
MEMO_SIZE = 50_000


def _normalise(text: str) -> str:
    text = _CJK.sub(r" \1 ", text)
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


class WordPiece:
    """Text -> token ids. Thread-compatible: the memo is a plain dict guarded by size only, and
    what it holds never changes an output (see ``ids``)."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self.max_piece = max((len(t.removeprefix(_CONTINUATION)) for t in tokens), default=1)
        self._memo: dict[str, tuple[int, ...]] = {}

    def pieces(self, word: str) -> tuple[int, ...]:
        """Greedy longest-match WordPiece of one word (already lower-cased and cut)."""
        memo = self._memo.get(word)
        if memo is not None:
            return memo
        get = self.vocab.get
        found: list[int] = []
        i, prefix, n = 0, "", len(word)
        while i < n:
            for j in range(min(n, i + self.max_piece), i, -1):
                hit = get(prefix + word[i:j])
                if hit is not None:
                    found.append(hit)
                    i, prefix = j, _CONTINUATION
                    break
            else:
                i += 1
        ids = tuple(found)
        if len(self._memo) < MEMO_SIZE:
            self._memo[word] = ids
        return ids

    def ids(self, text: str) -> list[int]:
        text = text.lower()
        if not text.isascii():
            text = _normalise(text)
        words = _WORDS.findall(text)
        # Whole words first, in C: most texts are nothing but vocabulary words.
        hits = list(map(self.vocab.get, words))
        if None not in hits:
            return cast(list[int], hits)
        out: list[int] = []
        budget = SEGMENT_BUDGET
        for word, hit in zip(words, hits, strict=True):
            if hit is not None:
                out.append(hit)
            elif budget > 0:
                word = word[:MAX_WORD]
                # Counted whether or not the word is memoised, so the output never depends on
                # what the analyzer has seen before.
                budget -= len(word)
                out.extend(self.pieces(word))
        return out
