"""The OpenAI wire format as far as the router needs it: validating request bodies and
rewriting the ``model`` field without re-encoding the rest of the body."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from zeta_router.analysis.profile import Prompt, Turn, prompt_from_messages
from zeta_router.config import Api, Endpoint
from zeta_router.errors import InvalidRequest

UPSTREAM_PATHS: dict[Endpoint, str] = {
    "chat": "/chat/completions",
    "completions": "/completions",
    "embeddings": "/embeddings",
    "rerank": "/rerank",
}
PRIORITIES = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_MODEL_KEY = b'"model"'


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """A /v1/responses or /v1/messages request as the client wrote it."""

    kind: Api
    raw: bytes
    body: dict[str, Any]
    #: Request fields a Responses object repeats (instructions, tools, ...).
    echo: Mapping[str, Any] = field(default_factory=dict)
    #: Responses only: the conversation as input items (stored turns first), its approximate
    #: JSON size, and whether the answer is to be stored for a later previous_response_id.
    items: tuple[dict[str, Any], ...] = ()
    size: int = 0
    store: bool = False


@dataclass(slots=True)
class ParsedRequest:
    endpoint: Endpoint
    raw: bytes
    body: dict[str, Any]
    #: The model the client asked for; None for "auto" or absent.
    model: str | None
    stream: bool
    max_tokens: int | None
    #: The text to classify; None for embeddings, which are their own task.
    prompt: Prompt | None
    input_chars: int
    #: For /v1/responses and /v1/messages: the request as the client wrote it (``raw`` and
    #: ``body`` then hold its chat-completions translation, which is what gets routed).
    api: ApiRequest | None = None

    @property
    def kind(self) -> str:
        """The endpoint the client called, as metrics and log lines name it."""
        return self.endpoint if self.api is None else self.api.kind


def _fail(message: str, param: str | None) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _opt_int(body: dict[str, Any], key: str) -> int | None:
    v = body.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise _fail(f"'{key}' must be a positive integer", key)
    return v


def _check_messages(messages: Any) -> Prompt:
    if not isinstance(messages, list) or not messages:
        raise _fail("'messages' must be a non-empty array", "messages")
    non_text = False
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise _fail(f"'messages[{i}]' must be an object", f"messages[{i}]")
        role = m.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise _fail(
                f"'messages[{i}].role' must be one of {', '.join(sorted(_ROLES))}",
                f"messages[{i}].role",
            )
        content = m.get("content")
        if content is None:
            if role == "assistant" and (m.get("tool_calls") or m.get("function_call")):
                non_text = True
                continue
            raise _fail(f"'messages[{i}].content' is required", f"messages[{i}].content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                    raise _fail(
                        f"'messages[{i}].content[{j}]' must be an object with a 'type'",
                        f"messages[{i}].content[{j}]",
                    )
                if part["type"] != "text":
                    non_text = True
                elif not isinstance(part.get("text"), str):
                    raise _fail(
                        f"'messages[{i}].content[{j}].text' must be a string",
                        f"messages[{i}].content[{j}].text",
                    )
        elif not isinstance(content, str):
            raise _fail(
                f"'messages[{i}].content' must be a string or an array of parts",
                f"messages[{i}].content",
            )
    prompt = prompt_from_messages(messages)
    if not non_text and not prompt.chars:
        raise _fail("the messages contain no text", "messages")
    return prompt


def _check_prompt(value: Any) -> Prompt:
    if isinstance(value, str):
        if not value.strip():
            raise _fail("'prompt' must not be empty", "prompt")
        return Prompt.from_text(value)
    if isinstance(value, list) and value:
        if all(isinstance(p, str) for p in value):
            text = "\n".join(value)
            if not text.strip():
                raise _fail("'prompt' must not be empty", "prompt")
            return Prompt.from_text(text)
        if all(isinstance(t, int) and not isinstance(t, bool) for t in value):
            # Token ids: nothing to read, but the length still counts for the context window.
            return Prompt(turns=(Turn("user", " " * (4 * len(value))),))
    raise _fail("'prompt' must be a non-empty string or array of strings", "prompt")


def _check_input(value: Any) -> int:
    """Validate embeddings input; returns its size in characters (tokens count as 4)."""
    if isinstance(value, str):
        if not value:
            raise _fail("'input' must not be empty", "input")
        return len(value)
    if isinstance(value, list) and value:
        size = 0
        for item in value:
            if isinstance(item, str) and item:
                size += len(item)
            elif isinstance(item, int) and not isinstance(item, bool):
                size += 4
            elif isinstance(item, list) and item and all(isinstance(t, int) for t in item):
                size += 4 * len(item)
            else:
                raise _fail("'input' items must be non-empty strings or token arrays", "input")
        return size
    raise _fail("'input' must be a non-empty string or array", "input")


def _check_rerank(body: dict[str, Any]) -> int:
    """Validate a rerank body (Jina / Cohere / llama.cpp shape); returns its size in chars."""
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _fail("'query' must be a non-empty string", "query")
    docs = body.get("documents")
    if not isinstance(docs, list) or not docs:
        raise _fail("'documents' must be a non-empty array", "documents")
    size = len(query)
    for i, doc in enumerate(docs):
        if isinstance(doc, dict):
            doc = doc.get("text")
        if not isinstance(doc, str):
            raise _fail(
                f"'documents[{i}]' must be a string or an object with a 'text' string",
                f"documents[{i}]",
            )
        size += len(doc)
    _opt_int(body, "top_n")
    return size


def load_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or an InvalidRequest saying why not."""
    if not raw.strip():
        raise _fail("the request body is empty; expected a JSON object", None)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _fail(f"the request body is not valid JSON: {exc}", None) from None
    if not isinstance(body, dict):
        raise _fail("the request body must be a JSON object", None)
    return body


def model_and_stream(body: dict[str, Any]) -> tuple[str | None, bool]:
    """The pinned model (None for ``auto``, empty or absent) and ``stream``, validated: the
    two fields every routed API shares."""
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise _fail("'model' must be a string", "model")
    if model in ("", "auto"):
        model = None
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _fail("'stream' must be a boolean", "stream")
    return model, stream


def parse_request(endpoint: Endpoint, raw: bytes) -> ParsedRequest:
    """Validate a request body. Raises :class:`InvalidRequest` naming the bad parameter."""
    body = load_object(raw)
    model, stream = model_and_stream(body)

    prompt: Prompt | None
    if endpoint == "chat":
        if "messages" not in body:
            raise _fail("'messages' is required", "messages")
        prompt = _check_messages(body["messages"])
        chars = prompt.chars
        max_tokens = _opt_int(body, "max_completion_tokens") or _opt_int(body, "max_tokens")
    elif endpoint == "completions":
        if "prompt" not in body:
            raise _fail("'prompt' is required", "prompt")
        prompt = _check_prompt(body["prompt"])
        chars = prompt.chars
        max_tokens = _opt_int(body, "max_tokens")
    elif endpoint == "rerank":
        chars = _check_rerank(body)
        prompt = None
        max_tokens = None
        if stream:
            raise _fail("rerank cannot be streamed", "stream")
    else:
        if "input" not in body:
            raise _fail("'input' is required", "input")
        chars = _check_input(body["input"])
        prompt = None
        max_tokens = None
        if stream:
            raise _fail("embeddings cannot be streamed", "stream")
    return ParsedRequest(endpoint, raw, body, model, stream, max_tokens, prompt, chars)


def set_model(raw: bytes, body: dict[str, Any], new: str) -> bytes:
    """``raw`` with its top-level ``model`` set to ``new``.

    Splices the bytes when the key occurs once (the usual case), so a large prompt is not
    re-encoded; otherwise falls back to one orjson encode of the parsed body.
    """
    old = body.get("model")
    encoded_new = orjson.dumps(new)
    if isinstance(old, str) and raw.count(_MODEL_KEY) == 1:
        if old == new:
            return raw
        start = raw.index(_MODEL_KEY) + len(_MODEL_KEY)
        colon = raw.index(b":", start)
        value_start = colon + 1
        while raw[value_start : value_start + 1] in (b" ", b"\t", b"\n", b"\r"):
            value_start += 1
        old_encoded = orjson.dumps(old)
        if raw.startswith(old_encoded, value_start):
            return raw[:value_start] + encoded_new + raw[value_start + len(old_encoded) :]
        # The value was written with escapes orjson would not use; fall through.
    elif "model" not in body and _MODEL_KEY not in raw:
        head = raw.lstrip()
        if head.startswith(b"{"):
            rest = head[1:].lstrip()
            sep = b"" if rest.startswith(b"}") else b","
            return b'{"model":' + encoded_new + sep + head[1:]
    updated = dict(body)
    updated["model"] = new
    return orjson.dumps(updated)


def upstream_model_in(block: bytes) -> str | None:
    """The ``model`` value of the first JSON object in an SSE block, or None."""
    for line in block.splitlines():
        if line.startswith(b"data:"):
            payload = line[5:].strip()
            if payload.startswith(b"{"):
                try:
                    obj = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    return None
                value = obj.get("model") if isinstance(obj, dict) else None
                return value if isinstance(value, str) else None
    return None
