"""Reading what a backend reports in its answer: about its prompt cache (OpenAI's
``usage.prompt_tokens_details.cached_tokens`` of llama-server, vLLM with
``--enable-prompt-tokens-details`` and SGLang; llama.cpp's ``timings``: ``cache_n`` tokens
taken from the cache, ``prompt_n`` evaluated; where the agent APIs are relayed natively, the
Responses API's ``usage.input_tokens_details.cached_tokens`` and Anthropic's
``usage.cache_read_input_tokens`` beside ``input_tokens`` and ``cache_creation_input_tokens``,
the part not read from the cache), which cache affinity uses to correct its index; and how many
tokens the request used, which per-key ``tpm`` limits settle to.

A stream reports both near its end (OpenAI's ``stream_options.include_usage`` chunk,
llama.cpp's final chunk, Anthropic's ``message_delta``, the Responses API's
``response.completed``): :func:`stream_report` reads the relay's last two blocks once, at the
end of the stream, decoding only the events that carry a report. An Anthropic stream's cache
figures may be in its ``message_start`` only (llama-server's ``message_delta`` carries
``output_tokens`` alone), so that event of the first block is read with the ``message_delta``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import orjson

from zeta_router.routing.affinity import CacheReport

_CACHED, _CACHE_N = b'"cached_tokens"', b'"cache_n"'
#: Anthropic's cache figure (in message_start, and in message_delta where it is cumulative).
_CACHE_READ = b'"cache_read_input_tokens"'
#: Every event that carries a cache report or a token count holds one of these.
_USAGE, _TIMINGS = b'"usage"', b'"timings"'
#: The Responses API's last events, whose usage is under ``response``.
_RESPONSE_DONE = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def anthropic_cache(usage: dict[str, Any]) -> CacheReport | None:
    """The report in an Anthropic ``usage``: its input is split into what was read from the
    cache, what was written to it and the rest (``input_tokens``), so the prompt is the sum."""
    read, rest = _int(usage.get("cache_read_input_tokens")), _int(usage.get("input_tokens"))
    if read is None or rest is None:
        return None
    prompt = read + rest + (_int(usage.get("cache_creation_input_tokens")) or 0)
    return CacheReport(read, prompt) if prompt else None


def cache_report(obj: dict[str, Any]) -> CacheReport | None:
    """The report in a decoded answer (or stream chunk), or None when it has none."""
    usage = obj.get("usage")
    if usage is None:
        kind = obj.get("type")
        # Anthropic's message_start and the Responses API's last events hold it one level in.
        inner = obj.get("message") if kind == "message_start" else obj.get("response")
        usage = inner.get("usage") if isinstance(inner, dict) else None
    if isinstance(usage, dict):
        if "cache_read_input_tokens" in usage:
            return anthropic_cache(usage)
        details = usage.get("prompt_tokens_details")
        prompt = _int(usage.get("prompt_tokens"))
        if details is None:  # the Responses API's names (vLLM's /v1/responses, llama-server's)
            details = usage.get("input_tokens_details")
            prompt = _int(usage.get("input_tokens"))
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


def summed_tokens(usage: dict[str, Any]) -> int:
    """Anthropic's usage: input, output and cache figures are apart, so the total is the sum
    of every ``*tokens`` count."""
    return sum(v for k, v in usage.items() if k.endswith("tokens") and _int(v) is not None)


def usage_tokens(obj: dict[str, Any]) -> int | None:
    """Tokens an OpenAI-style answer or chunk reports it used (prompt and generated), or
    None: ``usage.total_tokens`` (or its two parts), else llama.cpp's ``timings``."""
    usage = obj.get("usage")
    if isinstance(usage, dict):
        total = _int(usage.get("total_tokens"))
        if total is not None:
            return total
        prompt, completion = _int(usage.get("prompt_tokens")), _int(usage.get("completion_tokens"))
        if prompt is not None and completion is not None:
            return prompt + completion
    timings = obj.get("timings")
    if isinstance(timings, dict):
        evaluated, predicted = _int(timings.get("prompt_n")), _int(timings.get("predicted_n"))
        if evaluated is not None and predicted is not None:
            return evaluated + (_int(timings.get("cache_n")) or 0) + predicted
    return None


def _message_start_usage(first: bytes) -> dict[str, Any]:
    """The usage of an Anthropic stream's ``message_start`` (its input tokens), or {}."""
    if b'"message_start"' not in first:
        return {}
    for line in first.splitlines():
        if line.startswith(b"data:") and b'"message_start"' in line:
            try:
                obj = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                return {}
            message = obj.get("message") if isinstance(obj, dict) else None
            usage = message.get("usage") if isinstance(message, dict) else None
            return usage if isinstance(usage, dict) else {}
    return {}


def _event_tokens(obj: dict[str, Any]) -> int | None:
    kind = obj.get("type")
    if kind in _RESPONSE_DONE:
        response = obj.get("response")
        usage = response.get("usage") if isinstance(response, dict) else None
        if isinstance(usage, dict):
            total = _int(usage.get("total_tokens"))
            return total if total is not None else summed_tokens(usage)
        return None
    return usage_tokens(obj)


class StreamReport(NamedTuple):
    cache: CacheReport | None = None
    #: Tokens used, as the stream's last report says; None: it said nothing.
    tokens: int | None = None


_NOTHING = StreamReport()


def _marked_lines(block: bytes) -> Iterator[bytes]:
    """The lines of ``block`` that hold a marker, last first, found with ``rfind`` (a block
    may hold a whole short answer: nothing splits it into lines)."""
    end = len(block)
    while True:
        pos = max(block.rfind(_USAGE, 0, end), block.rfind(_TIMINGS, 0, end))
        if pos < 0:
            return
        start = block.rfind(b"\n", 0, pos) + 1
        stop = block.find(b"\n", pos)
        yield block[start : stop if stop >= 0 else len(block)]
        end = start


def stream_report(first: bytes, before: bytes, last: bytes) -> StreamReport:
    """The cache report and token count of a stream from its first block (Anthropic's input
    tokens) and its last two (servers report with the final events; ``[DONE]`` may come in a
    block of its own). The latest event with each wins; decoding stops once both are found,
    or once the tokens are and no earlier event holds a cache report."""
    cache: CacheReport | None = None
    tokens: int | None = None
    for block in (last,) if before is last else (last, before):
        if _USAGE not in block and _TIMINGS not in block:
            continue  # [DONE], or a stream that reports nothing: no generator, no decoding
        for line in _marked_lines(block):
            want_cache = cache is None and (
                _CACHED in line or _CACHE_N in line or _CACHE_READ in line
            )
            if (not want_cache and tokens is not None) or not line.startswith(b"data:"):
                continue
            try:
                obj = orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                continue
            if not isinstance(obj, dict):
                continue
            usage = obj.get("usage")
            if obj.get("type") == "message_delta" and isinstance(usage, dict):
                # Its counts are cumulative, and may leave the input and cache figures to
                # message_start.
                usage = {**_message_start_usage(first), **usage}
                if tokens is None:
                    tokens = summed_tokens(usage)
                if cache is None:
                    cache = anthropic_cache(usage)
            else:
                if want_cache:
                    cache = cache_report(obj)
                if tokens is None:
                    tokens = _event_tokens(obj)
            if tokens is not None and cache is not None:
                return StreamReport(cache, tokens)
    return _NOTHING if cache is None and tokens is None else StreamReport(cache, tokens)


def stream_cache_report(before: bytes, last: bytes) -> CacheReport | None:
    """The cache report in a stream's last two blocks (servers send it with the final
    chunk)."""
    return stream_report(b"", before, last).cache
