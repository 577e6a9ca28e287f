"""Anthropic's Messages API (``POST /v1/messages``) in terms of chat completions.

Pure translation, no I/O: a Messages request becomes a chat-completions body (what the router
classifies and routes, and what a translated replica is sent); a chat completion or a stream of
chat chunks becomes a Message or its SSE events (``message_start``, ``content_block_start`` /
``_delta`` / ``_stop``, ``message_delta``, ``message_stop``); router errors get Anthropic's
shape ``{"type": "error", "error": {"type", "message"}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from zeta_router.errors import InvalidRequest
from zeta_router.upstream.sse import event, has_event

#: Events after which a Messages stream is over (there is no ``[DONE]``).
TERMINAL = frozenset({"message_stop", "error"})
_TERMINAL_MARKS = (b"message_stop", b"error")

#: Anthropic's error types by HTTP status.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
}
_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_PASSED = ("temperature", "top_p", "top_k", "stream")


def _fail(message: str, param: str | None) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def error_body(status: int, message: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    err: dict[str, Any] = {"type": ERROR_TYPES.get(status, "api_error"), "message": message}
    if extra:
        err.update(extra)
    return {"type": "error", "error": err}


# -- request: Messages -> chat ----------------------------------------------------------------


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(f"{where}: must be a string", where)
    return value


def _image(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise _fail(f"{where}.source: must be an object", f"{where}.source")
    if source.get("type") == "base64":
        media = _text(source.get("media_type"), f"{where}.source.media_type")
        data = _text(source.get("data"), f"{where}.source.data")
        url = f"data:{media};base64,{data}"
    elif source.get("type") == "url":
        url = _text(source.get("url"), f"{where}.source.url")
    else:
        raise _fail(f"{where}.source.type: must be base64 or url", f"{where}.source.type")
    return {"type": "image_url", "image_url": {"url": url}}


def _tool_result(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    content = block.get("content", "")
    if isinstance(content, list):
        texts = []
        for k, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise _fail(
                    f"{where}.content[{k}]: only text blocks are supported in tool results",
                    f"{where}.content[{k}]",
                )
            texts.append(_text(part.get("text"), f"{where}.content[{k}].text"))
        content = "".join(texts)
    elif not isinstance(content, str):
        raise _fail(f"{where}.content: must be a string or an array of blocks", f"{where}.content")
    if block.get("is_error") is True:
        content = f"Error: {content}"
    return {
        "role": "tool",
        "tool_call_id": _text(block.get("tool_use_id"), f"{where}.tool_use_id"),
        "content": content,
    }


def _message(i: int, msg: Any) -> list[dict[str, Any]]:
    at = f"messages.{i}"
    if not isinstance(msg, dict):
        raise _fail(f"{at}: must be an object", at)
    role = msg.get("role")
    if role not in ("user", "assistant"):
        raise _fail(f"{at}.role: must be user or assistant", f"{at}.role")
    content = msg.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    if not isinstance(content, list):
        raise _fail(f"{at}.content: must be a string or an array of blocks", f"{at}.content")
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        where = f"{at}.content.{j}"
        if not isinstance(block, dict):
            raise _fail(f"{where}: must be an object", where)
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": _text(block.get("text"), f"{where}.text")})
        elif kind == "image" and role == "user":
            parts.append(_image(block, where))
        elif kind == "tool_use" and role == "assistant":
            args = block.get("input", {})
            if not isinstance(args, dict):
                raise _fail(f"{where}.input: must be an object", f"{where}.input")
            calls.append(
                {
                    "id": _text(block.get("id"), f"{where}.id"),
                    "type": "function",
                    "function": {
                        "name": _text(block.get("name"), f"{where}.name"),
                        "arguments": orjson.dumps(args).decode(),
                    },
                }
            )
        elif kind == "tool_result" and role == "user":
            results.append(_tool_result(block, where))
        elif kind in ("thinking", "redacted_thinking") and role == "assistant":
            # The model's earlier thinking: chat completions has no place for it.
            continue
        else:
            raise _fail(
                f"{where}.type: {kind!r} is not supported in a {role} message", f"{where}.type"
            )
    # Tool results answer the previous assistant turn, so they go first, as chat wants them.
    out: list[dict[str, Any]] = list(results)
    if parts or calls:
        text_only = all(p["type"] == "text" for p in parts)
        value: Any = "".join(p["text"] for p in parts) if text_only else parts
        # "" rather than null for a turn of tool calls only: llama-cpp-python's server refuses
        # a null content.
        chat: dict[str, Any] = {"role": role, "content": value if parts else ""}
        if calls:
            chat["tool_calls"] = calls
        out.append(chat)
    elif not results:
        out.append({"role": role, "content": ""})
    return out


def _system(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = []
        for i, block in enumerate(value):
            if not isinstance(block, dict) or block.get("type") != "text":
                raise _fail(f"system.{i}: must be a text block", f"system.{i}")
            texts.append(_text(block.get("text"), f"system.{i}.text"))
        return "\n".join(texts)
    raise _fail("system: must be a string or an array of text blocks", "system")


def _tools(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _fail("tools: must be an array", "tools")
    out = []
    for i, tool in enumerate(value):
        at = f"tools.{i}"
        if not isinstance(tool, dict):
            raise _fail(f"{at}: must be an object", at)
        if tool.get("type") not in (None, "custom"):
            raise _fail(
                f"{at}.type: {tool.get('type')!r} is a server tool, which needs Anthropic's "
                "servers; only client tools (name, description, input_schema) are supported",
                f"{at}.type",
            )
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise _fail(f"{at}.input_schema: must be an object", f"{at}.input_schema")
        fn: dict[str, Any] = {"name": _text(tool.get("name"), f"{at}.name"), "parameters": schema}
        if isinstance(tool.get("description"), str):
            fn["description"] = tool["description"]
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(value: Any, chat: dict[str, Any]) -> None:
    if not isinstance(value, dict):
        raise _fail("tool_choice: must be an object", "tool_choice")
    kind = value.get("type")
    if kind == "auto":
        chat["tool_choice"] = "auto"
    elif kind == "any":
        chat["tool_choice"] = "required"
    elif kind == "none":
        chat["tool_choice"] = "none"
    elif kind == "tool":
        name = _text(value.get("name"), "tool_choice.name")
        chat["tool_choice"] = {"type": "function", "function": {"name": name}}
    else:
        raise _fail("tool_choice.type: must be auto, any, tool or none", "tool_choice.type")
    if value.get("disable_parallel_tool_use") is True:
        chat["parallel_tool_calls"] = False


def to_chat(body: Mapping[str, Any]) -> dict[str, Any]:
    """The chat-completions body for a Messages request. Raises :class:`InvalidRequest`
    naming the Messages parameter at fault (``messages.0.content.1.type``)."""
    limit = body.get("max_tokens")
    if limit is None:
        raise _fail("max_tokens: Field required", "max_tokens")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise _fail("max_tokens: must be a positive integer", "max_tokens")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _fail("messages: must be a non-empty array", "messages")
    chat_messages: list[dict[str, Any]] = []
    if body.get("system") is not None:
        system = _system(body["system"])
        if system:
            chat_messages.append({"role": "system", "content": system})
    for i, msg in enumerate(messages):
        chat_messages.extend(_message(i, msg))
    chat: dict[str, Any] = {}
    if "model" in body:
        chat["model"] = body["model"]
    chat["messages"] = chat_messages
    chat["max_tokens"] = limit
    if body.get("tools"):
        chat["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"], chat)
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise _fail("stop_sequences: must be an array of strings", "stop_sequences")
        if stops:
            chat["stop"] = stops
    for key in _PASSED:
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("stream") is True:
        chat["stream_options"] = {"include_usage": True}
    return chat


# -- answer: chat -> Messages -----------------------------------------------------------------


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.strip():
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
        # Not an object: kept, under a name, rather than dropped.
        return {"arguments": raw}
    return {}


def _usage(usage: Any) -> dict[str, int]:
    usage = usage if isinstance(usage, dict) else {}
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    prompt = usage.get("prompt_tokens") or 0
    return {
        "input_tokens": max(0, prompt - cached),
        "output_tokens": usage.get("completion_tokens") or 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }


def message_object(
    mid: str,
    model: str,
    content: list[dict[str, Any]],
    stop_reason: str | None,
    usage: dict[str, int],
) -> dict[str, Any]:
    return {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def from_chat(chat: Mapping[str, Any], mid: str, model: str) -> dict[str, Any]:
    """The Message for a chat completion."""
    choices = chat.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    choice = choice if isinstance(choice, dict) else {}
    message = choice.get("message")
    message = message if isinstance(message, dict) else {}
    content: list[dict[str, Any]] = []
    thinking = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(thinking, str) and thinking:
        content.append({"type": "thinking", "thinking": thinking, "signature": ""})
    text = message.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    calls = message.get("tool_calls")
    for i, call in enumerate(calls if isinstance(calls, list) else []):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            continue
        content.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or f"toolu_{mid}_{i}"),
                "name": str(fn.get("name") or ""),
                "input": _arguments(fn.get("arguments")),
            }
        )
    finish = choice.get("finish_reason")
    stop = _STOP_REASONS.get(finish, "end_turn") if isinstance(finish, str) else "end_turn"
    if any(b["type"] == "tool_use" for b in content):
        stop = "tool_use"
    return message_object(mid, model, content, stop, _usage(chat.get("usage")))


# -- streams ----------------------------------------------------------------------------------


def error_event(message: str, kind: str = "api_error") -> bytes:
    """The event that ends a broken stream; the anthropic SDK raises on it."""
    return event("error", {"type": "error", "error": {"type": kind, "message": message}})


def is_terminal(block: bytes) -> bool:
    """Whether a block of whole SSE events holds the one that ends a Messages stream."""
    return has_event(block, _TERMINAL_MARKS, TERMINAL)


class StreamTranslator:
    """Chat-completion chunks in, Messages events out (one instance per stream)."""

    def __init__(self, mid: str, model: str) -> None:
        self.mid = mid
        self.model = model
        self._index = -1
        #: The kind of the open content block ("text", "thinking", "tool_use"), or None.
        self._open: str | None = None
        self._calls: dict[int, int] = {}
        self._finish: Any = None
        self._usage: dict[str, int] | None = None

    def start(self) -> bytes:
        usage = {"input_tokens": 0, "output_tokens": 0}
        msg = message_object(self.mid, self.model, [], None, usage)
        return event("message_start", {"type": "message_start", "message": msg})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        out = b""
        if self._open == "thinking":
            out += event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": self._index,
                    "delta": {"type": "signature_delta", "signature": ""},
                },
            )
        self._open = None
        return out + event(
            "content_block_stop", {"type": "content_block_stop", "index": self._index}
        )

    def _begin(self, block: dict[str, Any]) -> bytes:
        out = self._close()
        self._index += 1
        self._open = block["type"]
        return out + event(
            "content_block_start",
            {"type": "content_block_start", "index": self._index, "content_block": block},
        )

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return event(
            "content_block_delta",
            {"type": "content_block_delta", "index": self._index, "delta": delta},
        )

    def feed(self, chunk: Mapping[str, Any]) -> bytes:
        """Events for one chat-completion chunk (often none)."""
        if isinstance(chunk.get("usage"), dict):
            self._usage = _usage(chunk["usage"])
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return b""
        choice = choices[0]
        if isinstance(choice.get("finish_reason"), str):
            self._finish = choice["finish_reason"]
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return b""
        out = b""
        thinking = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(thinking, str) and thinking:
            if self._open != "thinking":
                out += self._begin({"type": "thinking", "thinking": ""})
            out += self._delta({"type": "thinking_delta", "thinking": thinking})
        text = delta.get("content")
        if isinstance(text, str) and text:
            if self._open != "text":
                out += self._begin({"type": "text", "text": ""})
            out += self._delta({"type": "text_delta", "text": text})
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if not isinstance(call, dict):
                continue
            idx = call.get("index", 0)
            idx = idx if isinstance(idx, int) else 0
            fn = call.get("function")
            fn = fn if isinstance(fn, dict) else {}
            if idx not in self._calls:
                block = {
                    "type": "tool_use",
                    "id": str(call.get("id") or f"toolu_{self.mid}_{idx}"),
                    "name": str(fn.get("name") or ""),
                    "input": {},
                }
                out += self._begin(block)
                self._calls[idx] = self._index
            args = fn.get("arguments")
            if isinstance(args, str) and args:
                # By the call's own block index: interleaved calls still add up per block.
                delta = {"type": "input_json_delta", "partial_json": args}
                out += event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": self._calls[idx], "delta": delta},
                )
        return out

    def finish(self) -> bytes:
        """The closing events once the chat stream said [DONE]."""
        out = self._close()
        stop = _STOP_REASONS.get(self._finish, "end_turn") if self._finish else "end_turn"
        if self._calls:
            stop = "tool_use"
        usage = self._usage or _usage(None)
        out += event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": usage,
            },
        )
        return out + event("message_stop", {"type": "message_stop"})

    def error(self, message: str, code: str) -> bytes:
        return error_event(message)


def events_for(message: Mapping[str, Any]) -> bytes:
    """The whole event sequence for a finished Message (an upstream that answered a stream
    request with one JSON body)."""
    start = {**message, "content": [], "stop_reason": None}
    out = event("message_start", {"type": "message_start", "message": start})
    blocks = message.get("content")
    for i, block in enumerate(blocks if isinstance(blocks, list) else []):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            first: dict[str, Any] = {"type": "text", "text": ""}
            delta: dict[str, Any] = {"type": "text_delta", "text": block.get("text", "")}
        elif kind == "thinking":
            first = {"type": "thinking", "thinking": ""}
            delta = {"type": "thinking_delta", "thinking": block.get("thinking", "")}
        elif kind == "tool_use":
            first = {**block, "input": {}}
            delta = {
                "type": "input_json_delta",
                "partial_json": orjson.dumps(block.get("input", {})).decode(),
            }
        else:
            continue
        out += event(
            "content_block_start",
            {"type": "content_block_start", "index": i, "content_block": first},
        )
        out += event(
            "content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}
        )
        out += event("content_block_stop", {"type": "content_block_stop", "index": i})
    usage = message.get("usage") or {}
    out += event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {
                "stop_reason": message.get("stop_reason"),
                "stop_sequence": message.get("stop_sequence"),
            },
            "usage": usage,
        },
    )
    return out + event("message_stop", {"type": "message_stop"})
