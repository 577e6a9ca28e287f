"""What the analysis step produces and consumes: a normalised prompt and a task profile."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Turn:
    role: str
    text: str


@dataclass(frozen=True, slots=True)
class Prompt:
    """A request's text, normalised across chat and completions.

    ``turns`` excludes system messages; ``system`` holds them joined. A completions prompt is one
    user turn. Tool/function messages keep their role.
    """

    turns: tuple[Turn, ...]
    system: str = ""

    @property
    def last_user(self) -> str:
        for turn in reversed(self.turns):
            if turn.role == "user":
                return turn.text
        return self.turns[-1].text if self.turns else ""

    @property
    def chars(self) -> int:
        return len(self.system) + sum(len(t.text) for t in self.turns)

    @classmethod
    def from_text(cls, text: str, system: str = "") -> Prompt:
        return cls(turns=(Turn("user", text),), system=system)


@dataclass(frozen=True, slots=True)
class TaskProfile:
    """The analyzer's verdict on one request.

    ``task`` is a route key (built-in: code, reasoning, simple, retrieval, embeddings; users may
    add their own). ``complexity`` and ``confidence`` are in [0, 1]. ``signals`` are short
    human-readable reasons ("code fence", "pasted document + question") for explain output.
    """

    task: str
    complexity: float
    confidence: float
    prompt_tokens: int
    source: str = "heuristic"
    signals: tuple[str, ...] = field(default=())


def estimate_tokens(chars: int) -> int:
    """Rough token count for context-window checks: ~4 characters a token for English and code,
    plus a small per-message overhead margin."""
    return chars // 4 + 8


def _content_text(content: object) -> str:
    """Text of an OpenAI message ``content``: a string, or a list of parts of which the text
    parts count (images and audio carry no routing signal we can read cheaply)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p["text"]
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        )
    return ""


def prompt_from_messages(messages: list[dict[str, object]]) -> Prompt:
    """Normalise already-validated chat messages."""
    system: list[str] = []
    turns: list[Turn] = []
    for m in messages:
        role = str(m.get("role", "user"))
        text = _content_text(m.get("content"))
        if role in ("system", "developer"):
            system.append(text)
        else:
            turns.append(Turn(role, text))
    return Prompt(turns=tuple(turns), system="\n".join(system))
