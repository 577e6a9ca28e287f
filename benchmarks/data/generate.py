"""Build the classification eval set from the hand-written fragments.

    python benchmarks/data/generate.py   # writes tune.jsonl and heldout.jsonl beside this file

Every fragment list is split by index (every third item goes to held-out) *before* templating,
so the held-out split shares no hand-written prompt, snippet, document or question with the
tuning split. Variety (casing, typos, framing, turn structure) is added with a fixed seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import fragments as fr

T = TypeVar("T")
HERE = Path(__file__).parent


def split(items: Sequence[T], heldout: bool) -> list[T]:
    return [x for i, x in enumerate(items) if (i % 3 == 2) == heldout]


def messy(rng: random.Random, text: str) -> str:
    """Sometimes make a prompt look typed in a hurry: lowercase, no final punctuation, a typo."""
    r = rng.random()
    if r < 0.25:
        text = text.lower().rstrip(".?!")
    elif r < 0.35:
        words = text.split(" ")
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 4 and w.isalpha():
            j = rng.randrange(1, len(w) - 2)
            words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        text = " ".join(words)
    return text


def chat(turns: Sequence[tuple[str, str]], system: str = "") -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": system}] if system else []
    return msgs + [{"role": r, "content": c} for r, c in turns]


def build(heldout: bool, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []

    def add(task: str, prompt: str | None = None, messages: Any = None) -> None:
        item: dict[str, Any] = {"id": f"{'h' if heldout else 't'}{len(out):04d}", "task": task}
        if messages is not None:
            item["messages"] = messages
        else:
            item["prompt"] = prompt
        out.append(item)

    pick: Callable[[Sequence[T]], T] = rng.choice

    # --- code
    for ask in split(fr.CODE_ASKS, heldout):
        add("code", messy(rng, ask))
    snippets = split(fr.CODE_SNIPPETS, heldout)
    asks = split(fr.CODE_SNIPPET_ASKS, heldout)
    for lang, code in snippets:
        for _ in range(2):
            ask = messy(rng, pick(asks))
            style = rng.random()
            if style < 0.5:
                add("code", f"```{lang}\n{code}\n```\n{ask}")
            elif style < 0.75:
                add("code", f"{ask}\n\n{code}")
            else:
                add("code", messages=chat([("user", f"{code}\n\n{ask}")]))
    for tb in split(fr.TRACEBACKS, heldout):
        for _ in range(2):
            ask = pick(split(fr.TRACEBACK_ASKS, heldout) or fr.TRACEBACK_ASKS)
            add("code", f"{ask}\n\n{tb}".strip() if rng.random() < 0.5 else f"{tb}\n{ask}".strip())
    for conv in split(fr.MULTITURN_CODE, heldout):
        add(
            "code",
            messages=chat(conv, "You are a helpful assistant." if rng.random() < 0.5 else ""),
        )
    for code in split(fr.LONG_CODE_FILES, heldout) or fr.LONG_CODE_FILES[:1]:
        for ask in split(fr.LONG_CODE_ASKS, heldout):
            add("code", f"{ask}\n\n{code * rng.choice((1, 2))}")

    # --- reasoning
    for ask in split(fr.REASONING_ASKS, heldout):
        add("reasoning", messy(rng, ask))
        if rng.random() < 0.4:
            add("reasoning", messy(rng, ask) + pick((" Think step by step.", " Show your work.")))
    for conv in split(fr.MULTITURN_REASONING, heldout):
        add("reasoning", messages=chat(conv))
    for prob in fr.LONG_MATH[1:] if heldout else fr.LONG_MATH[:1]:
        add("reasoning", prob)

    # --- simple
    for ask in split(fr.SIMPLE_ASKS, heldout):
        add("simple", messy(rng, ask))
    for conv in split(fr.MULTITURN_SIMPLE, heldout):
        add("simple", messages=chat(conv))
    # A long assistant answer followed by a short follow-up is still a simple chat.
    for ask in split(fr.SIMPLE_ASKS, heldout)[:8]:
        doc = pick(split(fr.DOCS, not heldout))  # any prose works as a long assistant answer
        add(
            "simple",
            messages=chat(
                [("user", "tell me something interesting"), ("assistant", doc), ("user", ask)]
            ),
        )

    # --- retrieval
    docs = split(fr.DOCS, heldout)
    questions = split(fr.DOC_QUESTIONS, heldout)
    for doc in docs:
        for _ in range(7):
            body = doc if rng.random() < 0.6 else doc + "\n\n" + pick(docs)
            q = messy(rng, pick(questions))
            style = rng.random()
            if style < 0.45:
                add("retrieval", f"{body}\n\n{q}")
            elif style < 0.7:
                add("retrieval", f"{q}\n\n{body}")
            elif style < 0.85:
                turns = [
                    ("user", f"Here is a document:\n\n{body}"),
                    ("assistant", "Got it. What would you like to know?"),
                    ("user", q),
                ]
                add("retrieval", messages=chat(turns))
            else:
                add("retrieval", messages=chat([("user", q)], pick(fr.RAG_SYSTEMS) + body))
        sq = pick(split(fr.SQUAD_QUESTIONS, heldout))
        add("retrieval", f"Context: {doc}\nQuestion: {sq}")
    return out


def main() -> None:
    for name, heldout, seed in (("tune", False, 7), ("heldout", True, 11)):
        rows = build(heldout, seed)
        with open(HERE / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["task"]] = counts.get(r["task"], 0) + 1
        print(name, len(rows), counts)


if __name__ == "__main__":
    main()
