"""A static model distilled from all-MiniLM-L6-v2, read with a pure-Python WordPiece tokenizer.

The model (``benchmarks/distill_static.py``) holds one int8 vector per WordPiece token of
MiniLM's uncased vocabulary and a float weight per token; a text's embedding is the weighted
sum of its tokens' vectors, normalised. Tokenisation follows BERT's basic tokenizer closely
enough for a bag of vectors: lower-case, accents stripped, split on whitespace and on each
punctuation character, then greedy longest-match WordPiece with ``##`` continuation pieces
(on the 1,005 real prompts it gives the same ids as HF ``tokenizers`` for all but one: BERT keeps
a math symbol such as "√" joined to the digits after it).

Benchmark-only: the distilled model did not beat the shipped one by enough to ship (BENCHMARKS.md,
"Distilled MiniLM static model"). Written as the runtime reader would be (no HF tokenizers, memo
and segment budget as ``analysis/embedder.py``), so its cost is the cost shipping would have.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import numpy.typing as npt

from zeta_router.analysis.embedder import StaticEmbedder

# BERT splits off every punctuation character, ASCII symbols included ("_", "$", "`"), and
# keeps runs of letters and digits together.
_WORDS = re.compile(r"[^\W_]+|[^\w\s]|_")
# Longest run tried as one word; longer runs (hashes, base64) say nothing about the task.
_MAX_WORD = 32
# Characters of out-of-vocabulary words segmented per text, as in embedder.py.
_SEGMENT_BUDGET = 400
_MEMO_SIZE = 50_000

Vector = npt.NDArray[np.float32]


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


class WordPieceEmbedder:
    """Text -> unit vector. Thread-compatible: the memo is a plain dict guarded by size only."""

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            tokens = data["vocab"].tolist()
            self.vectors: npt.NDArray[np.int8] = data["vectors"].astype(np.int8, copy=False)
            self.weights: Vector = data["weights"].astype(np.float32, copy=False)
        self.mapping = np.arange(len(tokens), dtype=np.int32)
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self.dim = int(self.vectors.shape[1])
        self.max_piece = max(map(len, tokens))
        self._memo: dict[str, tuple[int, ...]] = {}

    def pieces(self, word: str) -> tuple[int, ...]:
        """Greedy longest-match WordPiece; a stretch no piece covers is skipped a character at a
        time (BERT would turn the whole word into [UNK], which carries no meaning here)."""
        memo = self._memo.get(word)
        if memo is not None:
            return memo
        vocab = self.vocab
        found: list[int] = []
        i, prefix = 0, ""
        while i < len(word):
            for j in range(min(len(word), i + self.max_piece), i, -1):
                hit = vocab.get(prefix + word[i:j])
                if hit is not None:
                    found.append(hit)
                    i, prefix = j, "##"
                    break
            else:
                i += 1
        ids = tuple(found)
        if len(self._memo) < _MEMO_SIZE:
            self._memo[word] = ids
        return ids

    def ids(self, text: str) -> list[int]:
        text = text.lower()
        if not text.isascii():
            text = _strip_accents(text)
        words = _WORDS.findall(text)
        get = self.vocab.get
        hits = list(map(get, words))
        out: list[int] = []
        budget = _SEGMENT_BUDGET
        for word, hit in zip(words, hits, strict=True):
            if hit is not None:
                out.append(hit)
                continue
            word = word[:_MAX_WORD]
            if budget > 0:
                # Counted whether or not the word is memoised, so the output never depends on
                # what the analyzer has seen before.
                budget -= len(word)
                out.extend(self.pieces(word))
        return out

    # Same weighted sum and normalisation as the shipped reader (mapping is the identity here).
    embed = StaticEmbedder.embed
    embed_many = StaticEmbedder.embed_many
