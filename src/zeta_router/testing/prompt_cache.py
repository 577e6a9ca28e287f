"""A fake server's prefix cache: the last prompts it saw, and how much of a new prompt the best
of them covers, as llama.cpp and vLLM report it (four characters a token)."""

from __future__ import annotations

from typing import Any

import orjson


def _shared(a: str, b: str) -> int:
    """Length of the common prefix of two strings (by halving: slices compare in C)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class PromptCache:
    def __init__(self) -> None:
        #: The prompts kept, most recent last.
        self.prompts: list[str] = []

    def clear(self) -> None:
        self.prompts.clear()

    def serve(self, body: dict[str, Any], keep: int) -> tuple[int, int] | None:
        """(cached, prompt) tokens of this request, keeping the last ``keep`` prompts; None
        when ``keep`` is 0 (no cache, nothing reported)."""
        if not keep:
            return None
        content = body.get("messages", body.get("prompt", body.get("input")))
        # Messages' system prompt and Responses' instructions come first, apart.
        head = body.get("system", body.get("instructions"))
        if head is not None:
            content = [head, content]
        prompt = orjson.dumps(content).decode()
        best = max((_shared(p, prompt) for p in self.prompts), default=0)
        self.prompts.append(prompt)
        del self.prompts[:-keep]
        return best // 4, max(1, len(prompt) // 4)
