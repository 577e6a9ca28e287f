"""The bounded in-memory store behind ``previous_response_id`` (the Responses API).

Per answered response it keeps the conversation so far as Responses input items: what the
request's input expanded to, plus the answer's output items. A request naming a stored id gets
those items put before its own input, so the model sees the whole conversation whichever
replica (native or translated) serves it. An id that is unknown, expired or evicted is a 400,
never a request answered without its context.

Bounded three ways: entries, total size (the JSON size of what was stored, approximated from
the request and answer bytes, which are at hand) and age. Least recently used goes first. One
process, one store: a second gateway process does not see these ids.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from zeta_router.config import ResponsesSettings


@dataclass(frozen=True, slots=True)
class Stored:
    #: The conversation as Responses input items (earlier turns first).
    items: tuple[dict[str, Any], ...]
    size: int
    expires: float


class ResponseStore:
    """LRU over response ids; written only by the router's request path."""

    def __init__(self, settings: ResponsesSettings, clock: Callable[[], float]) -> None:
        self._max_entries = settings.store_size
        self._max_bytes = settings.store_max_bytes
        self._ttl = settings.store_ttl_s
        self._clock = clock
        self._entries: OrderedDict[str, Stored] = OrderedDict()
        self.bytes = 0

    @property
    def enabled(self) -> bool:
        return self._max_entries > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, rid: str) -> Stored | None:
        entry = self._entries.get(rid)
        if entry is None:
            return None
        if entry.expires <= self._clock():
            self._drop(rid)
            return None
        self._entries.move_to_end(rid)
        return entry

    def put(self, rid: str, items: Sequence[dict[str, Any]], size: int) -> bool:
        """Keep ``items`` under ``rid``; False when it is too large for the store at all."""
        if not self.enabled or size > self._max_bytes:
            return False
        if rid in self._entries:
            self._drop(rid)
        self._entries[rid] = Stored(tuple(items), size, self._clock() + self._ttl)
        self.bytes += size
        now = self._clock()
        while self._entries and (
            len(self._entries) > self._max_entries or self.bytes > self._max_bytes
        ):
            oldest = next(iter(self._entries))
            self._drop(oldest)
        # Expired entries at the old end go too, so a quiet store does not hold memory.
        while self._entries:
            oldest, entry = next(iter(self._entries.items()))
            if entry.expires > now:
                break
            self._drop(oldest)
        return rid in self._entries

    def _drop(self, rid: str) -> None:
        entry = self._entries.pop(rid)
        self.bytes -= entry.size
