"""Interleaved A/B of the routing decision's cost in two source trees: ``perf.py``'s in-process
decision benchmark (analysis + policy + balancer, analyzer cache off, the eval conversations),
run in one interpreter per tree with ``PYTHONPATH`` pointing at it.

    python benchmarks/decision_ab.py /work/main/src src --rounds 3 -n 5000

Prints the median over rounds of each tree's p50 and p99, wall and thread CPU time. On a shared
machine, thread CPU time is the figure to compare: wall-clock tails are mostly other processes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
_MARK = "DECISION-AB "
KEYS = ("p50_us", "p99_us", "cpu_p50_us", "cpu_p99_us")


def _child(n: int, analyzer: str) -> None:
    sys.path.insert(0, str(HERE))
    import perf

    out = perf.decision_cost(n, analyzer)
    print(_MARK + json.dumps({k: out[k] for k in KEYS}))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path, help="the first tree's src/ directory")
    ap.add_argument("after", type=Path, help="the second tree's src/ directory")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("--analyzer", default="heuristic")
    args = ap.parse_args(argv)
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        for name, tree in (("before", args.before), ("after", args.after)):
            env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
            cmd = [sys.executable, __file__, "--child", str(args.n), args.analyzer]
            text = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            line = next(ln for ln in text.splitlines() if ln.startswith(_MARK))
            runs[name].append(json.loads(line[len(_MARK) :]))
    print(f"decision, analyzer {args.analyzer}, n={args.n}, median of {args.rounds} rounds (µs)")
    print(f"{'tree':<8}" + "".join(f"{k:>12}" for k in KEYS))
    for name, rs in runs.items():
        med = {k: sorted(r[k] for r in rs)[len(rs) // 2] for k in KEYS}
        print(f"{name:<8}" + "".join(f"{med[k]:>12.1f}" for k in KEYS))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(int(sys.argv[2]), sys.argv[3])
        sys.exit(0)
    sys.exit(main())
