"""Fit the semantic analyzer's linear head on the training sets (never on held-out or realistic).

    python benchmarks/train_semantic.py     # writes src/zeta_router/analysis/semantic_head.json
    python benchmarks/train_semantic.py --train tune   # the original tuning split only

Training data: ``tune.jsonl`` (template-generated) plus ``supplement.jsonl`` (hand-written in
benchmark and chat-user styles, independently of the ``realistic.jsonl`` test set).

A conditional-logit model: a shared weight on each task's own exemplar similarity (ask and whole
turn) plus per-task weights over the structural features, L2-regularised. The L2 strength is
chosen by 5-fold cross-validation on the tuning split, and a softmax temperature is fitted on the
out-of-fold logits so the reported confidence is calibrated.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from zeta_router.analysis import Prompt, prompt_from_messages
from zeta_router.analysis.embedder import StaticEmbedder
from zeta_router.analysis.features import extract, split_ask
from zeta_router.analysis.semantic import (
    _ALL_HEAD,
    _ALL_TAIL,
    BUILTIN,
    FEATURE_COUNT,
    Head,
    SemanticAnalyzer,
    feature_vector,
)

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src/zeta_router/analysis/semantic_head.json"


def design(splits: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    zero = Head(
        0.0,
        0.0,
        {t: (0.0,) * FEATURE_COUNT for t in BUILTIN},
        dict.fromkeys(BUILTIN, 0.0),
        0.0,
        1.0,
    )
    an = SemanticAnalyzer(StaticEmbedder(), zero)
    rows = []
    for split in splits:
        with open(ROOT / f"benchmarks/data/{split}.jsonl", encoding="utf-8") as fh:
            rows.extend(json.loads(x) for x in fh if x.strip())
    A, B, X, y = [], [], [], []
    for r in rows:
        p = (
            prompt_from_messages(r["messages"])
            if "messages" in r
            else Prompt.from_text(r["prompt"])
        )
        last = p.last_user
        whole = last if len(last) <= _ALL_HEAD + _ALL_TAIL else last[:_ALL_HEAD] + last[-_ALL_TAIL:]
        A.append(an.similarities(split_ask(last)[1]))
        B.append(an.similarities(whole))
        X.append(feature_vector(extract(p)))
        y.append(BUILTIN.index(r["task"]))
    return np.array(A), np.array(B), np.array(X, dtype=np.float64), np.array(y)


def logits(
    params: dict[str, np.ndarray], A: np.ndarray, B: np.ndarray, X: np.ndarray
) -> np.ndarray:
    return params["wa"] * A + params["wb"] * B + X @ params["V"].T + params["b"]


def fit(
    A: np.ndarray, B: np.ndarray, X: np.ndarray, y: np.ndarray, lam: float
) -> dict[str, np.ndarray]:
    k = len(BUILTIN)
    p = {"wa": np.array(1.0), "wb": np.array(1.0), "V": np.zeros((k, X.shape[1])), "b": np.zeros(k)}
    m = {n: np.zeros_like(v) for n, v in p.items()}
    s = {n: np.zeros_like(v) for n, v in p.items()}
    onehot = np.eye(k)[y]
    for step in range(1, 3001):  # Adam: the problem is small and convex
        z = logits(p, A, B, X)
        z -= z.max(axis=1, keepdims=True)
        pr = np.exp(z)
        pr /= pr.sum(axis=1, keepdims=True)
        g = (pr - onehot) / len(y)
        grads = {
            "wa": np.array((g * A).sum()),
            "wb": np.array((g * B).sum()),
            "V": g.T @ X + lam * p["V"],
            "b": g.sum(axis=0),
        }
        for n in p:
            m[n] = 0.9 * m[n] + 0.1 * grads[n]
            s[n] = 0.999 * s[n] + 0.001 * grads[n] ** 2
            p[n] = p[n] - 0.05 * (m[n] / (1 - 0.9**step)) / (
                np.sqrt(s[n] / (1 - 0.999**step)) + 1e-8
            )
    return p


def nll(z: np.ndarray, y: np.ndarray, t: float) -> float:
    z = z / t
    z = z - z.max(axis=1, keepdims=True)
    return float(-(z[np.arange(len(y)), y] - np.log(np.exp(z).sum(axis=1))).mean())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", nargs="+", default=["tune", "supplement"], help="splits to fit on")
    args = ap.parse_args()
    A, B, X, y = design(args.train)
    rng = np.random.default_rng(0)
    folds = rng.permutation(len(y)) % 5
    best = None
    for lam in (0.0003, 0.001, 0.003, 0.01, 0.03):
        oof = np.zeros((len(y), len(BUILTIN)))
        for f in range(5):
            tr, te = folds != f, folds == f
            p = fit(A[tr], B[tr], X[tr], y[tr], lam)
            oof[te] = logits(p, A[te], B[te], X[te])
        acc = float((oof.argmax(axis=1) == y).mean())
        print(f"lambda {lam}: out-of-fold accuracy {acc:.3f}", file=sys.stderr)
        if best is None or acc > best[0]:
            best = (acc, lam, oof)
    assert best is not None
    acc, lam, oof = best
    pred = oof.argmax(axis=1)
    macro = float(np.mean([(pred[y == k] == k).mean() for k in range(len(BUILTIN))]))
    print(
        f"chosen lambda {lam}: out-of-fold accuracy {acc:.3f}, macro {macro:.3f}", file=sys.stderr
    )
    temps = np.linspace(0.3, 4.0, 75)
    t = float(temps[np.argmin([nll(oof, y, t) for t in temps])])
    p = fit(A, B, X, y, lam)
    head = {
        "w_ask": float(p["wa"]),
        "w_all": float(p["wb"]),
        "weights": {
            task: [round(float(v), 5) for v in p["V"][i]] for i, task in enumerate(BUILTIN)
        },
        "bias": {task: round(float(p["b"][i]), 5) for i, task in enumerate(BUILTIN)},
        "custom_bias": round(float(p["b"].mean()), 5),
        "temperature": round(t, 4),
        "trained_on": ", ".join(f"benchmarks/data/{t}.jsonl" for t in args.train),
        "l2": lam,
    }
    OUT.write_text(json.dumps(head, indent=1) + "\n", encoding="utf-8")
    print(
        f"wrote {OUT} (lambda {lam}, temperature {t:.2f}, "
        f"w_ask {head['w_ask']:.2f}, w_all {head['w_all']:.2f})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
