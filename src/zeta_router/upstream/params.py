"""Request parameters translated for the kind of server a model runs on.

The router forwards request bodies as they came (only ``model`` is rewritten), except where a
kind of server would silently ignore a parameter the client relies on. The OpenAI SDK's newer
code and LangChain send ``max_completion_tokens``; llama-cpp-python's server reads only
``max_tokens`` (it ignores the other and generates to the end of the context), as do older
llama.cpp ``llama-server``, Ollama, vLLM and SGLang builds. Those get ``max_tokens`` set to the
same value; the original stays, for servers that read it. An ``openai`` upstream is left alone:
OpenAI's reasoning models refuse ``max_tokens``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson

from zeta_router.config import Endpoint, HealthKind
from zeta_router.http.protocol import ParsedRequest


@dataclass(frozen=True, slots=True)
class Alias:
    """On ``endpoint``, send ``source``'s value as ``target`` as well."""

    endpoint: Endpoint
    source: str
    target: str


_MAX_TOKENS = Alias("chat", "max_completion_tokens", "max_tokens")

#: What each kind of server (``models.NAME.health``) needs translated. ``none`` and ``auto``
#: are what llama-cpp-python's server runs as (it has no health route).
TRANSLATIONS: Mapping[HealthKind, tuple[Alias, ...]] = MappingProxyType(
    {
        "auto": (_MAX_TOKENS,),
        "none": (_MAX_TOKENS,),
        "llamacpp": (_MAX_TOKENS,),
        "vllm": (_MAX_TOKENS,),
        "sglang": (_MAX_TOKENS,),
        "ollama": (_MAX_TOKENS,),
        "openai": (),
    }
)


def for_backend(req: ParsedRequest, kind: HealthKind) -> tuple[bytes, dict[str, Any]]:
    """The body to send to a server of ``kind``: ``req``'s own unless a parameter needs
    translating (then re-encoded once)."""
    body = req.body
    changes: dict[str, Any] = {}
    for alias in TRANSLATIONS[kind]:
        if alias.endpoint != req.endpoint or alias.source not in body:
            continue
        value = body[alias.source]
        if value is not None and body.get(alias.target) != value:
            changes[alias.target] = value
    if not changes:
        return req.raw, body
    updated = {**body, **changes}
    return orjson.dumps(updated), updated
