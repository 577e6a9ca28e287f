"""Classification accuracy and latency of the analyzers, side by side.

    python benchmarks/classify_eval.py                       # held-out split, all analyzers
    python benchmarks/classify_eval.py --split tune --analyzer heuristic
    python benchmarks/classify_eval.py --no-cli              # in-process only

Accuracy comes from the ``zeta-router classify`` command (the public contract: JSON lines in,
JSON lines out). Per-prompt latency is measured in-process by timing ``analyze()`` directly with
the cache disabled, because a subprocess round trip says nothing about one prompt.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
TASKS = ("code", "reasoning", "simple", "retrieval")
BUCKETS = ((0, 200, "<200"), (200, 1000, "200-1k"), (1000, 4000, "1k-4k"), (4000, 10**9, ">4k"))


def load(split: str) -> list[dict[str, Any]]:
    with open(DATA / f"{split}.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def chars(item: dict[str, Any]) -> int:
    if "prompt" in item:
        return len(item["prompt"])
    return sum(len(str(m.get("content", ""))) for m in item["messages"])


def run_cli(items: Sequence[dict[str, Any]], analyzer: str) -> tuple[dict[str, str], float]:
    exe = shutil.which("zeta-router")
    cmd = [exe] if exe else [sys.executable, "-m", "zeta_router"]
    stdin = "".join(json.dumps({k: v for k, v in it.items() if k != "task"}) + "\n" for it in items)
    start = time.perf_counter()
    proc = subprocess.run(
        [*cmd, "classify", "--analyzer", analyzer],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"zeta-router classify failed ({proc.returncode}):\n{proc.stderr}")
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        row = json.loads(line)
        if row.get("id") is not None and "task" in row:
            out[row["id"]] = row["task"]
    return out, elapsed


def run_inprocess(
    items: Sequence[dict[str, Any]], analyzer_name: str, repeats: int
) -> tuple[dict[str, str], list[float], float]:
    from zeta_router.analysis import Prompt, build_analyzer, prompt_from_messages
    from zeta_router.config import AnalysisSettings

    start = time.perf_counter()
    analyzer = build_analyzer(AnalysisSettings(analyzer=analyzer_name, cache_size=0))
    load_s = time.perf_counter() - start
    prompts = [
        prompt_from_messages(it["messages"]) if "messages" in it else Prompt.from_text(it["prompt"])
        for it in items
    ]
    preds = {it["id"]: analyzer.analyze(p).task for it, p in zip(items, prompts, strict=True)}
    timings: list[float] = []
    gc.disable()
    try:
        for _ in range(repeats):
            for p in prompts:
                t = time.perf_counter()
                analyzer.analyze(p)
                timings.append(time.perf_counter() - t)
    finally:
        gc.enable()
    return preds, timings, load_s


def report(name: str, items: Sequence[dict[str, Any]], preds: dict[str, str]) -> float:
    print(f"\n== {name}: {len(items)} prompts")
    recalls = []
    for task in TASKS:
        tp = sum(1 for it in items if it["task"] == task and preds.get(it["id"]) == task)
        support = sum(1 for it in items if it["task"] == task)
        predicted = sum(1 for it in items if preds.get(it["id"]) == task)
        p = tp / predicted if predicted else 0.0
        r = tp / support if support else 0.0
        recalls.append(r)
        print(f"  {task:10s} precision {p:5.3f}  recall {r:5.3f}  (n={support})")
    macro = statistics.fmean(recalls)
    acc = sum(1 for it in items if preds.get(it["id"]) == it["task"]) / len(items)
    print(f"  macro accuracy (mean per-task recall) {macro:.3f}   overall accuracy {acc:.3f}")
    parts = []
    for lo, hi, label in BUCKETS:
        bucket = [it for it in items if lo <= chars(it) < hi]
        if bucket:
            ok = sum(1 for it in bucket if preds.get(it["id"]) == it["task"])
            parts.append(f"{label}: {ok / len(bucket):.3f} (n={len(bucket)})")
    print("  accuracy by length  " + "   ".join(parts))
    return macro


def pct(xs: Sequence[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="heldout", help="tune | heldout (default) | all")
    ap.add_argument("--analyzer", action="append", help="heuristic, semantic (default: both)")
    ap.add_argument("--no-cli", action="store_true", help="skip the subprocess run")
    ap.add_argument("--repeats", type=int, default=5, help="latency passes over the set")
    ap.add_argument("--errors", action="store_true", help="print misclassified prompts")
    args = ap.parse_args(argv)
    items = load("tune") + load("heldout") if args.split == "all" else load(args.split)
    for name in args.analyzer or ["heuristic", "semantic"]:
        if args.no_cli:
            preds, timings, load_s = run_inprocess(items, name, args.repeats)
            source = "in-process"
        else:
            preds, elapsed = run_cli(items, name)
            _, timings, load_s = run_inprocess(items, name, args.repeats)
            source = f"CLI: {len(items) / elapsed:.0f} prompts/s incl. start-up {elapsed:.2f}s"
        report(f"{name} ({source})", items, preds)
        print(
            f"  latency in-process p50 {pct(timings, 0.5) * 1e3:.3f} ms   "
            f"p99 {pct(timings, 0.99) * 1e3:.3f} ms   max {max(timings) * 1e3:.3f} ms   "
            f"load {load_s * 1e3:.0f} ms"
        )
        if args.errors:
            for it in items:
                if preds.get(it["id"]) != it["task"]:
                    text = it.get("prompt") or json.dumps(it["messages"])[-300:]
                    flat = text[:160].replace("\n", " ")
                    print(f"    {it['id']} want {it['task']} got {preds.get(it['id'])}: {flat}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
