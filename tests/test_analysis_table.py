"""The heuristic analyzer as a fitted table: its cues, its shipped weights and what they sum to."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from zeta_router.analysis import HeuristicAnalyzer, Prompt
from zeta_router.analysis.cues import FAMILIES, NAMES, read
from zeta_router.analysis.features import extract
from zeta_router.analysis.heuristic import TABLE, TASKS, Table, score

ROOT = Path(__file__).parent.parent
SAMPLES = (
    "hi",
    "write a python function that reverses a linked list",
    "Traceback (most recent call last):\n  File \"a.py\", line 3\nKeyError: 'x'\nwhy?",
    "If a train leaves at 3pm going 60 mph, when does it arrive 150 miles away?",
    "Context: The Normans were ... a people.\nQuestion: who were the Normans?",
    "Kill processes listening on port 3000",  # NL2Bash all.nl, offset 400000: not evaluated
    "How many ants would fit in to The Shard?",  # Fermi realFP train split: not evaluated
)


def test_every_family_reads_one_value_per_named_cue() -> None:
    assert len(set(NAMES)) == len(NAMES)
    for text in SAMPLES:
        f = extract(Prompt.from_text(text))
        for fam in FAMILIES:
            assert len(fam.read(f)) == len(fam.names) == len(fam.reasons)
        assert len(read(f)) == len(NAMES)


def test_shipped_table_is_fitted_and_covers_every_cue() -> None:
    d = json.loads((ROOT / "src/zeta_router/analysis/data/heuristic_table.json").read_text())
    assert d["fitted_by"].startswith("python benchmarks/fit_heuristic.py")
    assert "benchmarks/data/real" in d["trained_on"]
    assert set(d["weights"]) == set(NAMES)
    assert len(TABLE.rows) == len(NAMES) and len(TABLE.bias) == len(TASKS)


def test_a_table_with_other_cues_is_refused() -> None:
    d = json.loads((ROOT / "src/zeta_router/analysis/data/heuristic_table.json").read_text())
    del d["weights"][NAMES[0]]
    with pytest.raises(ValueError, match="cues"):
        Table.parse(d)


@pytest.mark.parametrize("text", SAMPLES)
def test_score_is_the_table_summed_over_the_cues_that_fire(text: str) -> None:
    f = extract(Prompt.from_text(text))
    got, _ = score(f)
    values = read(f)
    for j, task in enumerate(TASKS):
        want = TABLE.bias[j] + sum(v * row[j] for v, row in zip(values, TABLE.rows, strict=True))
        assert math.isclose(got[task], want, abs_tol=1e-9)


def test_shell_one_liners_and_estimates_are_cues_of_their_own() -> None:
    assert extract(Prompt.from_text("Kill processes listening on port 3000")).shell_ask
    assert extract(Prompt.from_text('List all *.txt files under "/etc"')).shell_ask
    # LaTeX variables are no shell variables, and a list of ideas is no file listing.
    assert not extract(Prompt.from_text("Find the number of real roots of $x^3 + 3x$")).shell_ask
    assert not extract(Prompt.from_text("List three ideas for a birthday party")).shell_ask
    assert extract(Prompt.from_text("How many ants would fit in to The Shard?")).estimate_ask
    # A recorded figure is trivia, not an estimate.
    assert not extract(Prompt.from_text("how many episodes are there in friends")).estimate_ask
    heuristic = HeuristicAnalyzer()
    assert heuristic.analyze(Prompt.from_text("Kill processes listening on port 3000")).task == (
        "code"
    )
