"""The analyzer's text embedder: a static model distilled from all-MiniLM-L6-v2, bundled here.

``data/minilm-l6-v2-static-64.npz`` holds one int8 vector of 64 dimensions and one float weight
per WordPiece token of MiniLM's uncased vocabulary (29,523 tokens), built offline by
``benchmarks/distill_static.py`` from the transformer's output for each token (model2vec's
recipe: PCA, per-row int8). A text's embedding is the normalised weighted sum of its tokens'
vectors, tokenised by ``wordpiece.py``. Nothing is downloaded and no other package is read: the
file ships inside this package (all-MiniLM-L6-v2 is Apache-2.0; see NOTICE).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from importlib.resources.abc import Traversable

import numpy as np
import numpy.typing as npt

from zeta_router.analysis.wordpiece import WordPiece

MODEL = "minilm-l6-v2-static-64.npz"

Vector = npt.NDArray[np.float32]


def bundled_model() -> Traversable:
    return resources.files(__package__).joinpath("data").joinpath(MODEL)


class StaticEmbedder:
    """Text -> unit vector. Thread-compatible, as its tokenizer is."""

    def __init__(self, model: Traversable | None = None) -> None:
        with (model or bundled_model()).open("rb") as fh, np.load(fh, allow_pickle=False) as data:
            self.tokenizer = WordPiece(data["vocab"].tolist())
            # int8 rows stay int8 (1.9 MB); the gather casts the few rows a text needs.
            self.vectors: npt.NDArray[np.int8] = data["vectors"].astype(np.int8, copy=False)
            self.weights: Vector = data["weights"].astype(np.float32, copy=False)
        if self.vectors.shape[0] != len(self.weights) or len(self.weights) != len(
            self.tokenizer.vocab
        ):
            raise ValueError(f"{MODEL}: vocabulary, vectors and weights differ in length")
        self.dim = int(self.vectors.shape[1])
        self.ids = self.tokenizer.ids

    def embed(self, text: str) -> Vector:
        ids = self.ids(text)
        if not ids:
            return np.zeros(self.dim, dtype=np.float32)
        # Elementwise products, not ``@``: a BLAS call on a matrix this small can wake OpenBLAS's
        # thread pool, which costs milliseconds at the tail on a busy 2-core box. int8 rows times
        # float32 weights are already float32 (int8 is exact in float32), so no cast is needed.
        idx = np.array(ids, dtype=np.intp)
        v: Vector = (self.vectors[idx] * self.weights[idx][:, None]).sum(axis=0, dtype=np.float32)
        norm = np.sqrt((v * v).sum())
        if norm > 0:
            v /= norm
        return v

    def embed_many(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self.embed(t) for t in texts])
