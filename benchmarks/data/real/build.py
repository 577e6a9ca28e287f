"""Build the per-source JSONL sets of real prompts from the transcriptions in ``raw/``.

    python benchmarks/data/real/build.py      # rewrites <source>.jsonl, variants/ and pool/

Each ``raw/*.py`` module holds items copied from a public file (see PROVENANCE.md for the repo,
path, commit and selection rule), with the JSON escapes ``\\n`` and ``\\\\`` kept as written in
the source. Every source goes through ``shared/tools/drop_heldout.py``, which drops items that
copy one of the product's held-out evaluation prompts; the counts it drops are printed.

``pool/<source>.jsonl`` is the enlarged training pool (``raw/pool.py``): more items of the same
public files under the same source names, so a fold that holds a source out holds out its pool
items too. Pool items that repeat an evaluated item (or share half its word 5-grams) are dropped
as well, so no evaluated prompt is trained on under another source's name.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw"
DROP = Path("/work/shared/tools/drop_heldout.py")
LABELS = {"c": "code", "r": "reasoning", "s": "simple", "t": "retrieval"}
ORGANIC = ("oasst", "alpaca_eval", "wizardlm")
# Items per source before the third round of issue 16; the rows after them (appended, so the
# earlier ids are unchanged) carry ``"round": 3`` so the earlier set can still be scored alone.
EARLIER = {"oasst": 204, "alpaca_eval": 57, "bbh": 26}


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, RAW / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def decode(text: str) -> str:
    """The two JSON escapes kept in the transcriptions: ``\\\\`` and ``\\n``."""
    return text.replace("\\\\", "\0").replace("\\n", "\n").replace("\0", "\\")


def lines(block: str) -> list[str]:
    return [decode(x) for x in block.strip("\n").split("\n") if x.strip()]


def labelled(block: str, fields: int) -> list[tuple[str, list[str], str]]:
    """``label|meta...|prompt`` lines -> (task, meta, prompt); a label ending in ``!`` is a
    hand override of the source-category mapping and is kept in the metadata."""
    out = []
    for line in block.strip("\n").split("\n"):
        parts = line.split("|", fields - 1)
        label, meta, prompt = parts[0], parts[1:-1], parts[-1]
        override = label.endswith("!")
        out.append(
            (
                LABELS[label.rstrip("!")],
                [*meta, *(["override"] if override else [])],
                decode(prompt),
            )
        )
    return out


# Three layouts people use to ask about a passage, rotated over the items.
SQUAD_LAYOUTS = (
    "{c}\n\n{q}",
    "Context: {c}\nQuestion: {q}",
    "Read the passage and answer the question.\n\n{c}\n\n{q}",
)
# The source's own text of a templated item (passage + question, dialogue): what the pool's
# repeat check compares, so a shared instruction template does not make two items "repeats".
CORE = "_core"


def bbh(*blocks: tuple[str, str]) -> list[dict[str, object]]:
    return [
        {"task": "reasoning", "prompt": p, "subtask": name}
        for name, block in blocks
        for p in lines(block)
    ]


def squad(paragraphs: list[tuple[str, list[str]]]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for context, questions in paragraphs:
        for q in questions:
            prompt = SQUAD_LAYOUTS[len(out) % 3].format(c=context, q=q)
            out.append({"task": "retrieval", "prompt": prompt, CORE: f"{context} {q}"})
    return out


def samsum(dialogues: list[str], definition: str) -> list[dict[str, object]]:
    """Alternately after the task's own definition or before a plain ask."""
    out: list[dict[str, object]] = []
    for i, dialogue in enumerate(dialogues):
        d = dialogue.strip()
        prompt = (
            f"{definition.strip()}\n\n{d}" if i % 2 == 0 else f"{d}\n\nSummarize this conversation."
        )
        out.append({"task": "retrieval", "prompt": prompt, CORE: d})
    return out


def sources() -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    oa = _module("oasst")
    # One source for both Open-Assistant files: the same users and collection, so a fold that
    # holds Open-Assistant out holds out both (en_100 rows come after the en_250 ones).
    out["oasst"] = [{"task": t, "prompt": p} for t, _, p in labelled(oa.ITEMS, 2)] + [
        {"task": t, "prompt": p, "file": "en_100_text"} for t, _, p in labelled(oa.ITEMS_EN100, 2)
    ]
    al = _module("alpaca")
    out["alpaca_eval"] = [
        {"task": t, "prompt": p, "dataset": m[0], **({"override": True} if "override" in m else {})}
        for t, m, p in labelled(al.ITEMS, 3)
    ]
    wz = _module("wizardlm")
    out["wizardlm"] = [
        {"task": t, "prompt": p, "skill": m[0], **({"override": True} if "override" in m else {})}
        for t, m, p in labelled(wz.ITEMS, 3)
    ]
    cs = _module("code_sources")
    out["conala"] = [{"task": "code", "prompt": p} for p in lines(cs.CONALA)]
    out["coclr_webquery"] = [{"task": "code", "prompt": p} for p in lines(cs.COCLR)]
    out["nl2bash"] = [{"task": "code", "prompt": p} for p in lines(cs.NL2BASH)]
    rs = _module("reasoning_sources")
    out["math"] = [{"task": "reasoning", "prompt": p} for p in lines(rs.MATH)]
    out["fermi"] = [{"task": "reasoning", "prompt": p} for p in lines(rs.FERMI)]
    out["bbh"] = bbh(
        ("date_understanding", rs.BBH_DATE),
        ("web_of_lies", rs.BBH_LIES),
        ("logical_deduction_three_objects", rs.BBH_DEDUCTION),
        ("navigate", rs.BBH_NAVIGATE),
        ("object_counting", rs.BBH_COUNTING),
        ("temporal_sequences", rs.BBH_TEMPORAL),
    )
    rt = _module("retrieval_sources")
    out["squad"] = squad(rt.SQUAD)
    out["samsum"] = samsum(lines(rt.SAMSUM), rt.SAMSUM_DEFINITION)
    turns = [x.split("|", 1) for x in lines(rt.QMSUM_MEETING)]
    transcript = "\n".join(f"{s}: {c}" for s, c in turns)
    out["qmsum"] = [
        {"task": "retrieval", "prompt": f"{transcript}\n\n{q}", "span": "turns 1-35 of the cut"}
        for q in rt.QMSUM_QUERIES
    ] + [
        {
            "task": "retrieval",
            "prompt": "Meeting transcript:\n"
            + "\n".join(f"{s}: {c}" for s, c in turns[17:])
            + "\n\nWhat was said about the equipment?",
            "span": "turns 18-35 of the cut",
        }
    ]
    out["cnn_dailymail"] = [
        {"task": "retrieval", "prompt": p}
        for a in rt.CNN_ARTICLES
        for p in (
            f"{a}\n\nWrite the highlights of this article.",
            f"Summarize the following news article in three sentences.\n\n{a}",
        )
    ]
    nq = _module("nq")
    out["nq_open"] = [{"task": "simple", "prompt": p} for p in lines(nq.ITEMS)]
    ie = _module("ifeval")
    out["ifeval"] = [{"task": "simple", "prompt": p} for p in lines(ie.ITEMS)]
    return out


def pool_sources() -> dict[str, list[dict[str, object]]]:
    """The pool's items per source, labelled by the same source-level mapping (PROVENANCE.md),
    except alpaca_eval's, which are hand-labelled like the evaluated alpaca_eval items."""
    pl = _module("pool")
    rt = _module("retrieval_sources")
    out: dict[str, list[dict[str, object]]] = {
        "conala": [{"task": "code", "prompt": p} for p in lines(pl.CONALA)],
        "coclr_webquery": [{"task": "code", "prompt": p} for p in lines(pl.COCLR)],
        "nl2bash": [{"task": "code", "prompt": p} for p in lines(pl.NL2BASH)],
        "math": [{"task": "reasoning", "prompt": p} for p in lines(pl.MATH)],
        "fermi": [{"task": "reasoning", "prompt": p} for p in lines(pl.FERMI)],
        "bbh": bbh(
            ("causal_judgement", pl.BBH_CAUSAL),
            ("penguins_in_a_table", pl.BBH_PENGUINS),
            ("multistep_arithmetic_two", pl.BBH_ARITHMETIC),
            ("formal_fallacies", pl.BBH_FALLACIES),
            ("reasoning_about_colored_objects", pl.BBH_COLORED),
        ),
        "nq_open": [{"task": "simple", "prompt": p} for p in lines(pl.NQ)],
        "wizardlm": [
            {
                "task": t,
                "prompt": p,
                "skill": m[0],
                **({"override": True} if "override" in m else {}),
            }
            for t, m, p in labelled(pl.WIZARDLM, 3)
        ],
        # Hand-labelled like raw/alpaca.py (PROVENANCE.md, "Labels"), not by a source mapping.
        "alpaca_eval": [
            {"task": t, "prompt": p, "dataset": m[0]} for t, m, p in labelled(pl.ALPACA, 3)
        ],
    }
    out["squad"] = squad(pl.SQUAD)
    out["samsum"] = samsum(lines(pl.SAMSUM), rt.SAMSUM_DEFINITION)
    return out


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _grams(text: str) -> set[str]:
    w = _words(text)
    return {" ".join(w[i : i + 5]) for i in range(max(1, len(w) - 4))}


def drop_repeats(
    items: list[dict[str, object]], evaluated: list[dict[str, object]]
) -> list[dict[str, object]]:
    """Pool items that are neither an evaluated item nor share half of the word 5-grams of one
    (either way round), nor repeat an earlier pool item."""
    index: dict[str, set[int]] = {}
    sizes = []
    for i, it in enumerate(evaluated):
        g = _grams(str(it["prompt"]))
        sizes.append(len(g))
        for h in g:
            index.setdefault(h, set()).add(i)
    seen: set[str] = set()
    out = []
    for it in items:
        text = str(it.get(CORE, it["prompt"]))
        key = " ".join(_words(text))
        g = _grams(text)
        shared: dict[int, int] = {}
        for h in g:
            for i in index.get(h, ()):
                shared[i] = shared.get(i, 0) + 1
        if key in seen or any(c * 2 >= len(g) or c * 2 >= sizes[i] for i, c in shared.items()):
            continue
        seen.add(key)
        out.append({k: v for k, v in it.items() if k != CORE})
    return out


def heldout_filter(items: list[dict[str, object]]) -> tuple[list[dict[str, object]], str]:
    raw = "".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items)
    proc = subprocess.run(
        [sys.executable, str(DROP)], input=raw, capture_output=True, text=True, check=True
    )
    return [json.loads(x) for x in proc.stdout.splitlines() if x.strip()], proc.stderr.strip()


SYSTEM = "You are a helpful assistant."
IMAGE = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}


def context_variants(kept: dict[str, list[dict[str, object]]]) -> list[dict[str, object]]:
    """The same requests in the shapes chat clients send, to measure what the surroundings do to
    the task: a generic system prompt, a content-part list (text + an image part), an earlier
    unrelated exchange, and for passages + questions the passage in the system prompt (RAG) or
    in an earlier user turn. Every third item of every source; labels are the item's own."""
    out: list[dict[str, object]] = []
    for name, items in kept.items():
        for it in items[::3]:
            text = str(it["prompt"])
            base = {"task": it["task"], "source": name, "of": it["id"], "organic": it["organic"]}
            shapes = {
                "system": [
                    {"role": "system", "content": SYSTEM},
                    {"role": "user", "content": text},
                ],
                "parts": [{"role": "user", "content": [{"type": "text", "text": text}, IMAGE]}],
                "history": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "Hello! How can I help you today?"},
                    {"role": "user", "content": text},
                ],
            }
            for shape, messages in shapes.items():
                out.append(
                    {**base, "id": f"{it['id']}-{shape}", "shape": shape, "messages": messages}
                )
    rt = _module("retrieval_sources")
    for i, (context, questions) in enumerate(rt.SQUAD):
        q = questions[0]
        for shape, messages in {
            "rag-system": [
                {"role": "system", "content": f"Answer from this document:\n{context}"},
                {"role": "user", "content": q},
            ],
            "doc-earlier-turn": [
                {"role": "user", "content": context},
                {"role": "assistant", "content": "Thanks, I have read it."},
                {"role": "user", "content": q},
            ],
        }.items():
            out.append(
                {
                    "id": f"squad-ctx-{i}-{shape}",
                    "task": "retrieval",
                    "source": "squad",
                    "organic": False,
                    "shape": shape,
                    "messages": messages,
                }
            )
    return out


def main() -> int:
    kept_all: dict[str, list[dict[str, object]]] = {}
    for name, items in sources().items():
        kept, note = heldout_filter([{k: v for k, v in it.items() if k != CORE} for it in items])
        rows = [
            {
                "id": f"{name}-{i:03d}",
                "source": name,
                "organic": name in ORGANIC,
                **it,
                **({"round": 3} if i >= EARLIER.get(name, len(kept)) else {}),
            }
            for i, it in enumerate(kept)
        ]
        kept_all[name] = rows
        with open(HERE / f"{name}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        print(f"{name}: {len(items)} read, {len(kept)} kept ({note})")
    variants = context_variants(kept_all)
    (HERE / "variants").mkdir(exist_ok=True)
    with open(HERE / "variants" / "context.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in variants)
    print(f"variants/context.jsonl: {len(variants)} requests")
    evaluated = [it for rows in kept_all.values() for it in rows]
    (HERE / "pool").mkdir(exist_ok=True)
    for name, items in pool_sources().items():
        kept, note = heldout_filter(items)
        fresh = drop_repeats(kept, evaluated)
        rows = [
            {
                "id": f"{name}-pool-{i:03d}",
                "source": name,
                "organic": name in ORGANIC,
                "pool": True,
                **it,
            }
            for i, it in enumerate(fresh)
        ]
        with open(HERE / "pool" / f"{name}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        print(
            f"pool/{name}: {len(items)} read, {len(kept)} kept ({note}), "
            f"{len(kept) - len(fresh)} more dropped as repeats of an evaluated or earlier item"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
