"""What part of a request's prompt a model server may already hold in its KV cache: the
conversation cut into blocks, each named by a hash of everything up to its end.

Model servers cache by token prefix, and the router does not tokenize. A block ends at every
message boundary and after every ``block_chars`` characters within a message, so two requests
that share their first messages (a system document, the earlier turns of a conversation) share
those blocks' hashes, and a request that extends another one (the next turn) holds every block
of the earlier one. Each hash covers the whole prefix up to the block's end (one running hash,
read after each block), so equal hashes mean equal prefixes, and block ``i`` of two requests
can only match when all blocks before it do.

A block's hash is the running CRC-32 of the prompt up to its end, beside that end's position
(64 bits: two prefixes collide only with the same length and checksum). CRC-32 continues from
the previous value, so the prefix hash at each block end costs one C call per piece, and it is
the same in every process (unlike Python's salted ``hash``), so router instances that share an
index (issue 18) agree on it. It is not cryptographic: a client who crafts a collision only
moves its own request to another replica. Cost: see BENCHMARKS.md (issue 17).
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

#: Role markers, so that the same text as system and as user message hash differently.
_ROLE_TAGS: dict[str, bytes] = {
    role: f"\x00{role}\x00".encode()
    for role in ("system", "developer", "user", "assistant", "tool", "function")
}
_OTHER_TAG = b"\x00?\x00"


@dataclass(frozen=True, slots=True)
class Prefix:
    """A prompt's blocks: ``hashes[i]`` names the prompt up to character ``ends[i]``."""

    hashes: tuple[int, ...]
    ends: tuple[int, ...]

    @property
    def chars(self) -> int:
        return self.ends[-1] if self.ends else 0

    def chars_at(self, depth: int) -> int:
        """Characters covered by the first ``depth`` blocks."""
        return self.ends[depth - 1] if depth > 0 else 0


EMPTY = Prefix((), ())


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate (JSON allows "\\ud800")
        return text.encode("utf-8", "surrogatepass")


def _flatten(content: Any) -> str:
    """A message content that is not a string, as text: the text parts as they are, anything
    else (images, audio) as its JSON, whose bytes matter to the cache as much."""
    if content is None:
        return ""
    if isinstance(content, list):
        return "\x00".join(
            p["text"]
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
            else orjson.dumps(p, option=orjson.OPT_SORT_KEYS).decode()
            for p in content
        )
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS).decode()


def _long(
    text: str, block: int, crc: int, pos: int, hashes: list[int], ends: list[int]
) -> tuple[int, int]:
    """Feed a text longer than one block, cutting after each full block but the last."""
    n = len(text)
    start = 0
    while n - start > block:
        crc = zlib.crc32(_utf8(text[start : start + block]), crc)
        start += block
        pos += block
        hashes.append(crc << 32 | pos)
        ends.append(pos)
    return zlib.crc32(_utf8(text[start:]), crc), pos + n - start


def chat_prefix(messages: Sequence[Any], block_chars: int) -> Prefix:
    """The blocks of (validated) chat messages: one cut after each message, more within long
    ones. Tool calls are hashed as their JSON."""
    # One flat loop on local variables: it runs on every request, once per message.
    crc32, tags = zlib.crc32, _ROLE_TAGS
    crc, pos = 0, 0
    hashes: list[int] = []
    ends: list[int] = []
    for m in messages:
        if type(m) is not dict:
            continue
        role = m.get("role")
        tag = tags.get(role, _OTHER_TAG) if type(role) is str else _OTHER_TAG
        content = m.get("content")
        text = content if type(content) is str else _flatten(content)
        if len(text) > block_chars:
            crc, pos = _long(text, block_chars, crc32(tag, crc), pos, hashes, ends)
        else:
            crc = crc32(tag + _utf8(text), crc)
            pos += len(text)
        calls = m.get("tool_calls") or m.get("function_call")
        if calls:
            crc = crc32(orjson.dumps(calls, option=orjson.OPT_SORT_KEYS), crc)
        hashes.append(crc << 32 | pos)
        ends.append(pos)
    return Prefix(tuple(hashes), tuple(ends))


def text_prefix(prompt: Any, block_chars: int) -> Prefix:
    """The blocks of a (validated) completions prompt: fixed character blocks. A list of
    strings is one prompt per entry to the server; the first entry stands for them all."""
    if isinstance(prompt, list):
        if not prompt:
            return EMPTY
        first = prompt[0]
        # Token ids: their JSON, in fixed blocks like text.
        prompt = orjson.dumps(prompt).decode() if isinstance(first, int) else first
    if not isinstance(prompt, str) or not prompt:
        return EMPTY
    hashes: list[int] = []
    ends: list[int] = []
    crc, pos = _long(prompt, block_chars, 0, 0, hashes, ends)
    hashes.append(crc << 32 | pos)
    ends.append(pos)
    return Prefix(tuple(hashes), tuple(ends))


def request_prefix(endpoint: str, body: dict[str, Any], block_chars: int) -> Prefix:
    """The blocks of a chat or completions body; :data:`EMPTY` for other endpoints."""
    if endpoint == "chat":
        messages = body.get("messages")
        return chat_prefix(messages, block_chars) if isinstance(messages, list) else EMPTY
    if endpoint == "completions":
        return text_prefix(body.get("prompt"), block_chars)
    return EMPTY


def session_hash(value: str) -> int:
    """A client-named session as a stable number: the index keeps no client text."""
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def session_of(header: str | None, body: dict[str, Any]) -> int | None:
    """The session a client named: the ``x-zeta-session`` header, else OpenAI's
    ``prompt_cache_key``, else ``user``. None when it named none."""
    if header:
        return session_hash("h:" + header)
    for key in ("prompt_cache_key", "user"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return session_hash(f"{key[0]}:{value}")
    return None
