"""The semantic analyzer (being built; until then "auto" falls back to the heuristic one)."""

from __future__ import annotations

from ..config import AnalysisSettings
from .profile import Prompt, TaskProfile


class SemanticAnalyzer:
    name = "semantic"

    @classmethod
    def from_settings(cls, settings: AnalysisSettings) -> SemanticAnalyzer:
        raise ImportError("the semantic analyzer is not available in this build")

    def analyze(self, prompt: Prompt) -> TaskProfile:
        raise NotImplementedError
