"""Size bounds of a parsed request: how many messages, how large its largest content part, how
many tokens it may ask for. Each breach is a 4xx naming the parameter and the bound."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from zeta_router.config import Config, ServerSettings
from zeta_router.errors import InvalidRequest, PayloadTooLarge
from zeta_router.http.protocol import ParsedRequest


def _part_too_large(where: str, size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"'{where}' holds {size} characters; the largest content part allowed is {limit}",
        param=where,
        code="content_part_too_large",
    )


def _check_text(value: Any, where: str, limit: int) -> None:
    if isinstance(value, str):
        if len(value) > limit:
            raise _part_too_large(where, len(value), limit)
    elif isinstance(value, list):
        for j, item in enumerate(value):
            if isinstance(item, str):
                if len(item) > limit:
                    raise _part_too_large(f"{where}[{j}]", len(item), limit)
            elif isinstance(item, dict):
                for field in ("text", "url", "image_url", "data"):
                    inner = item.get(field)
                    if isinstance(inner, dict):
                        inner = inner.get("url")
                    if isinstance(inner, str) and len(inner) > limit:
                        raise _part_too_large(f"{where}[{j}].{field}", len(inner), limit)


def check_sizes(req: ParsedRequest, server: ServerSettings) -> None:
    """413 when the request holds too many messages or too large a single part."""
    body = req.body
    limit = server.max_part_chars
    if req.endpoint == "chat":
        messages = body["messages"]
        if len(messages) > server.max_messages:
            raise PayloadTooLarge(
                f"The request holds {len(messages)} messages; at most {server.max_messages} "
                "are allowed",
                param="messages",
                code="too_many_messages",
            )
        if len(req.raw) <= limit:
            return  # no part can be longer than the whole body
        for i, m in enumerate(messages):
            _check_text(m.get("content"), f"messages[{i}].content", limit)
    elif len(req.raw) > limit:
        field = {"completions": "prompt", "embeddings": "input"}.get(req.endpoint, "documents")
        _check_text(body.get(field), field, limit)
        if req.endpoint == "rerank":
            _check_text(body.get("query"), "query", limit)


def model_cap(config: Config, model: str | None) -> int | None:
    m = config.models.get(model) if model is not None else None
    return m.max_tokens if m is not None else None


def check_model_cap(config: Config, req: ParsedRequest) -> None:
    """400 when a pinned model's ``max_tokens`` cap is below what the request asks for."""
    cap = model_cap(config, req.model)
    if cap is not None and req.max_tokens is not None and req.max_tokens > cap:
        raise InvalidRequest(
            f"max_tokens {req.max_tokens} is above the cap of {cap} of the model '{req.model}'",
            param="max_tokens",
            code="max_tokens_exceeded",
        )


def apply_cap(req: ParsedRequest, cap: int) -> None:
    """A request without a token limit is sent with the cap, so the cap also bounds answers
    whose length the server would otherwise choose: chat and completions as ``max_tokens``, a
    Responses request as ``max_output_tokens`` (its native body) and ``max_tokens`` (its chat
    translation). A Messages request always has one (Anthropic's API requires
    ``max_tokens``; over the cap it is refused)."""
    if req.max_tokens is not None:
        return
    api = req.api
    if api is not None:
        if api.kind != "responses":
            return
        native = dict(api.body)
        native["max_output_tokens"] = cap
        # The Response object echoes the limit it was generated under.
        echo = {**api.echo, "max_output_tokens": cap}
        req.api = replace(api, raw=orjson.dumps(native), body=native, echo=echo)
    elif req.endpoint not in ("chat", "completions"):
        return
    body = dict(req.body)
    body["max_tokens"] = cap
    req.body = body
    req.raw = orjson.dumps(body)
    req.max_tokens = cap
