"""The semantic analyzer: exemplar similarity from a small static embedding model, combined with
the structural features by a small trained linear head.

Words alone mislead (a pasted article about cooking "looks like" cooking, not like a reading
task), and structure alone misses what plain words say ("is 1001 prime?"), so each task's logit is

    w_ask * sim(ask, task exemplars) + w_all * sim(last turn, task exemplars)
    + V_task . features + U_task . [embedding(ask), embedding(last turn)]

with a shared weight on similarity, so custom tasks from the config (which have exemplars but no
trained weights) plug into the same softmax. The head is fitted offline by
``benchmarks/train_semantic.py`` on real prompts from public sources, and ships as
``semantic_head.json``; its temperature is fitted on leave-one-source-out predictions so
``confidence`` is a calibrated probability on sources it never saw.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from zeta_router.analysis.embedder import StaticEmbedder
from zeta_router.analysis.exemplars import EXEMPLARS
from zeta_router.analysis.features import DOC_CHARS, Features, extract, split_ask
from zeta_router.analysis.heuristic import (
    ELLIPTIC_WORDS,
    SHORT_DOC_CHARS,
    complexity,
    score,
    softmax,
)
from zeta_router.analysis.profile import Prompt, TaskProfile, estimate_tokens
from zeta_router.config import AnalysisSettings

BUILTIN = ("code", "reasoning", "simple", "retrieval")
# Text embedded as "the whole turn": enough of the head and tail to catch code or a topic.
_ALL_HEAD = 1200
_ALL_TAIL = 400
_TOP_K = 3
# Margin for a custom task over the built-in task it borrows structural weights from, in units
# of exemplar similarity (so it means the same after the head is retrained with other weights):
# the more specific definition wins unless the parent's exemplars match clearly better.
_CUSTOM_MARGIN_SIM = 0.04
# When the structural evidence alone is this sure (the heuristic's calibrated probability), the
# exemplars and the head are not consulted: it saves about half the work on such prompts. The
# bar is where the heuristic's sure calls still agree with the full model on real prompts from
# outside the project as well as on the team's sets (BENCHMARKS.md, issue 16: at 0.98 the
# heuristic was confidently wrong on real StackOverflow titles and shell asks). Not applied with
# custom tasks, which only the exemplars know.
STRUCTURE_SURE = 0.995
#: Runs of Latin script, general punctuation and space; what is left is another script. The
#: bundled model's vocabulary is BERT's English one: it holds few of those characters, so a
#: prompt written in Chinese, Japanese or Cyrillic embeds as little more than its digits and
#: punctuation, which reads as code. The heuristic's structure and multilingual cues decide
#: such prompts instead.
_NOT_FOREIGN = re.compile(r"[\x00-\u024f\u2000-\u206f\s]+")
#: Share of an ask's first characters outside the vocabulary's scripts from which it is foreign.
FOREIGN_SHARE = 0.3
_FOREIGN_SAMPLE = 500


def foreign_share(text: str) -> float:
    """Share of the non-space characters of ``text``'s start written outside the Latin scripts."""
    sample = text[:_FOREIGN_SAMPLE]
    if sample.isascii():  # nearly every prompt: one C-level pass, no regex
        return 0.0
    visible = len(sample) - sum(map(sample.count, (" ", "\n", "\t")))
    # Deleting the runs of Latin text leaves the rest: one new string, not one per character.
    return len(_NOT_FOREIGN.sub("", sample)) / max(visible, 1)


Array = npt.NDArray[np.float32]


def feature_vector(f: Features, heur: Mapping[str, float] | None = None) -> list[float]:
    """Structural features scaled to roughly [0, 1]; the order is the head's contract.
    ``heur`` is ``score(f)[0]`` when the caller has it already."""
    if heur is None:
        heur, _ = score(f)
    # Translating pasted text is a rewrite; replying to it or continuing it is reading it.
    rewrite = f.transform_ask and not (f.reply_ask or f.summary_ask)
    follow_up = f.user_turns > 1 and f.words <= ELLIPTIC_WORDS and f.doc_chars < SHORT_DOC_CHARS
    return [
        float(f.fence),
        float(f.traceback),
        min(f.code_ratio, 1.0),
        min(f.code_lines, 20) / 20,
        min(f.code_words, 3) / 3,
        float(f.code_ask),
        min(math.log1p(f.doc_chars) / math.log(10000), 1.0),
        float(f.doc_chars >= DOC_CHARS),
        min(f.retrieval_ask, 2) / 2,
        float(f.question),
        min(f.math, 4) / 4,
        min(f.math_words, 4) / 4,
        min(f.numbers + f.number_words, 6) / 6,
        min(f.reason_ask, 3) / 3,
        min(f.simple_ask, 2) / 2,
        float(f.greeting),
        float(f.chars < 120),
        min(math.log1p(f.chars) / math.log(20000), 1.0),
        float(f.turns > 2),
        min(f.code_tokens, 3) / 3,
        float(f.io_examples),
        float(rewrite),
        float(rewrite and f.doc_chars >= DOC_CHARS),
        float(f.back_ref),
        float(f.conversion),
        min(f.context_code, 3) / 3,
        min(f.context_math, 3) / 3,
        float(f.doc_chars >= SHORT_DOC_CHARS),
        float(f.context_markers),
        float(f.numbers >= 3),
        *(heur[t] / 5 for t in BUILTIN),
        float(f.reply_ask and f.doc_chars >= SHORT_DOC_CHARS),
        min(f.context_reason, 2) / 2,
        # A short follow-up that names no topic of its own, after a programming or math turn.
        float(follow_up and f.context_code > 0),
        float(follow_up and f.context_math > 0),
        min(f.explain_ask, 2) / 2,
        min(f.writing_ask, 2) / 2,
        float(f.estimate_ask),
        float(f.shell_ask),
    ]


FEATURE_COUNT = 42


@dataclass(frozen=True, slots=True)
class Head:
    w_ask: float
    w_all: float
    weights: Mapping[str, tuple[float, ...]]  # per built-in task, over feature_vector()
    bias: Mapping[str, float]
    custom_bias: float
    temperature: float
    # per built-in task, over the ask's and the whole turn's embeddings side by side
    embedding_weights: Mapping[str, tuple[float, ...]]

    @classmethod
    def load(cls) -> Head:
        text = resources.files(__package__).joinpath("semantic_head.json").read_text("utf-8")
        d = json.loads(text)
        weights = {t: tuple(float(x) for x in d["weights"][t]) for t in BUILTIN}
        if any(len(w) != FEATURE_COUNT for w in weights.values()):
            raise ValueError("semantic_head.json does not match this version's features")
        embedding = {t: tuple(float(x) for x in d["embedding_weights"][t]) for t in BUILTIN}
        return cls(
            w_ask=float(d["w_ask"]),
            w_all=float(d["w_all"]),
            weights=weights,
            bias={t: float(d["bias"][t]) for t in BUILTIN},
            custom_bias=float(d["custom_bias"]),
            temperature=float(d["temperature"]),
            embedding_weights=embedding,
        )


class SemanticAnalyzer:
    """Built once at start-up: loads the embedder and embeds every exemplar."""

    name = "semantic"

    def __init__(
        self,
        embedder: StaticEmbedder,
        head: Head,
        custom: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.embedder = embedder
        self.head = head
        examples: dict[str, list[str]] = {t: list(EXEMPLARS[t]) for t in BUILTIN}
        for task, texts in (custom or {}).items():
            examples.setdefault(task, []).extend(t for t in texts if t.strip())
        self.tasks = tuple(t for t, xs in examples.items() if xs)
        self.custom = tuple(t for t in self.tasks if t not in BUILTIN)
        bounds: list[tuple[int, int]] = []
        rows: list[str] = []
        for t in self.tasks:
            bounds.append((len(rows), len(rows) + len(examples[t])))
            rows.extend(examples[t])
        self._bounds = tuple(bounds)
        # Exemplar rows per task padded to one width with an index of a -inf slot, so top-k per
        # task is one sort over a small matrix instead of a numpy call per task (call overhead,
        # not arithmetic, dominates at this size).
        width = max(b - a for a, b in bounds)
        pad = len(rows)
        self._gather = np.array(
            [list(range(a, b)) + [pad] * (width - (b - a)) for a, b in bounds], dtype=np.intp
        )
        self._top_k = min(_TOP_K, width)
        self._k_per_task = np.array([min(_TOP_K, b - a) for a, b in bounds], dtype=np.float32)
        # Only a task with fewer exemplars than k has -inf among its top k to zero out.
        self._padded = any(b - a < self._top_k for a, b in bounds)
        self._matrix: Array = embedder.embed_many(rows)
        # A custom task has no trained structural weights; it borrows those of the built-in task
        # its own examples are classified as (a "translation" task competes with "simple" on
        # equal structural terms) plus a small margin, so the more specific definition wins a tie.
        self._weights = np.zeros((len(self.tasks), FEATURE_COUNT), dtype=np.float32)
        self._embedding_weights = np.zeros((len(self.tasks), 2 * embedder.dim), dtype=np.float32)
        self._bias = np.full(len(self.tasks), -1e4, dtype=np.float32)
        for i, t in enumerate(self.tasks):
            if t in BUILTIN:
                self._weights[i] = head.weights[t]
                if len(head.embedding_weights[t]) != 2 * embedder.dim:
                    raise ValueError("semantic_head.json does not match the embedding model")
                self._embedding_weights[i] = head.embedding_weights[t]
                self._bias[i] = head.bias[t]
        self.parents = {t: self._parent(examples[t]) for t in self.custom}
        for t, parent in self.parents.items():
            i, j = self.tasks.index(t), self.tasks.index(parent)
            self._weights[i] = self._weights[j]
            self._embedding_weights[i] = self._embedding_weights[j]
            margin = _CUSTOM_MARGIN_SIM * (head.w_ask + head.w_all)
            self._bias[i] = self._bias[j] + margin

    def _parent(self, examples: Sequence[str]) -> str:
        votes = dict.fromkeys(BUILTIN, 0)
        for text in examples:
            probs, _, _ = self.probabilities(Prompt.from_text(text))
            votes[max(BUILTIN, key=probs.__getitem__)] += 1
        return max(BUILTIN, key=votes.__getitem__)

    @classmethod
    def from_settings(cls, settings: AnalysisSettings) -> SemanticAnalyzer:
        custom = {
            name: (*task.examples, *((task.description,) if task.description else ()))
            for name, task in settings.tasks.items()
        }
        return cls(StaticEmbedder(), Head.load(), custom)

    def similarities(self, text: str) -> Array:
        """Per task, the mean cosine similarity of the text to its top-k exemplars."""
        out: Array = self._similarities(self.embedder.embed(text)[None, :])[0]
        return out

    def _similarities(self, vectors: Array) -> Array:
        """``similarities`` for each row of ``vectors`` (unit embeddings): one numpy call per
        step for all of them, because call overhead, not arithmetic, dominates at this size."""
        # No ``@`` on the request path: see StaticEmbedder.embed on OpenBLAS threads. einsum
        # (without optimize=) runs numpy's own dot loops, never BLAS, and unlike multiply-then-
        # sum it allocates no rows x dim product: 11 -> 4 µs a text. Its summation order differs
        # in the last float32 bit (probabilities move by <= 2e-6; no reported value changes).
        sims = np.empty((len(vectors), len(self._matrix) + 1), dtype=np.float32)
        np.einsum("ij,kj->ki", self._matrix, vectors, out=sims[:, :-1])
        sims[:, -1] = -np.inf
        top = np.sort(sims[:, self._gather], axis=2)[:, :, -self._top_k :]
        if self._padded:
            top = np.where(top > -np.inf, top, 0.0)
        out: Array = top.sum(axis=2) / self._k_per_task
        return out

    def probabilities(
        self,
        prompt: Prompt,
        f: Features | None = None,
        heur: Mapping[str, float] | None = None,
    ) -> tuple[dict[str, float], Features, Array]:
        """Per-task probabilities, the features and the ask's exemplar similarities; ``f`` and
        ``heur`` are ``extract(prompt)`` and ``score(f)[0]`` when the caller has them."""
        if f is None:
            f = extract(prompt)
        last = prompt.last_user
        _, ask = split_ask(last)
        whole = last if len(last) <= _ALL_HEAD + _ALL_TAIL else last[:_ALL_HEAD] + last[-_ALL_TAIL:]
        embed = self.embedder.embed
        # Short prompts are their own ask: one embedding, not two.
        if ask == whole:
            e_all = e_ask = embed(whole)
            s_all = s_ask = self._similarities(e_all[None, :])[0]
        else:
            e_all, e_ask = embed(whole), embed(ask)
            s_all, s_ask = self._similarities(np.stack((e_all, e_ask)))
        x = np.array(feature_vector(f, heur), dtype=np.float32)
        # Multiply-and-sum, not ``@``: see StaticEmbedder.embed on OpenBLAS threads.
        e = np.concatenate((e_ask, e_all))
        logits = (
            self.head.w_ask * s_ask
            + self.head.w_all * s_all
            + (self._weights * x).sum(axis=1)
            + (self._embedding_weights * e).sum(axis=1)
            + self._bias
        )
        z = logits / self.head.temperature
        z = np.exp(z - z.max())
        z /= z.sum()
        return dict(zip(self.tasks, (float(p) for p in z), strict=True)), f, s_ask

    def analyze(self, prompt: Prompt) -> TaskProfile:
        f = extract(prompt)
        heur, why = score(f)
        sure = False
        if not self.custom:
            probs = softmax(heur)
            task = max(probs, key=probs.__getitem__)
            sure = probs[task] >= STRUCTURE_SURE
        if sure:
            why.append("structure decisive, exemplars not consulted")
        elif not self.custom and foreign_share(prompt.last_user) >= FOREIGN_SHARE:
            why.append("script outside the embedding's vocabulary: structure and cues decide")
        else:
            probs, _, s_ask = self.probabilities(prompt, f, heur)
            task = max(probs, key=probs.__getitem__)
            i = self.tasks.index(task)
            why.append(f"similar to {task} examples ({float(s_ask[i]):.2f})")
        return TaskProfile(
            task=task,
            complexity=round(complexity(f, task), 3),
            confidence=round(min(max(probs[task], 0.0), 1.0), 3),
            prompt_tokens=estimate_tokens(prompt.chars),
            source=self.name,
            signals=tuple(dict.fromkeys(why)),
        )
