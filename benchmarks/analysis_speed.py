"""Per-prompt CPU cost of the analyzers, and a golden file proving optimisations change nothing.

    python benchmarks/analysis_speed.py                          # time both analyzers
    python benchmarks/analysis_speed.py --golden /tmp/golden.json --write   # record outputs
    python benchmarks/analysis_speed.py --golden /tmp/golden.json           # compare to them

Every prompt of the held-out, realistic and blind sets and of the real public sets
(``data/real/*.jsonl``, issue 16) is analysed with the decision cache off;
each call is timed with ``time.thread_time_ns`` (CPU of this thread, immune to other processes on
a shared box) and ``perf_counter_ns`` (wall). The first pass is a warm-up and records outputs:
task, complexity, confidence, signals, and every task's probability (semantic) or evidence score
(heuristic) rounded to 6 places, which is stricter than the 3 places ``analyze()`` reports.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
SETS = ("heldout", "realistic", "blind", "blind2", "blind3")


def load_prompts() -> list[tuple[str, Any]]:
    from zeta_router.analysis import Prompt, prompt_from_messages

    out: list[tuple[str, Any]] = []
    for name in SETS:
        with open(DATA / f"{name}.jsonl", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                it = json.loads(line)
                p = (
                    prompt_from_messages(it["messages"])
                    if "messages" in it
                    else Prompt.from_text(it["prompt"])
                )
                out.append((f"{name}/{it['id']}", p))
    for path in sorted((DATA / "real").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                it = json.loads(line)
                out.append((f"real/{it['id']}", Prompt.from_text(it["prompt"])))
    return out


def rss_mb() -> tuple[float, float]:
    """Resident and peak resident memory of this process (Linux), in MB."""
    fields = dict(
        line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
    )
    return (
        int(fields["VmRSS"].split()[0]) / 1024,
        int(fields["VmHWM"].split()[0]) / 1024,
    )


def outputs(analyzer: Any, prompt: Any) -> dict[str, Any]:
    profile = analyzer.analyze(prompt)
    if analyzer.name == "semantic":
        probs = analyzer.probabilities(prompt)[0]
    else:
        from zeta_router.analysis.features import extract
        from zeta_router.analysis.heuristic import score

        probs = score(extract(prompt))[0]
    return {
        "task": profile.task,
        "complexity": round(profile.complexity, 6),
        "confidence": round(profile.confidence, 6),
        "signals": list(profile.signals),
        "probs": {k: round(v, 6) for k, v in probs.items()},
    }


def _reported(out: dict[str, Any]) -> tuple[Any, ...]:
    return out["task"], out["complexity"], out["confidence"], out["signals"]


def pct(xs: list[int], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] / 1000.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--analyzer", choices=("heuristic", "semantic", "both"), default="both")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--golden", type=Path, help="JSON file of outputs to compare with or write")
    ap.add_argument("--write", action="store_true", help="write --golden instead of comparing")
    args = ap.parse_args()

    from zeta_router.analysis import build_analyzer
    from zeta_router.config import AnalysisSettings

    prompts = load_prompts()
    start_rss = rss_mb()[0]
    names = ("heuristic", "semantic") if args.analyzer == "both" else (args.analyzer,)
    golden: dict[str, dict[str, Any]] = {}
    failed = False
    for name in names:
        analyzer = build_analyzer(AnalysisSettings(analyzer=name, cache_size=0))
        golden[name] = {key: outputs(analyzer, p) for key, p in prompts}
        cpu: list[int] = []
        wall: list[int] = []
        gc.disable()
        try:
            for _ in range(args.repeats):
                for _, p in prompts:
                    c, t = time.thread_time_ns(), time.perf_counter_ns()
                    analyzer.analyze(p)
                    wall.append(time.perf_counter_ns() - t)
                    cpu.append(time.thread_time_ns() - c)
        finally:
            gc.enable()
        print(
            f"{name:9s} n={len(prompts)}x{args.repeats}  "
            f"cpu p50 {pct(cpu, 0.5):6.1f} µs  p99 {pct(cpu, 0.99):6.1f} µs  "
            f"mean {sum(cpu) / len(cpu) / 1000:6.1f} µs   "
            f"wall p50 {pct(wall, 0.5):6.1f} µs  p99 {pct(wall, 0.99):6.1f} µs"
        )
        rss, peak = rss_mb()
        print(
            f"{'':9s} RSS {rss:.0f} MB (+{rss - start_rss:.0f} MB over the prompts loaded), "
            f"peak {peak:.0f} MB"
        )
    if args.golden and args.write:
        args.golden.write_text(json.dumps(golden, indent=0, sort_keys=True), encoding="utf-8")
        print(f"wrote {args.golden}")
    elif args.golden:
        want = json.loads(args.golden.read_text(encoding="utf-8"))
        for name in names:
            diffs = [k for k, v in golden[name].items() if want[name].get(k) != v]
            tasks = [k for k in diffs if want[name][k]["task"] != golden[name][k]["task"]]
            shown = [k for k in diffs if _reported(want[name][k]) != _reported(golden[name][k])]
            drift = max(
                (
                    abs(p - want[name][k]["probs"][t])
                    for k in diffs
                    for t, p in golden[name][k]["probs"].items()
                ),
                default=0.0,
            )
            print(
                f"{name:9s} outputs differing: {len(diffs)}  reported (task, complexity, "
                f"confidence, signals) differing: {len(shown)}  tasks differing: {len(tasks)}  "
                f"max probability change {drift:.1e}"
            )
            for k in diffs[:5]:
                print(f"  {k}: want {want[name][k]}\n  {' ' * len(k)}  got  {golden[name][k]}")
            failed = failed or bool(diffs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
