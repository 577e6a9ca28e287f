"""The analyzer interface and the registry that picks one at start-up."""

from __future__ import annotations

from typing import Protocol

from zeta_router.analysis.profile import Prompt, TaskProfile


class Analyzer(Protocol):
    """Classifies a prompt into a task profile. Must be fast (microseconds to ~1 ms) and pure:
    no I/O on the request path, same input -> same output."""

    name: str

    def analyze(self, prompt: Prompt) -> TaskProfile: ...
