"""Cache affinity: send a request to the replica that probably holds its prompt's prefix in its
KV cache (llama.cpp, vLLM and SGLang all reuse a cached prefix), unless that replica already
carries more than its share of the load.

Three parts, all pure (state plus the caller's ``now``, no I/O):

- :class:`LocalIndex`, which prefix blocks (:mod:`zeta_router.routing.prefix`) were recently
  routed to which replica: LRU-bounded per replica, entries older than ``ttl_s`` ignored, and
  corrected when a backend reports that it no longer held what was routed there. It sits behind
  the small :class:`PrefixIndex` protocol so that a store shared by several router processes
  can take its place;
- :class:`SessionTable`, the replica of each session a client named, LRU-bounded;
- :meth:`Affinity.pick`, the choice under a bounded load, as in consistent hashing with bounded
  loads (Mirrokni et al.): the affine replica takes the request only while its load plus this
  request stays within ``load_factor`` x the mean load, this request included (and at least
  one request: an idle replica always fits); otherwise the next-best holder that
  fits, otherwise the balancer among the replicas that fit. A hot prefix therefore spreads
  instead of piling up. Only replicas the balancer would consider are candidates (health,
  breaker and concurrency are checked before), and one that is slow-starting, probing or whose
  scraped load is stale is never preferred for its cache: the balancer alone decides on it.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from zeta_router.config import AffinitySettings
from zeta_router.fleet.state import ReplicaState
from zeta_router.routing.prefix import Prefix, request_prefix, session_of


class Outcome(StrEnum):
    #: The replica of the session the client named.
    SESSION = "session"
    #: The replica holding the longest known prefix of the prompt.
    PREFIX = "prefix"
    #: The affine replica was over the load bound; another one took the request.
    OVERRIDE = "load-bound"
    #: Nothing known about this prompt: the balancer chose.
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Hit:
    """A replica's match: the first ``depth`` blocks, last routed there at ``at``."""

    depth: int
    at: float


class PrefixIndex(Protocol):
    """Where prefixes were routed. ``hashes`` are a prompt's block hashes in order; a shared
    implementation must keep the prefix property (holding block i implies blocks before it)."""

    def observe(self, replica: str, hashes: Sequence[int], now: float) -> None: ...

    def lookup(
        self, hashes: Sequence[int], replicas: Sequence[str], now: float
    ) -> dict[str, Hit]: ...

    def evict_until(self, replica: str, at: float) -> int: ...

    def forget(self, replica: str) -> None: ...

    def sizes(self) -> dict[str, int]: ...


class LocalIndex:
    """Per replica, block hash -> when last routed there, least recently used first."""

    def __init__(self, max_blocks_per_replica: int, ttl_s: float) -> None:
        self._cap = max_blocks_per_replica
        self._ttl = ttl_s
        self._held: dict[str, OrderedDict[int, float]] = {}

    def observe(self, replica: str, hashes: Sequence[int], now: float) -> None:
        held = self._held.get(replica)
        if held is None:
            held = self._held[replica] = OrderedDict()
        # Deepest first, so the shared head of a conversation is the last to be evicted and
        # what is kept stays a prefix.
        for h in reversed(hashes):
            held[h] = now
            held.move_to_end(h)
        while len(held) > self._cap:
            held.popitem(last=False)

    def lookup(self, hashes: Sequence[int], replicas: Sequence[str], now: float) -> dict[str, Hit]:
        out: dict[str, Hit] = {}
        if not hashes:
            return out
        oldest = now - self._ttl
        for rid in replicas:
            held = self._held.get(rid)
            if not held:
                continue
            at = held.get(hashes[0])
            if at is None or at < oldest:
                continue
            # Held blocks form a prefix: binary search for its end.
            lo, hi, found = 1, len(hashes), at
            while lo < hi:
                mid = (lo + hi + 1) // 2
                seen = held.get(hashes[mid - 1])
                if seen is not None and seen >= oldest:
                    lo, found = mid, seen
                else:
                    hi = mid - 1
            out[rid] = Hit(lo, found)
        return out

    def evict_until(self, replica: str, at: float) -> int:
        """Drop what was routed to ``replica`` at or before ``at`` (the backend said it no
        longer holds a prefix routed then; with LRU caches, it holds nothing older either)."""
        held = self._held.get(replica)
        n = 0
        while held:
            h, seen = next(iter(held.items()))
            if seen > at:
                break
            del held[h]
            n += 1
        return n

    def forget(self, replica: str) -> None:
        self._held.pop(replica, None)

    def sizes(self) -> dict[str, int]:
        return {rid: len(held) for rid, held in self._held.items()}


class SessionStore(Protocol):
    """Where each client-named session was last served (``session`` is a stable hash)."""

    def get(self, model: str, session: int) -> str | None: ...

    def put(self, model: str, session: int, replica: str) -> None: ...

    def __len__(self) -> int: ...


class SessionTable:
    """(model, session) -> the replica that served its last request, LRU-bounded."""

    def __init__(self, capacity: int) -> None:
        self._cap = capacity
        self._where: OrderedDict[tuple[str, int], str] = OrderedDict()

    def get(self, model: str, session: int) -> str | None:
        return self._where.get((model, session))

    def put(self, model: str, session: int, replica: str) -> None:
        key = (model, session)
        self._where[key] = replica
        self._where.move_to_end(key)
        if len(self._where) > self._cap:
            self._where.popitem(last=False)

    def __len__(self) -> int:
        return len(self._where)


@dataclass(frozen=True, slots=True)
class Key:
    """What a request brings to the choice: its prompt's blocks and the session it named."""

    prefix: Prefix
    session: int | None = None


@dataclass(frozen=True, slots=True)
class CacheReport:
    """What the serving backend said of its prompt cache for one request (llama.cpp's
    ``timings.cache_n`` / ``prompt_n``, or OpenAI's ``usage.prompt_tokens_details``)."""

    cached_tokens: int
    prompt_tokens: int


@dataclass(frozen=True, slots=True)
class Note:
    """The affinity part of a routing decision, for explain output, metrics and correction."""

    outcome: Outcome
    replica: str
    #: Characters of the prompt the chosen replica was expected to hold (0: none).
    expected_chars: int = 0
    #: The prompt's length in characters.
    prompt_chars: int = 0
    #: When the expected prefix was last routed to the chosen replica.
    seen_at: float = 0.0
    #: The affine replica the load bound turned away.
    over: str | None = None

    def describe(self) -> str:
        if self.outcome is Outcome.SESSION:
            return f"affinity: session ({self.expected_chars} chars cached)"
        if self.outcome is Outcome.PREFIX:
            return f"affinity: prefix {self.expected_chars} of {self.prompt_chars} chars"
        if self.outcome is Outcome.OVERRIDE:
            return f"affinity: {self.over} over the load bound"
        return ""


class Strategy(Protocol):
    def pick(self, replicas: Sequence[ReplicaState], now: float) -> ReplicaState: ...


#: A backend that reports caching less than this share of what the index expected is taken to
#: have evicted it (llama.cpp always re-evaluates the last few tokens of a cached prompt).
_MISS_SHARE = 0.5
#: Expectations too small to judge by a report.
_MIN_EXPECTED_SHARE = 0.2


class Affinity:
    """The affinity choice and its state; one per router (the request path is its writer)."""

    def __init__(
        self,
        settings: AffinitySettings,
        slow_start_s: float = 0.0,
        stale_after_s: float = math.inf,
        *,
        index: PrefixIndex | None = None,
        sessions: SessionStore | None = None,
    ) -> None:
        self.settings = settings
        self._slow_start_s = slow_start_s
        self._stale_after_s = stale_after_s
        self.index: PrefixIndex = (
            index
            if index is not None
            else LocalIndex(settings.max_blocks_per_replica, settings.ttl_s)
        )
        #: Both stores sit behind small protocols, so that router processes can share them.
        self.sessions: SessionStore = (
            sessions if sessions is not None else SessionTable(settings.max_sessions)
        )
        #: Index corrections made from backend reports (blocks dropped, reports that did it).
        self.corrected_blocks = 0
        self.corrections = 0

    def key(
        self, endpoint: str, body: dict[str, Any], session: str | None, choices: int = 2
    ) -> Key | None:
        """What affinity knows of a request: None when it is off or does not apply (only chat
        and completions prompts are cached by prefix, and only where ``choices``, the most
        replicas any model of its route has, leaves something to choose)."""
        a = self.settings
        if not a.enabled or choices < 2 or endpoint not in ("chat", "completions"):
            return None
        named = session_of(session, body) if a.sessions else None
        return Key(request_prefix(endpoint, body, a.block_chars), named)

    def _eligible(self, r: ReplicaState, now: float) -> bool:
        """Whether a replica may be preferred for its cache (else only the balancer picks it)."""
        if r.probing(now):
            return False
        if self._slow_start_s > 0 and r.ready_since and now - r.ready_since < self._slow_start_s:
            return False
        s = r.scraped
        return s is None or now - s.at <= self._stale_after_s

    def _load(self, r: ReplicaState, now: float) -> float:
        load = float(r.in_flight)
        s = r.scraped
        if s is not None and now - s.at <= self._stale_after_s:
            # The backend's queue includes our in-flight requests; count only the excess.
            load += max(0.0, s.waiting + s.running - r.in_flight)
        return load

    def pick(
        self, replicas: Sequence[ReplicaState], now: float, key: Key | None, strategy: Strategy
    ) -> tuple[ReplicaState, Note | None]:
        """Choose among ``replicas`` (all usable now, of one model) and remember the choice;
        without a key, the balancer's choice."""
        if key is None:
            return strategy.pick(replicas, now), None
        prefix = key.prefix
        if len(replicas) == 1:
            only = replicas[0]
            self._remember(only, key, now)
            return only, Note(Outcome.NONE, only.id, prompt_chars=prefix.chars)
        hits: dict[str, Hit] = {}
        if prefix.hashes:
            hits = self.index.lookup(prefix.hashes, [r.id for r in replicas], now)
            for r in replicas:
                hit = hits.get(r.id)
                if hit is not None and hit.at < r.ready_since:
                    # Routed there before it (re)started or came back from an ejection: a
                    # new process holds nothing, and a long-broken one is not to be trusted.
                    del hits[r.id]
        home = None
        if key.session is not None:
            home = self.sessions.get(replicas[0].model, key.session)
        if not hits and home is None:
            # Nothing known (a first turn, a prompt shared with nobody): the balancer alone.
            picked = strategy.pick(replicas, now)
            self._remember(picked, key, now)
            return picked, Note(Outcome.NONE, picked.id, prompt_chars=prefix.chars)
        loads = [self._load(r, now) for r in replicas]
        total = sum(loads) + 1.0
        weights = sum(r.weight for r in replicas)
        factor = self.settings.load_factor
        fits = [
            # Not rounded up as in the paper: with two replicas, ceil(1.25 x 1) = 2 would let
            # one replica take both of two requests while the other idles.
            load + 1.0 <= max(1.0, factor * total * r.weight / weights)
            for r, load in zip(replicas, loads, strict=True)
        ]
        over: str | None = None
        chosen: ReplicaState | None = None
        outcome = Outcome.NONE
        if home is not None:
            for i, r in enumerate(replicas):
                if r.id == home and self._eligible(r, now):
                    if fits[i]:
                        chosen, outcome = r, Outcome.SESSION
                    else:
                        over = home
                    break
        if chosen is None and hits:
            chosen, outcome, over = self._by_prefix(
                replicas, now, prefix, hits, fits, over, strategy
            )
        if chosen is None:
            pool = [r for r, ok in zip(replicas, fits, strict=True) if ok] if over else replicas
            chosen = strategy.pick(pool or replicas, now)
            outcome = Outcome.OVERRIDE if over else Outcome.NONE
        hit = hits.get(chosen.id)
        note = Note(
            outcome,
            chosen.id,
            prefix.chars_at(hit.depth) if hit is not None else 0,
            prefix.chars,
            hit.at if hit is not None else 0.0,
            over,
        )
        self._remember(chosen, key, now)
        return chosen, note

    def _by_prefix(
        self,
        replicas: Sequence[ReplicaState],
        now: float,
        prefix: Prefix,
        hits: dict[str, Hit],
        fits: list[bool],
        over: str | None,
        strategy: Strategy,
    ) -> tuple[ReplicaState | None, Outcome, str | None]:
        # A short shared head ("You are a helpful assistant.") is not worth a preference.
        min_depth = bisect_left(prefix.ends, self.settings.min_prefix_chars) + 1
        best_all = 0
        best_fit = 0
        tied: list[ReplicaState] = []
        turned_away: str | None = None
        for i, r in enumerate(replicas):
            hit = hits.get(r.id)
            if hit is None or hit.depth < min_depth or not self._eligible(r, now):
                continue
            if hit.depth > best_all:
                best_all = hit.depth
                if not fits[i]:
                    turned_away = r.id
            if not fits[i]:
                continue
            if hit.depth > best_fit:
                best_fit, tied = hit.depth, [r]
            elif hit.depth == best_fit:
                tied.append(r)
        if not best_all:
            return None, Outcome.NONE, over
        if best_fit < best_all and turned_away is not None:
            over = over or turned_away
        if not tied:
            return None, Outcome.NONE, over
        chosen = tied[0] if len(tied) == 1 else strategy.pick(tied, now)
        return chosen, Outcome.OVERRIDE if over else Outcome.PREFIX, over

    def _remember(self, r: ReplicaState, key: Key, now: float) -> None:
        if key.prefix.hashes:
            self.index.observe(r.id, key.prefix.hashes, now)
        if key.session is not None:
            self.sessions.put(r.model, key.session, r.id)

    def report(self, note: Note | None, cache: CacheReport | None) -> None:
        """What the serving backend said it had cached of the prompt. A replica that held
        much less than the index expected evicted it: drop what was routed there until then."""
        if note is None or cache is None:
            return
        cached_tokens, prompt_tokens = cache.cached_tokens, cache.prompt_tokens
        if note.expected_chars <= 0 or note.prompt_chars <= 0 or prompt_tokens <= 0:
            return
        expected = note.expected_chars / note.prompt_chars
        if expected < _MIN_EXPECTED_SHARE:
            return
        if cached_tokens / prompt_tokens < expected * _MISS_SHARE:
            self.corrections += 1
            self.corrected_blocks += self.index.evict_until(note.replica, note.seen_at)

    def forget(self, replica: str) -> None:
        """The replica restarted: its cache is empty."""
        self.index.forget(replica)

    def status(self) -> dict[str, object]:
        sizes = self.index.sizes()
        return {
            "enabled": self.settings.enabled,
            "load_factor": self.settings.load_factor,
            "blocks": sum(sizes.values()),
            "blocks_per_replica": sizes,
            "max_blocks_per_replica": self.settings.max_blocks_per_replica,
            "sessions": len(self.sessions),
            "max_sessions": self.settings.max_sessions,
            "corrections": self.corrections,
            "corrected_blocks": self.corrected_blocks,
        }
