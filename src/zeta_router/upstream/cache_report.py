"""Reading what a backend says about its prompt cache from its answer: OpenAI's
``usage.prompt_tokens_details.cached_tokens`` (llama-server, vLLM with
``--enable-prompt-tokens-details``, SGLang) or llama.cpp's ``timings`` (``cache_n`` tokens taken
from the cache, ``prompt_n`` evaluated). Cache affinity uses it to correct its index."""

from __future__ import annotations

from typing import Any

import orjson

from zeta_router.routing.affinity import CacheReport

_MARKERS = (b'"cached_tokens"', b'"cache_n"')


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def cache_report(obj: dict[str, Any]) -> CacheReport | None:
    """The report in a decoded answer (or stream chunk), or None when it has none."""
    usage = obj.get("usage")
    if isinstance(usage, dict):
        details = usage.get("prompt_tokens_details")
        prompt = _int(usage.get("prompt_tokens"))
        if isinstance(details, dict) and prompt:
            cached = _int(details.get("cached_tokens"))
            if cached is not None:
                return CacheReport(min(cached, prompt), prompt)
    timings = obj.get("timings")
    if isinstance(timings, dict):
        cached, evaluated = _int(timings.get("cache_n")), _int(timings.get("prompt_n"))
        if cached is not None and evaluated is not None and cached + evaluated > 0:
            return CacheReport(cached, cached + evaluated)
    return None


def stream_cache_report(*blocks: bytes) -> CacheReport | None:
    """The report in the last SSE event that carries one among ``blocks`` (a stream's last
    blocks: servers send it with the final chunk)."""
    for block in reversed(blocks):
        if not any(m in block for m in _MARKERS):
            continue
        for line in reversed(block.splitlines()):
            if not line.startswith(b"data:") or not any(m in line for m in _MARKERS):
                continue
            try:
                obj = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                report = cache_report(obj)
                if report is not None:
                    return report
    return None
