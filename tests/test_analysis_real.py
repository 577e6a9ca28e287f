"""The semantic analyzer on real prompts: it loads offline from the installed packages, its head
matches the shipped embedding model, and it classifies real prompts it was never trained on.

The held-out items below come from the same public files as ``benchmarks/data/real/`` (pages
read for it, items not transcribed there), so the head never saw them; each passed
``shared/tools/drop_heldout.py``. Their source is named beside each.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numpy")

from zeta_router.analysis import Prompt, build_analyzer, prompt_from_messages
from zeta_router.analysis import embedder as embedder_mod
from zeta_router.analysis.embedder import StaticEmbedder, bundled_model
from zeta_router.analysis.semantic import BUILTIN, Head, SemanticAnalyzer
from zeta_router.config import AnalysisSettings

ROOT = Path(__file__).parent.parent
CONVERSATION = (
    "In this task, you are given a conversation, and your task is to generate a summary from "
    "the information present in the given conversation. Generate a summary in such a way that "
    "the context should be present in the conversation. It should cover the complete context of "
    "the conversation.\n\nCassidy: Have you seen my glasses?, Ben: There are not in the "
    "bathroom?, Cassidy: No, I've already looked there, Ben: Maybe in our bedroom?, Cassidy: "
    "Forget it, I've found them, they were in the fridge. Don't ask why"
)
JAVA = (
    "How can I fix this Java code to avoid a ConcurrentModificationException when iterating "
    'over a list and removing some elements? "import java.util.ArrayList;\\nimport '
    "java.util.List;\\n\\npublic class Main {\\n    public static void main(String[] args) {\\n"
    "        List<Integer> numbers = new ArrayList<>();\\n        numbers.add(1);\\n"
    "        for (Integer n : numbers) {\\n            if (n % 2 == 0) {\\n"
    '                numbers.remove(n);\\n            }\\n        }\\n    }\\n}"'
)
HELD_OUT = [
    ("who is the lead singer of depeche mode", "simple"),  # NQ-open dev
    ("who won the champions league final in 2016", "simple"),  # NQ-open dev
    (  # WizardLM testset idx 185 (Art)
        "Which art movement of the late 19th and early 20th century was influenced by Japanese "
        "prints and featured flat areas of color, organic forms, and decorative patterns?\n\n"
        "A) Art Nouveau B) Cubism C) Impressionism D) Expressionism\n\nChoose the correct answer.",
        "simple",
    ),
    ('Add executable permission to "java_ee_sdk-6u2-jdk-linux-x64.sh"', "code"),  # nl2bash
    (JAVA, "code"),  # WizardLM testset idx 101 (Code Debug)
    ("Determine the number of ways to arrange the letters of the word CEASE.", "reasoning"),
    (  # MATH via RISE
        "A bag contains 16 congruent blocks, 4 of which are blue and 12 of which are red. Two "
        "blocks are randomly pulled from the bag at the same time. What is the probability that "
        "both blocks are blue? Express your answer as a common fraction.",
        "reasoning",
    ),
    (  # BBH web_of_lies
        "Question: Vina tells the truth. Helene says Vina lies. Kandi says Helene tells the "
        "truth. Jamey says Kandi lies. Ka says Jamey lies. Does Ka tell the truth?",
        "reasoning",
    ),
    (CONVERSATION, "retrieval"),  # natural-instructions task1572 (samsum)
]


@pytest.fixture(scope="module")
def analyzer() -> SemanticAnalyzer:
    return SemanticAnalyzer(StaticEmbedder(), Head.load())


def test_model_loads_offline_without_touching_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the analyzer tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    built = build_analyzer(AnalysisSettings(analyzer="semantic", cache_size=0))
    assert isinstance(built, SemanticAnalyzer)
    assert built.analyze(Prompt.from_text("python list comprehension")).task == "code"
    # The model file is this package's own, not another distribution's.
    assert Path(str(bundled_model())).is_relative_to(Path(embedder_mod.__file__).parent)


def test_model_loads_in_a_fresh_offline_process() -> None:
    code = (
        "from zeta_router.analysis import build_analyzer, Prompt\n"
        "from zeta_router.config import AnalysisSettings\n"
        "a = build_analyzer(AnalysisSettings(analyzer='semantic', cache_size=0))\n"
        "print(a.name, a.analyze(Prompt.from_text('who wrote hamlet')).task)\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    import os

    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == ["semantic", "simple"]


def test_head_matches_the_embedding_model() -> None:
    head = Head.load()
    dim = StaticEmbedder().dim
    assert all(len(head.embedding_weights[t]) == 2 * dim for t in BUILTIN)
    shipped = json.loads((ROOT / "src/zeta_router/analysis/semantic_head.json").read_text())
    assert "benchmarks/data/real" in shipped["trained_on"]
    # Fitted on this very model file: a rebuild of the same size would load and read nonsense.
    with bundled_model().open("rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    assert shipped["embedding_model"] == {"file": embedder_mod.MODEL, "sha256": digest}


def test_real_held_out_prompts(analyzer: SemanticAnalyzer) -> None:
    wrong = []
    for text, task in HELD_OUT:
        profile = analyzer.analyze(Prompt.from_text(text))
        assert 0.0 <= profile.confidence <= 1.0
        if profile.task != task:
            wrong.append((task, profile.task, text[:60]))
    # One miss in nine is allowed: these are real prompts, not ones written for the test.
    assert len(wrong) <= 1, wrong


def test_surroundings_do_not_change_a_real_prompts_task(analyzer: SemanticAnalyzer) -> None:
    """A generic system prompt, an image part next to the text, and an unrelated earlier
    exchange leave the task of the last request as it is."""
    for text, task in HELD_OUT:
        plain = analyzer.analyze(Prompt.from_text(text)).task
        shapes: list[list[dict[str, object]]] = [
            [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": text},
            ],
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": text},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
                    ],
                }
            ],
        ]
        for messages in shapes:
            assert analyzer.analyze(prompt_from_messages(messages)).task == plain, (task, text)


def test_passage_in_the_system_prompt_or_an_earlier_turn_is_retrieval(
    analyzer: SemanticAnalyzer,
) -> None:
    passage = (
        "The Normans thereafter adopted the growing feudal doctrines of the rest of France, and "
        "worked them into a functional hierarchical system in both Normandy and in England. Most "
        "Norman knights remained poor and land-hungry, and by 1066 Normandy had been exporting "
        "fighting horsemen for more than a generation."
    )
    question = "What was one of the Norman's major exports?"
    rag = [
        {"role": "system", "content": "Answer from this document:\n" + passage},
        {"role": "user", "content": question},
    ]
    earlier = [
        {"role": "user", "content": passage},
        {"role": "assistant", "content": "Thanks, I have read it."},
        {"role": "user", "content": question},
    ]
    for messages in (rag, earlier):
        assert analyzer.analyze(prompt_from_messages(messages)).task == "retrieval"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "benchmarks/data/real").glob("*.jsonl"))
    + sorted((ROOT / "benchmarks/data/real/pool").glob("*.jsonl")),
    ids=lambda p: p.name,
)
def test_every_file_read_as_a_prompt_source_holds_labelled_prompts(path: Path) -> None:
    # train_semantic, classify_eval --real and analysis_speed read every such file as prompts:
    # anything else there (a side table of labels, say) breaks them.
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert row["task"] in BUILTIN, (path.name, row.get("id"))
        assert isinstance(row.get("prompt"), str) or isinstance(row.get("messages"), list), (
            path.name,
            row.get("id"),
        )
