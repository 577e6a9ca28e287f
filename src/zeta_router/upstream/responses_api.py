"""OpenAI's Responses API (``POST /v1/responses``) in terms of chat completions.

Pure translation, no I/O: a Responses request becomes a chat-completions body (what the router
classifies and routes, and what a translated replica is sent); a chat completion becomes a
Responses object (its stream: :mod:`responses_stream`). Ids are derived from the one the caller
passes, so output is deterministic.

``previous_response_id`` is resolved by the caller (:mod:`response_store`): :func:`to_chat`
takes the stored conversation as ``history``. ``conversation``, ``background`` and stored
prompts need state this router does not keep and are refused with a 400 saying so, rather than
answered without the context they name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from zeta_router.errors import InvalidRequest

#: Request fields that need state this router does not keep, with what to do instead.
_STATEFUL = {
    "conversation": "this router keeps no conversations: send the whole conversation in 'input'",
    "prompt": "stored prompt templates are not supported: send the text in 'instructions'",
}
#: Copied from the request into every response object, as OpenAI's own answers do.
_ECHOED = (
    "previous_response_id",
    "store",
    "instructions",
    "tools",
    "tool_choice",
    "temperature",
    "top_p",
    "max_output_tokens",
    "parallel_tool_calls",
    "metadata",
    "text",
    "reasoning",
    "truncation",
    "user",
)
_PASSED = ("temperature", "top_p", "parallel_tool_calls", "user", "seed")
_MESSAGE_ROLES = frozenset({"user", "system", "developer", "assistant"})


def _fail(message: str, param: str | None, code: str | None = None) -> InvalidRequest:
    return InvalidRequest(message, param=param, code=code)


# -- request: Responses -> chat ---------------------------------------------------------------


def _text_of(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(f"'{where}' must be a string", where)
    return value


def _content(role: str, content: Any, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _fail(f"'{where}' must be a string or an array of content parts", where)
    parts: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        at = f"{where}[{j}]"
        if not isinstance(part, dict):
            raise _fail(f"'{at}' must be an object", at)
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": _text_of(part.get("text"), f"{at}.text")})
        elif kind == "refusal":
            parts.append({"type": "text", "text": _text_of(part.get("refusal"), f"{at}.refusal")})
        elif kind == "input_image" and role != "assistant":
            url = part.get("image_url")
            if not isinstance(url, str) or not url:
                raise _fail(
                    f"'{at}.image_url' must be a URL or data URL (file ids need file storage, "
                    "which this router does not have)",
                    f"{at}.image_url",
                )
            image: dict[str, Any] = {"url": url}
            if isinstance(part.get("detail"), str):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise _fail(f"'{at}.type' {kind!r} is not supported here", f"{at}.type")
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts


def _tool_output(output: Any, where: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        texts = []
        for j, part in enumerate(output):
            if not isinstance(part, dict) or part.get("type") not in ("input_text", "output_text"):
                raise _fail(f"'{where}[{j}]' must be an input_text part", f"{where}[{j}]")
            texts.append(_text_of(part.get("text"), f"{where}[{j}].text"))
        return "".join(texts)
    raise _fail(f"'{where}' must be a string or an array of text parts", where)


def input_items(value: Any) -> list[dict[str, Any]]:
    """``input`` as a list of items (a string is one user message); validated by to_chat."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return list(value) if isinstance(value, list) else []


def _messages(value: Any, out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``value``'s items as chat messages appended to ``out`` (earlier turns, already
    translated)."""
    if isinstance(value, str):
        if not value:
            raise _fail("'input' must not be empty", "input")
        out.append({"role": "user", "content": value})
        return out
    if not isinstance(value, list) or not value:
        raise _fail("'input' must be a non-empty string or array of items", "input")
    for i, item in enumerate(value):
        at = f"input[{i}]"
        if not isinstance(item, dict):
            raise _fail(f"'{at}' must be an object", at)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in _MESSAGE_ROLES:
                raise _fail(
                    f"'{at}.role' must be one of {', '.join(sorted(_MESSAGE_ROLES))}", f"{at}.role"
                )
            if "content" not in item:
                raise _fail(f"'{at}.content' is required", f"{at}.content")
            chat_role = "system" if role == "developer" else role
            out.append(
                {"role": chat_role, "content": _content(role, item["content"], at + ".content")}
            )
        elif kind == "function_call":
            call = {
                "id": _text_of(item.get("call_id"), f"{at}.call_id"),
                "type": "function",
                "function": {
                    "name": _text_of(item.get("name"), f"{at}.name"),
                    "arguments": _text_of(item.get("arguments"), f"{at}.arguments"),
                },
            }
            prev = out[-1] if out else None
            if prev is not None and prev["role"] == "assistant" and "tool_calls" in prev:
                prev["tool_calls"].append(call)
            elif prev is not None and prev["role"] == "assistant":
                prev["tool_calls"] = [call]
            else:
                # "" rather than null: llama-cpp-python's server refuses a null content.
                out.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif kind == "function_call_output":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": _text_of(item.get("call_id"), f"{at}.call_id"),
                    "content": _tool_output(item.get("output"), f"{at}.output"),
                }
            )
        elif kind == "reasoning":
            # A model's own earlier reasoning: chat completions has no place for it, and
            # OpenAI does not show it to other models either.
            continue
        elif kind == "item_reference":
            raise _fail(
                f"'{at}': item references need stored responses, which this router does not "
                "keep; send the item itself",
                at,
                "unsupported_parameter",
            )
        else:
            raise _fail(f"'{at}.type' {kind!r} is not supported", f"{at}.type")
    if not out:
        raise _fail("'input' holds no message", "input")
    return out


def _tools(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _fail("'tools' must be an array", "tools")
    out = []
    for i, tool in enumerate(value):
        at = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise _fail(
                f"'{at}.type' must be 'function' (hosted tools such as {kind!r} need OpenAI's "
                "servers)",
                f"{at}.type",
            )
        fn: dict[str, Any] = {"name": _text_of(tool.get("name"), f"{at}.name")}
        for key in ("description", "parameters", "strict"):
            if tool.get(key) is not None:
                fn[key] = tool[key]
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(value: Any) -> Any:
    if value in ("auto", "none", "required"):
        return value
    if isinstance(value, dict) and value.get("type") == "function":
        return {
            "type": "function",
            "function": {"name": _text_of(value.get("name"), "tool_choice.name")},
        }
    raise _fail("'tool_choice' must be auto, none, required or a function", "tool_choice")


def _response_format(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, dict):
        raise _fail("'text' must be an object", "text")
    fmt = text.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise _fail("'text.format' must be an object", "text.format")
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    raise _fail("'text.format.type' must be text, json_object or json_schema", "text.format.type")


def to_chat(
    body: Mapping[str, Any], history: Sequence[dict[str, Any]] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The chat-completions body for a Responses request, and the fields its answers echo.
    ``history`` is the conversation ``previous_response_id`` named, as input items. Raises
    :class:`InvalidRequest` naming the Responses parameter at fault."""
    for key, why in _STATEFUL.items():
        if body.get(key) is not None:
            raise _fail(f"'{key}' is not supported: {why}", key, "unsupported_parameter")
    if body.get("background"):
        raise _fail(
            "'background' is not supported: stream instead", "background", "unsupported_parameter"
        )
    if "input" not in body:
        raise _fail("'input' is required", "input")
    messages = _messages(list(history), []) if history else []
    messages = _messages(body["input"], messages)
    instructions = body.get("instructions")
    if instructions is not None:
        messages.insert(0, {"role": "system", "content": _text_of(instructions, "instructions")})
    chat: dict[str, Any] = {}
    if "model" in body:
        chat["model"] = body["model"]
    chat["messages"] = messages
    if body.get("tools"):
        chat["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    for key in _PASSED:
        if body.get(key) is not None:
            chat[key] = body[key]
    limit = body.get("max_output_tokens")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise _fail("'max_output_tokens' must be a positive integer", "max_output_tokens")
        chat["max_tokens"] = limit
    if body.get("text") is not None:
        fmt = _response_format(body["text"])
        if fmt is not None:
            chat["response_format"] = fmt
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
        chat["reasoning_effort"] = reasoning["effort"]
    stream = body.get("stream")
    if stream is not None:
        chat["stream"] = stream
        if stream is True:
            chat["stream_options"] = {"include_usage": True}
    echo = {key: body.get(key) for key in _ECHOED}
    return chat, echo


# -- answer: chat -> Responses ----------------------------------------------------------------


def usage_of(usage: Any) -> dict[str, Any] | None:
    if not isinstance(usage, dict):
        return None
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": usage.get("total_tokens") or prompt + completion,
    }


def status_of(finish: Any) -> tuple[str, dict[str, str] | None]:
    if finish == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def response_object(
    rid: str,
    created: int,
    model: str,
    echo: Mapping[str, Any],
    output: list[dict[str, Any]],
    *,
    status: str = "completed",
    incomplete: dict[str, str] | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": status,
        "error": None,
        "incomplete_details": incomplete,
        "model": model,
        "output": output,
        "usage": usage,
    }
    for key in _ECHOED:
        obj[key] = echo.get(key)
    obj["store"] = bool(echo.get("store"))
    obj["tools"] = echo.get("tools") or []
    obj["tool_choice"] = echo.get("tool_choice") or "auto"
    obj["parallel_tool_calls"] = echo.get("parallel_tool_calls") is not False
    obj["metadata"] = echo.get("metadata") or {}
    obj["truncation"] = echo.get("truncation") or "disabled"
    obj["text"] = echo.get("text") or {"format": {"type": "text"}}
    return obj


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def reasoning_item(item_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "reasoning",
        "id": item_id,
        "summary": [],
        "content": [{"type": "reasoning_text", "text": text}],
        "status": "completed",
    }


def call_item(item_id: str, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


def base_id(rid: str) -> str:
    return rid.removeprefix("resp_")


def from_chat(
    chat: Mapping[str, Any], rid: str, created: int, model: str, echo: Mapping[str, Any]
) -> dict[str, Any]:
    """The Responses object for a chat completion."""
    base = base_id(rid)
    choices = chat.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    message = choice.get("message") if isinstance(choice, dict) else None
    message = message if isinstance(message, dict) else {}
    output: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        output.append(reasoning_item(f"rs_{base}", reasoning))
    content = message.get("content")
    if isinstance(content, str) and content:
        output.append(message_item(f"msg_{base}", content))
    calls = message.get("tool_calls")
    for i, call in enumerate(calls if isinstance(calls, list) else []):
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            continue
        call_id = call.get("id") or f"call_{base}_{i}"
        args = fn.get("arguments")
        output.append(
            call_item(
                f"fc_{base}_{i}",
                str(call_id),
                str(fn.get("name") or ""),
                args if isinstance(args, str) else orjson.dumps(args or {}).decode(),
            )
        )
    status, incomplete = status_of(
        choice.get("finish_reason") if isinstance(choice, dict) else None
    )
    return response_object(
        rid,
        created,
        model,
        echo,
        output,
        status=status,
        incomplete=incomplete,
        usage=usage_of(chat.get("usage")),
    )


# -- streams ----------------------------------------------------------------------------------
