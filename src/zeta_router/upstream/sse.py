"""Server-sent events as the agent APIs write them: ``event: NAME`` plus one ``data:`` line."""

from __future__ import annotations

from typing import Any

import orjson


def event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def split_events(block: bytes) -> list[tuple[str, bytes]]:
    """(event name, data) per SSE event in ``block``, comments and blank events left out; the
    name falls back to the data's ``type`` (servers that write no ``event:`` lines)."""
    out: list[tuple[str, bytes]] = []
    for raw in block.replace(b"\r\n", b"\n").split(b"\n\n"):
        name = ""
        data: list[bytes] = []
        for line in raw.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode("utf-8", "replace")
            elif line.startswith(b"data:"):
                data.append(line[5:].lstrip(b" "))
        if not data and not name:
            continue
        payload = b"\n".join(data)
        if not name and payload.startswith(b"{"):
            try:
                obj = orjson.loads(payload)
            except orjson.JSONDecodeError:
                obj = None
            if isinstance(obj, dict) and isinstance(obj.get("type"), str):
                name = obj["type"]
        out.append((name, payload))
    return out


def has_event(block: bytes, marks: tuple[bytes, ...], names: frozenset[str]) -> bool:
    """Whether ``block`` holds an event named one of ``names``; ``marks`` (their bytes) make
    the usual block, which holds none of them, one scan each."""
    if not any(mark in block for mark in marks):
        return False
    return any(kind in names for kind, _ in split_events(block))


def data_of(block: bytes) -> list[bytes]:
    """The data payload of each event in ``block`` (chat-completion streams name no events)."""
    out: list[bytes] = []
    for raw in block.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = [line[5:].lstrip(b" ") for line in raw.split(b"\n") if line.startswith(b"data:")]
        if lines:
            out.append(lines[0] if len(lines) == 1 else b"\n".join(lines))
    return out
