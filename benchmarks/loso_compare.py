"""Compare two leave-one-source-out runs of ``train_semantic.py --save-loso`` item by item.

    python benchmarks/loso_compare.py /tmp/before.npz /tmp/after.npz
    python benchmarks/loso_compare.py /tmp/before.npz /tmp/after.npz --with-pool
    python benchmarks/loso_compare.py /tmp/before.npz /tmp/after.npz --pool-only

Both runs must hold the same real items in the same order (the pool rows of a run trained with
``--train real pool ...`` are set aside unless ``--with-pool``, and then both runs need them;
``--pool-only`` scores the pool rows alone, the items no choice of issue 16 was made on).
Prints macro (mean recall over tasks), organic accuracy, recall per task and accuracy per source
for each run, the items that turned right and wrong, and a paired bootstrap of the macro
difference: resampling the items (with replacement) and scoring both runs on the same resample,
so the interval is that of the difference, not of either figure alone.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

TASKS = ("code", "reasoning", "simple", "retrieval")


def macro(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean([(pred[y == k] == k).mean() for k in range(len(TASKS)) if (y == k).any()]))


def load(path: Path, with_pool: bool, pool_only: bool = False) -> dict[str, np.ndarray]:
    d = np.load(path, allow_pickle=False)
    pool = d["pool"] if "pool" in d.files else np.zeros(len(d["y"]), dtype=bool)
    keep = d["real"] & pool if pool_only else d["real"] if with_pool else d["real"] & ~pool
    out = {
        "pred": d["z"][keep].argmax(axis=1),
        "y": d["y"][keep],
        "sources": d["sources"][keep],
        "pool": pool[keep],
    }
    if "organic" in d.files:
        out["organic"] = d["organic"][keep]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--with-pool", action="store_true", help="score the pool rows as well")
    ap.add_argument("--pool-only", action="store_true", help="score the pool rows alone")
    ap.add_argument("--resamples", type=int, default=2000)
    args = ap.parse_args(argv)
    a = load(args.before, args.with_pool, args.pool_only)
    b = load(args.after, args.with_pool, args.pool_only)
    if len(a["y"]) != len(b["y"]) or (a["y"] != b["y"]).any():
        raise SystemExit("the two runs do not hold the same items")
    y = a["y"]
    for name, run in (("before", a), ("after", b)):
        recall = "  ".join(
            f"{t} {float((run['pred'][y == k] == k).mean()):.3f}"
            for k, t in enumerate(TASKS)
            if (y == k).any()
        )
        organic = ""
        if "organic" in run:
            o = run["organic"]
            organic = f"  organic {float((run['pred'][o] == y[o]).mean()):.3f} (n={o.sum()})"
        print(f"{name:6s} macro {macro(run['pred'], y):.3f}{organic}  {recall}")
    print("per source, accuracy before -> after:")
    for src in sorted(set(a["sources"])):
        m = a["sources"] == src
        print(
            f"  {src:16s} n={m.sum():4d}  {float((a['pred'][m] == y[m]).mean()):.3f} -> "
            f"{float((b['pred'][m] == y[m]).mean()):.3f}"
        )
    right = int(((b["pred"] == y) & (a["pred"] != y)).sum())
    wrong = int(((b["pred"] != y) & (a["pred"] == y)).sum())
    rng = np.random.default_rng(0)
    n = len(y)
    diffs = []
    for _ in range(args.resamples):
        i = rng.integers(0, n, n)
        diffs.append(macro(b["pred"][i], y[i]) - macro(a["pred"][i], y[i]))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    print(
        f"macro difference {macro(b['pred'], y) - macro(a['pred'], y):+.4f} "
        f"(95% paired bootstrap {lo:+.4f} to {hi:+.4f}); {right} items turn right, {wrong} wrong",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
