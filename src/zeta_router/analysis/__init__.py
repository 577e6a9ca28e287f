"""Request analysis: from a prompt to a task profile, built once at start-up.

``build_analyzer(settings)`` picks the analyzer named in the config ("heuristic", "semantic" or
"auto") and wraps it in the decision cache. "auto" prefers the semantic analyzer and falls back
to the heuristic one, with a logged warning, when its optional dependencies are missing or its
model does not load.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from zeta_router.analysis.base import Analyzer
from zeta_router.analysis.cache import CachedAnalyzer
from zeta_router.analysis.heuristic import HeuristicAnalyzer
from zeta_router.analysis.profile import (
    Prompt,
    TaskProfile,
    Turn,
    estimate_tokens,
    prompt_from_messages,
)
from zeta_router.config import AnalysisSettings
from zeta_router.errors import ConfigError

__all__ = [
    "ANALYZERS",
    "Analyzer",
    "AnalyzerUnavailable",
    "CachedAnalyzer",
    "HeuristicAnalyzer",
    "Prompt",
    "TaskProfile",
    "Turn",
    "build_analyzer",
    "estimate_tokens",
    "prompt_from_messages",
]

logger = logging.getLogger("zeta_router.analysis")


class AnalyzerUnavailable(ConfigError):
    """The configured analyzer cannot run here (a missing optional dependency or model)."""


def _heuristic(settings: AnalysisSettings) -> Analyzer:
    if settings.tasks:
        logger.warning(
            "analysis: the heuristic analyzer ignores custom tasks %s; use analyzer: semantic",
            ", ".join(settings.tasks),
        )
    return HeuristicAnalyzer()


def _semantic(settings: AnalysisSettings) -> Analyzer:
    try:
        from zeta_router.analysis.semantic import SemanticAnalyzer
    except ImportError as exc:
        raise AnalyzerUnavailable(
            f"analysis.analyzer: semantic needs numpy, a dependency of zeta-router ({exc}); "
            "reinstall zeta-router"
        ) from None
    start = time.perf_counter()
    try:
        analyzer = SemanticAnalyzer.from_settings(settings)
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        raise AnalyzerUnavailable(f"analysis.analyzer: semantic model did not load: {exc}") from exc
    logger.info(
        "analysis: semantic analyzer loaded in %.0f ms", (time.perf_counter() - start) * 1e3
    )
    return analyzer


def _auto(settings: AnalysisSettings) -> Analyzer:
    try:
        return _semantic(settings)
    except AnalyzerUnavailable as exc:
        logger.warning("analysis: falling back to the heuristic analyzer: %s", exc)
        return _heuristic(settings)


ANALYZERS: Mapping[str, Callable[[AnalysisSettings], Analyzer]] = {
    "heuristic": _heuristic,
    "semantic": _semantic,
    "auto": _auto,
}


def build_analyzer(
    settings: AnalysisSettings, clock: Callable[[], float] = time.monotonic
) -> Analyzer:
    """The configured analyzer behind a decision cache (none when ``cache_size`` is 0)."""
    factory = ANALYZERS.get(settings.analyzer)
    if factory is None:
        raise ConfigError(
            f"analysis.analyzer: unknown analyzer {settings.analyzer!r}; "
            f"expected one of {', '.join(ANALYZERS)}"
        )
    analyzer = factory(settings)
    if settings.cache_size <= 0:
        return analyzer
    return CachedAnalyzer(analyzer, settings.cache_size, settings.cache_ttl_s, clock)
