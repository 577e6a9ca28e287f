"""A decision cache in front of an analyzer: LRU with a TTL.

Clients resend the same conversation (retries, regenerate, agents looping), so a verdict is worth
keeping briefly. The key is a hash of the *whole* normalised prompt: two chats that share a long
pasted prefix but end in different questions must not share a verdict.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from hashlib import blake2b

from zeta_router.analysis.base import Analyzer
from zeta_router.analysis.profile import Prompt, TaskProfile

# Separators that cannot be confused with text so ("ab","c") and ("a","bc") hash apart.
_ROLE_SEP = b"\x1e"
_TURN_SEP = b"\x1f"


def prompt_key(prompt: Prompt) -> bytes:
    h = blake2b(digest_size=16)
    h.update(prompt.system.encode("utf-8", "surrogatepass"))
    for turn in prompt.turns:
        h.update(_TURN_SEP)
        h.update(turn.role.encode("utf-8", "surrogatepass"))
        h.update(_ROLE_SEP)
        h.update(turn.text.encode("utf-8", "surrogatepass"))
    return h.digest()


class CachedAnalyzer:
    """Wraps an analyzer; ``hits`` and ``misses`` are plain counters for metrics export."""

    def __init__(
        self,
        inner: Analyzer,
        size: int,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.size = size
        self.ttl_s = ttl_s
        self.hits = 0
        self.misses = 0
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[float, TaskProfile]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def analyze(self, prompt: Prompt) -> TaskProfile:
        if self.size <= 0:
            self.misses += 1
            return self.inner.analyze(prompt)
        key = prompt_key(prompt)
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None:
            if entry[0] > now:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[1]
            del self._entries[key]
        self.misses += 1
        profile = self.inner.analyze(prompt)
        self._entries[key] = (now + self.ttl_s, profile)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return profile

    def clear(self) -> None:
        self._entries.clear()
