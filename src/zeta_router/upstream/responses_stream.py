"""OpenAI's Responses API streams: chat-completion chunks in, semantic SSE events out.

Pure, no I/O. The events are OpenAI's (``response.created``, ``response.in_progress``,
``response.output_item.added`` / ``.done``, ``response.content_part.added`` / ``.done``,
``response.output_text.delta`` / ``.done``, ``response.function_call_arguments.delta`` /
``.done``, ``response.reasoning_text.delta`` / ``.done``, ``response.completed`` or
``response.incomplete``), each with its ``sequence_number``; there is no ``[DONE]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zeta_router.upstream.responses_api import (
    base_id,
    call_item,
    message_item,
    reasoning_item,
    response_object,
    status_of,
    usage_of,
)
from zeta_router.upstream.sse import event, has_event

#: Events after which a Responses stream is over.
TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})
_TERMINAL_MARKS = (b"response.completed", b"response.incomplete", b"response.failed", b"error")


def error_event(message: str, code: str, seq: int) -> bytes:
    """The event that ends a broken stream. Besides the Responses fields it carries an
    ``error`` object, on which the openai SDK raises rather than ending quietly."""
    err = {"message": message, "type": "server_error", "code": code, "param": None}
    data = {"type": "error", "code": code, "message": message, "param": None}
    return event("error", {**data, "sequence_number": seq, "error": err})


def is_terminal(block: bytes) -> bool:
    """Whether a block of whole SSE events holds the one that ends a Responses stream."""
    return has_event(block, _TERMINAL_MARKS, TERMINAL)


class _Open:
    """The output item a stream is writing."""

    __slots__ = ("call_id", "index", "item_id", "kind", "name", "parts")

    def __init__(self, kind: str, index: int, item_id: str, call_id: str = "", name: str = ""):
        self.kind = kind
        self.index = index
        self.item_id = item_id
        self.call_id = call_id
        self.name = name
        self.parts: list[str] = []


class StreamTranslator:
    """Chat-completion chunks in, Responses events out (one instance per stream)."""

    def __init__(self, rid: str, created: int, model: str, echo: Mapping[str, Any]) -> None:
        self.rid = rid
        self._base = base_id(rid)
        self.created = created
        self.model = model
        self.echo = echo
        self.seq = 0
        self.output: list[dict[str, Any]] = []
        self._open: _Open | None = None
        self._calls: dict[int, _Open] = {}
        self._finish: Any = None
        self._usage: dict[str, Any] | None = None

    def _event(self, kind: str, data: dict[str, Any]) -> bytes:
        data = {"type": kind, **data, "sequence_number": self.seq}
        self.seq += 1
        return event(kind, data)

    def _snapshot(self, status: str = "in_progress") -> dict[str, Any]:
        obj = response_object(self.rid, self.created, self.model, self.echo, [], status=status)
        return obj

    def start(self) -> bytes:
        snap = self._snapshot()
        return self._event("response.created", {"response": snap}) + self._event(
            "response.in_progress", {"response": snap}
        )

    def _close(self) -> bytes:
        item = self._open
        if item is None:
            return b""
        self._open = None
        text = "".join(item.parts)
        at = {"item_id": item.item_id, "output_index": item.index}
        if item.kind == "message":
            done = message_item(item.item_id, text)
            out = self._event(
                "response.output_text.done",
                {**at, "content_index": 0, "text": text, "logprobs": []},
            ) + self._event(
                "response.content_part.done",
                {**at, "content_index": 0, "part": done["content"][0]},
            )
        elif item.kind == "reasoning":
            done = reasoning_item(item.item_id, text)
            out = self._event(
                "response.reasoning_text.done", {**at, "content_index": 0, "text": text}
            )
        else:
            done = call_item(item.item_id, item.call_id, item.name, text)
            out = self._event(
                "response.function_call_arguments.done",
                {**at, "name": item.name, "arguments": text},
            )
        self.output.append(done)
        return out + self._event(
            "response.output_item.done", {"output_index": item.index, "item": done}
        )

    def _begin(self, kind: str, call_id: str = "", name: str = "") -> tuple[_Open, bytes]:
        out = self._close()
        index = len(self.output)
        if kind == "message":
            item = _Open(kind, index, f"msg_{self._base}_{index}")
            added: dict[str, Any] = {
                **message_item(item.item_id, "", "in_progress"),
                "content": [],
            }
        elif kind == "reasoning":
            item = _Open(kind, index, f"rs_{self._base}_{index}")
            added = {**reasoning_item(item.item_id, ""), "content": [], "status": "in_progress"}
        else:
            item = _Open(kind, index, f"fc_{self._base}_{index}", call_id, name)
            added = {**call_item(item.item_id, call_id, name, ""), "status": "in_progress"}
        self._open = item
        out += self._event("response.output_item.added", {"output_index": index, "item": added})
        if kind == "message":
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            out += self._event(
                "response.content_part.added",
                {"item_id": item.item_id, "output_index": index, "content_index": 0, "part": part},
            )
        return item, out

    def _text(self, kind: str, delta: str) -> bytes:
        item = self._open
        out = b""
        if item is None or item.kind != kind:
            item, out = self._begin(kind)
        item.parts.append(delta)
        name = (
            "response.output_text.delta" if kind == "message" else "response.reasoning_text.delta"
        )
        data: dict[str, Any] = {
            "item_id": item.item_id,
            "output_index": item.index,
            "content_index": 0,
            "delta": delta,
        }
        if kind == "message":
            data["logprobs"] = []
        return out + self._event(name, data)

    def _call(self, call: Mapping[str, Any]) -> bytes:
        idx = call.get("index", 0)
        idx = idx if isinstance(idx, int) else 0
        fn = call.get("function")
        fn = fn if isinstance(fn, Mapping) else {}
        out = b""
        item = self._calls.get(idx)
        if item is None:
            call_id = call.get("id") or f"call_{self._base}_{idx}"
            item, out = self._begin("function_call", str(call_id), str(fn.get("name") or ""))
            self._calls[idx] = item
        elif fn.get("name") and not item.name:
            item.name = str(fn["name"])
        args = fn.get("arguments")
        if isinstance(args, str) and args:
            item.parts.append(args)
            out += self._event(
                "response.function_call_arguments.delta",
                {"item_id": item.item_id, "output_index": item.index, "delta": args},
            )
        return out

    def feed(self, chunk: Mapping[str, Any]) -> bytes:
        """Events for one chat-completion chunk (often none)."""
        usage = usage_of(chunk.get("usage"))
        if usage is not None:
            self._usage = usage
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return b""
        choice = choices[0]
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return b""
        out = b""
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            out += self._text("reasoning", reasoning)
        content = delta.get("content")
        if isinstance(content, str) and content:
            out += self._text("message", content)
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict):
                out += self._call(call)
        return out

    def finish(self) -> bytes:
        """The closing events once the chat stream said [DONE]."""
        out = self._close()
        status, incomplete = status_of(self._finish)
        final = response_object(
            self.rid,
            self.created,
            self.model,
            self.echo,
            self.output,
            status=status,
            incomplete=incomplete,
            usage=self._usage,
        )
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return out + self._event(kind, {"response": final})

    def error(self, message: str, code: str) -> bytes:
        out = error_event(message, code, self.seq)
        self.seq += 1
        return out


def events_for(response: Mapping[str, Any]) -> bytes:
    """The whole event sequence for a finished Responses object (an upstream that answered a
    stream request with one JSON body)."""
    seq = 0

    def ev(kind: str, data: dict[str, Any]) -> bytes:
        nonlocal seq
        out = event(kind, {"type": kind, **data, "sequence_number": seq})
        seq += 1
        return out

    snap = {**response, "status": "in_progress", "output": []}
    out = ev("response.created", {"response": snap})
    items = response.get("output")
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        out += ev("response.output_item.added", {"output_index": index, "item": item})
        item_id = item.get("id")
        if item.get("type") == "message":
            for ci, part in enumerate(item.get("content") or []):
                if isinstance(part, dict) and part.get("type") == "output_text":
                    at = {"item_id": item_id, "output_index": index, "content_index": ci}
                    out += ev("response.content_part.added", {**at, "part": {**part, "text": ""}})
                    text = part.get("text", "")
                    out += ev("response.output_text.delta", {**at, "delta": text, "logprobs": []})
                    out += ev("response.output_text.done", {**at, "text": text, "logprobs": []})
                    out += ev("response.content_part.done", {**at, "part": part})
        elif item.get("type") == "function_call":
            at = {"item_id": item_id, "output_index": index}
            args = item.get("arguments", "")
            out += ev("response.function_call_arguments.delta", {**at, "delta": args})
            out += ev(
                "response.function_call_arguments.done",
                {**at, "name": item.get("name"), "arguments": args},
            )
        out += ev("response.output_item.done", {"output_index": index, "item": item})
    kind = (
        "response.completed"
        if response.get("status", "completed") == "completed"
        else ("response.incomplete")
    )
    return out + ev(kind, {"response": dict(response)})
