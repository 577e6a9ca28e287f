"""Agreement between the recorded labels of the real prompts and a second, blind reading.

    python benchmarks/label_agreement.py

``data/real/agreement/second_reading.jsonl`` holds a second annotator's label for 200 organic
items drawn at random (seed 20261202) from the 664 of the Open-Assistant, alpaca_eval and
WizardLM sets (in a folder of its own: every ``data/real/*.jsonl`` is read as a source). The
annotator saw the prompts and the written rules (PROVENANCE.md, "Labels") only: not the recorded
labels, the sources, the WizardLM skills or any analyzer output. It prints raw agreement, Cohen's
kappa, agreement per source and on the items the annotator was sure of, and the disagreements.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import train_semantic as ts

AGREEMENT = ts.REAL / "agreement" / "second_reading.jsonl"


def main() -> int:
    first = {r["id"]: r for r in ts.load_items(["real"])}
    second = [json.loads(line) for line in AGREEMENT.read_text(encoding="utf-8").splitlines()]
    pairs = [(first[s["id"]], s) for s in second]
    n = len(pairs)
    agree = sum(r["task"] == s["task"] for r, s in pairs)
    a = Counter(r["task"] for r, _ in pairs)
    b = Counter(s["task"] for _, s in pairs)
    expected = sum(a[t] * b[t] for t in a) / n**2
    kappa = (agree / n - expected) / (1 - expected)
    print(f"{n} items: agreement {agree / n:.3f} ({agree}/{n}), Cohen's kappa {kappa:.3f}")
    for src in sorted({r["source"] for r, _ in pairs}):
        sel = [(r, s) for r, s in pairs if r["source"] == src]
        same = sum(r["task"] == s["task"] for r, s in sel)
        print(f"  {src:12s} {same}/{len(sel)}")
    sure = [(r, s) for r, s in pairs if not s["unsure"]]
    same = sum(r["task"] == s["task"] for r, s in sure)
    print(f"  marked sure: {same}/{len(sure)}; marked unsure: {n - len(sure)}")
    for r, s in pairs:
        if r["task"] != s["task"]:
            print(f"  {r['id']}: recorded {r['task']}, second {s['task']} (rule {s['rule']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
