"""A/B of the routing decision's CPU per request in two source trees: profile, route, plan and
feedback reordering, as ``Router.handle`` runs them before any upstream attempt.

    python benchmarks/decision_ab.py /work/main/src src --rounds 3

Each tree runs in its own interpreter (``PYTHONPATH`` pointing at it) over the same prompts (the
held-out, realistic and blind sets, as chat requests), heuristic analyzer, the example config.
Each decision is timed with ``time.thread_time_ns`` (this thread's CPU, immune to other
processes on a shared box). Pass 1 is cold (every prompt analysed); pass 2 is warm (the decision
cache answers, as for a repeated prompt). Rounds alternate between the trees.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
SETS = ("heldout", "realistic", "blind", "blind2", "blind3")


def _bodies() -> list[bytes]:
    out = []
    for name in SETS:
        for line in (DATA / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            it = json.loads(line)
            messages = it.get("messages") or [{"role": "user", "content": it["prompt"]}]
            out.append(json.dumps({"model": "auto", "messages": messages}).encode())
    return out


def _pct(xs: list[int], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000.0


def child() -> dict[str, Any]:
    from zeta_router.config import load_config
    from zeta_router.http.protocol import parse_request
    from zeta_router.router import Router

    config = load_config(
        str(Path(__import__("zeta_router").__file__).parent / "data" / "example.yaml")
    )
    config = config.model_copy(
        update={"analysis": config.analysis.model_copy(update={"analyzer": "heuristic"})}
    )
    router = Router(config)
    reqs = [parse_request("chat", b) for b in _bodies()]
    decide = getattr(router, "decide", None)

    def one(req: Any) -> None:
        if decide is not None:
            decide(req, None)
            return
        profile = router.profile(req, None)
        task, _ = router.route_task(profile)
        p = router.plan_for(req, profile, task)
        router.feedback.reorder(p, profile.complexity, router.config.models)

    out: dict[str, Any] = {}
    for phase in ("cold", "warm"):
        times = []
        for req in reqs:
            t0 = time.thread_time_ns()
            one(req)
            times.append(time.thread_time_ns() - t0)
        out[phase] = {"n": len(times), "p50_us": _pct(times, 0.5), "p99_us": _pct(times, 0.99)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    results: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        for name, tree in (("before", args.before), ("after", args.after)):
            env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
            raw = subprocess.run(
                [sys.executable, __file__, "--child"],
                env=env,
                capture_output=True,
                check=True,
                cwd=Path(__file__).parent,
            ).stdout
            results[name].append(json.loads(raw))
    print(f"{'tree':<8}{'phase':<6}{'n':>6}{'p50 µs (median)':>17}{'p99 µs (median)':>17}")
    for name, runs in results.items():
        for phase in ("cold", "warm"):
            p50 = sorted(r[phase]["p50_us"] for r in runs)[len(runs) // 2]
            p99 = sorted(r[phase]["p99_us"] for r in runs)[len(runs) // 2]
            n = runs[0][phase]["n"]
            print(f"{name:<8}{phase:<6}{n:>6}{p50:>17.1f}{p99:>17.1f}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        sys.stdout.write(json.dumps(child()))
        sys.exit(0)
    sys.exit(main())
