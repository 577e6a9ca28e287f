"""Cache affinity without sockets: prefix blocks, the bounded index, sessions and the choice
under a bounded load, on explicit times (a fake clock) and hand-set replica state."""

from __future__ import annotations

import hashlib
import random
import zlib
from typing import Any

import pytest

from zeta_router.config import AffinitySettings, parse_config
from zeta_router.fleet.state import Fleet, ReplicaState, ScrapedLoad
from zeta_router.routing.affinity import (
    Affinity,
    CacheReport,
    Key,
    LocalIndex,
    Outcome,
    SessionTable,
)
from zeta_router.routing.balancer import P2CEwma, RoundRobin
from zeta_router.routing.prefix import (
    chat_prefix,
    request_prefix,
    session_hash,
    session_of,
    text_prefix,
)
from zeta_router.upstream.cache_report import cache_report, stream_cache_report

NOW = 1000.0
DOC = " ".join(f"word{i}" for i in range(300))  # about 2,400 characters


def replicas(n: int = 3) -> list[ReplicaState]:
    reps = [{"url": f"http://127.0.0.1:{9000 + i}/v1", "id": f"r{i}"} for i in range(n)]
    cfg = parse_config({"models": {"m": {"replicas": reps}}})
    return list(Fleet(cfg).models["m"].replicas)


def conversation(doc: str, turns: int) -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": doc}]
    for t in range(turns):
        msgs.append({"role": "user", "content": f"question {t}"})
        if t < turns - 1:
            msgs.append({"role": "assistant", "content": f"answer {t}"})
    return msgs


def affinity(**settings: Any) -> Affinity:
    return Affinity(AffinitySettings(**settings))


def key(messages: list[dict[str, Any]], session: str | None = None) -> Key:
    return Key(
        chat_prefix(messages, 1024), session_hash(session) if session is not None else None
    )


# -- prefix blocks ------------------------------------------------------------------------------


def test_the_next_turn_holds_every_block_of_the_previous_one() -> None:
    first = chat_prefix(conversation(DOC, 1), 1024)
    second = chat_prefix(conversation(DOC, 2), 1024)
    assert second.hashes[: len(first.hashes)] == first.hashes
    assert len(second.hashes) == len(first.hashes) + 2  # the answer and the new question
    # The system document (2,400 chars) is cut into three blocks, then one per message.
    assert first.ends[:3] == (1024, 2048, len(DOC))
    assert first.chars == len(DOC) + len("question 0")


def test_prompts_that_differ_share_only_the_blocks_before_the_difference() -> None:
    a = chat_prefix([{"role": "system", "content": DOC}, {"role": "user", "content": "x"}], 512)
    b = chat_prefix([{"role": "system", "content": DOC}, {"role": "user", "content": "y"}], 512)
    c = chat_prefix([{"role": "user", "content": DOC}, {"role": "user", "content": "x"}], 512)
    n = len(a.hashes)
    assert a.hashes[: n - 1] == b.hashes[: n - 1] and a.hashes[-1] != b.hashes[-1]
    # The same text under another role is another prompt to the model.
    assert not set(a.hashes) & set(c.hashes)


def test_hashes_are_the_same_in_every_process() -> None:
    # CRC-32 and BLAKE2b, not Python's per-process salted hash(): router instances can share
    # an index.
    assert text_prefix("hello", 1024).hashes == (zlib.crc32(b"hello") << 32 | 5,)
    blake = hashlib.blake2b(b"abc", digest_size=8).digest()
    assert session_hash("abc") == int.from_bytes(blake, "little")


def test_completions_prompts_and_other_endpoints() -> None:
    long = "a" * 2500
    p = request_prefix("completions", {"prompt": long}, 1024)
    assert p.ends == (1024, 2048, 2500)
    assert request_prefix("completions", {"prompt": [long, "other"]}, 1024) == p
    assert request_prefix("completions", {"prompt": [1, 2, 3]}, 1024).chars == len("[1,2,3]")
    assert request_prefix("embeddings", {"input": long}, 1024).hashes == ()
    parts = [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "x"}}]
    assert len(chat_prefix([{"role": "user", "content": parts}], 1024).hashes) == 1


def test_sessions_come_from_the_header_then_prompt_cache_key_then_user() -> None:
    body = {"prompt_cache_key": "k", "user": "u"}
    assert session_of("h", body) == session_hash("h:h")
    assert session_of(None, body) == session_hash("p:k")
    assert session_of(None, {"user": "u"}) == session_hash("u:u")
    assert session_of(None, {"user": ""}) is None
    assert session_of(None, {}) is None


# -- the index ----------------------------------------------------------------------------------


def test_lookup_finds_the_longest_routed_prefix_per_replica() -> None:
    idx = LocalIndex(100, ttl_s=60)
    turn1 = chat_prefix(conversation(DOC, 1), 1024).hashes
    turn3 = chat_prefix(conversation(DOC, 3), 1024).hashes
    idx.observe("r0", turn1, NOW)
    idx.observe("r1", turn1[:1], NOW + 1)
    hits = idx.lookup(turn3, ["r0", "r1", "r2"], NOW + 2)
    assert hits["r0"].depth == len(turn1) and hits["r0"].at == NOW
    assert hits["r1"].depth == 1 and hits["r1"].at == NOW + 1
    assert "r2" not in hits


def test_entries_age_out_after_the_ttl() -> None:
    idx = LocalIndex(100, ttl_s=60)
    blocks = chat_prefix(conversation(DOC, 2), 1024).hashes
    idx.observe("r0", blocks, NOW)
    assert idx.lookup(blocks, ["r0"], NOW + 59)["r0"].depth == len(blocks)
    assert idx.lookup(blocks, ["r0"], NOW + 61) == {}


def test_the_index_is_bounded_and_evicts_the_deepest_blocks_first() -> None:
    idx = LocalIndex(8, ttl_s=600)
    shared = chat_prefix(conversation(DOC, 1), 1024).hashes  # 4 blocks
    idx.observe("r0", shared, NOW)
    for i in range(200):
        idx.observe("r0", chat_prefix(conversation(f"doc {i} " * 50, 1), 1024).hashes, NOW + i)
        assert idx.sizes()["r0"] <= 8
    # An old conversation is gone entirely; a fresh one is whole, its head kept longest.
    assert idx.lookup(shared, ["r0"], NOW + 300) == {}
    recent = chat_prefix(conversation("doc 199 " * 50, 1), 1024).hashes
    assert idx.lookup(recent, ["r0"], NOW + 300)["r0"].depth == len(recent)


def test_evict_until_drops_what_was_routed_at_or_before_a_time() -> None:
    idx = LocalIndex(100, ttl_s=600)
    old = text_prefix("old " * 100, 1024).hashes
    new = text_prefix("new " * 100, 1024).hashes
    idx.observe("r0", old, NOW)
    idx.observe("r0", new, NOW + 5)
    assert idx.evict_until("r0", NOW) == len(old)
    assert idx.lookup(old, ["r0"], NOW + 6) == {}
    assert idx.lookup(new, ["r0"], NOW + 6)["r0"].depth == len(new)
    assert idx.evict_until("nobody", NOW) == 0


def test_session_table_is_lru_bounded() -> None:
    t = SessionTable(3)
    for s in range(3):
        t.put("m", s, f"r{s}")
    assert t.get("m", 0) == "r0"  # touched: 1 is now the oldest
    t.put("m", 0, "r0")
    t.put("m", 9, "r9")
    assert len(t) == 3 and t.get("m", 1) is None and t.get("m", 0) == "r0"
    assert t.get("other", 0) is None


# -- the choice ---------------------------------------------------------------------------------


def test_every_turn_of_a_conversation_goes_where_the_first_went() -> None:
    reps = replicas()
    a = affinity()
    p2c = P2CEwma(random.Random(1))
    first, note = a.pick(reps, NOW, key(conversation(DOC, 1)), p2c)
    assert note is not None and note.outcome is Outcome.NONE
    for t in range(2, 6):
        r, note = a.pick(reps, NOW + t, key(conversation(DOC, t)), p2c)
        assert r is first
        assert note is not None and note.outcome is Outcome.PREFIX
        assert note.expected_chars >= len(DOC) and note.prompt_chars > note.expected_chars
        assert "affinity: prefix" in note.describe()


def test_a_hot_replica_is_passed_over_by_the_load_bound() -> None:
    reps = replicas()
    a = affinity(load_factor=1.25)
    rr = RoundRobin()
    first, _ = a.pick(reps, NOW, key(conversation(DOC, 1)), rr)
    # Mean load with this request: (2 + 1) / 3 = 1, bound 1.25: 2 + 1 > 1.25.
    first.in_flight = 2
    r, note = a.pick(reps, NOW + 1, key(conversation(DOC, 2)), rr)
    assert r is not first
    assert note is not None and note.outcome is Outcome.OVERRIDE and note.over == first.id
    assert f"{first.id} over the load bound" in note.describe()
    # Both now hold the conversation; with load back to normal the longest holder wins.
    first.in_flight = 0
    r2, note2 = a.pick(reps, NOW + 2, key(conversation(DOC, 3)), rr)
    assert r2 is r and note2 is not None and note2.outcome is Outcome.PREFIX


def test_one_hot_prefix_spreads_within_the_bound() -> None:
    """Every request shares one system prompt: load stays within 1.25x the mean."""
    reps = replicas(4)
    a = affinity(load_factor=1.25)
    p2c = P2CEwma(random.Random(3))
    rng = random.Random(5)
    worst = 0.0
    for i in range(400):
        msgs = [{"role": "system", "content": DOC}, {"role": "user", "content": f"q{i}"}]
        r, _ = a.pick(reps, NOW + i * 0.01, key(msgs), p2c)
        r.in_flight += 1
        loads = [q.in_flight for q in reps]
        if sum(loads) >= 8:
            # Bound 1.25 x 9 / 4 = 2.8 in flight, against a mean of 2.
            worst = max(worst, max(loads) / (sum(loads) / len(loads)))
            # Requests finish at random: about 8 in flight.
            busy = [q for q in reps if q.in_flight]
            rng.choice(busy).in_flight -= 1
    assert 0 < worst <= 1.5


def test_session_affinity_sticks_under_the_bound_and_moves_when_over() -> None:
    reps = replicas()
    a = affinity()
    rr = RoundRobin()
    seen = {a.pick(reps, NOW + i, key([{"role": "user", "content": f"q{i}"}], "s1"), rr)[0].id
            for i in range(5)}
    assert len(seen) == 1  # different prompts, one session
    (home,) = seen
    r, note = a.pick(reps, NOW + 9, key([{"role": "user", "content": "q"}], "s1"), rr)
    assert r.id == home and note is not None and note.outcome is Outcome.SESSION
    next(q for q in reps if q.id == home).in_flight = 5
    moved, note = a.pick(reps, NOW + 10, key([{"role": "user", "content": "x"}], "s1"), rr)
    assert moved.id != home
    assert note is not None and note.outcome is Outcome.OVERRIDE and note.over == home
    # The session follows: its latest turn is cached where it went.
    again, note = a.pick(reps, NOW + 11, key([{"role": "user", "content": "y"}], "s1"), rr)
    assert again is moved and note is not None and note.outcome is Outcome.SESSION


def test_ties_between_holders_go_to_the_balancer() -> None:
    reps = replicas(2)
    a = affinity()
    msgs = [{"role": "system", "content": DOC}, {"role": "user", "content": "q"}]
    shared = key(msgs).prefix.hashes[:3]  # the system document only
    for r in reps:
        a.index.observe(r.id, shared, NOW)
    reps[0].latency.value = 0.5  # slow
    reps[1].latency.value = 0.01
    p2c = P2CEwma(random.Random(1))
    for i in range(20):
        other = [{"role": "system", "content": DOC}, {"role": "user", "content": f"u{i}"}]
        r, note = a.pick(reps, NOW + 1, key(other), p2c)
        assert r is reps[1] and note is not None and note.outcome is Outcome.PREFIX


def test_a_short_shared_head_is_no_reason_to_prefer_a_replica() -> None:
    reps = replicas()
    a = affinity(min_prefix_chars=256)
    head = {"role": "system", "content": "You are a helpful assistant."}
    a.index.observe("r0", key([head]).prefix.hashes, NOW)
    _, note = a.pick(reps, NOW, key([head, {"role": "user", "content": "hi"}]), RoundRobin())
    assert note is not None and note.outcome is Outcome.NONE


def test_recovering_and_restarted_replicas_are_not_preferred_for_their_cache() -> None:
    reps = replicas(2)
    a = Affinity(AffinitySettings(), slow_start_s=10.0)
    msgs = conversation(DOC, 1)
    a.index.observe("r0", key(msgs).prefix.hashes, NOW)
    next_turn = key(conversation(DOC, 2))
    # Came back from an ejection after the prefix was routed there: not trusted.
    reps[0].ready_since = NOW + 1
    _, note = a.pick(reps, NOW + 20, next_turn, RoundRobin())
    assert note is not None and note.outcome is Outcome.NONE and note.expected_chars == 0
    # Slow-starting: the balancer's ramp decides, not its cache.
    b = Affinity(AffinitySettings(), slow_start_s=10.0)
    b.index.observe("r0", key(msgs).prefix.hashes, NOW + 2)
    _, note = b.pick(reps, NOW + 3, next_turn, RoundRobin())
    assert note is not None and note.outcome is not Outcome.PREFIX
    # Stale scraped load: unknown, so not preferred either.
    reps[0].ready_since = 0.0
    c = Affinity(AffinitySettings(), stale_after_s=5.0)
    c.index.observe("r0", key(msgs).prefix.hashes, NOW)
    reps[0].scraped = ScrapedLoad(0, 0, None, at=NOW - 60)
    _, note = c.pick(reps, NOW + 1, next_turn, RoundRobin())
    assert note is not None and note.outcome is not Outcome.PREFIX
    reps[0].scraped = ScrapedLoad(0, 0, None, at=NOW)
    d = Affinity(AffinitySettings(), stale_after_s=5.0)
    d.index.observe("r0", key(msgs).prefix.hashes, NOW)
    r, note = d.pick(reps, NOW + 1, next_turn, RoundRobin())
    assert r is reps[0] and note is not None and note.outcome is Outcome.PREFIX


def test_scraped_queues_count_towards_the_load_bound() -> None:
    reps = replicas(2)
    a = affinity()
    msgs = conversation(DOC, 1)
    a.index.observe("r0", key(msgs).prefix.hashes, NOW)
    reps[0].scraped = ScrapedLoad(waiting=6, running=2, at=NOW)  # busy with other clients
    r, note = a.pick(reps, NOW, key(conversation(DOC, 2)), RoundRobin())
    assert r is reps[1] and note is not None and note.outcome is Outcome.OVERRIDE


def test_a_backend_report_of_a_miss_corrects_the_index() -> None:
    reps = replicas(2)
    a = affinity()
    rr = RoundRobin()
    old = conversation("old document " * 40, 1)
    # Another conversation went there before.
    a.index.observe("r0", key(conversation("other " * 60, 1)).prefix.hashes, NOW - 5)
    a.index.observe("r0", key(old).prefix.hashes, NOW)
    holder = reps[0]
    r, note = a.pick(reps, NOW + 10, key(conversation("old document " * 40, 2)), rr)
    assert r is holder and note is not None and note.outcome is Outcome.PREFIX
    # The backend held nothing of it: with LRU caches, what was routed there before went too.
    a.report(note, CacheReport(cached_tokens=3, prompt_tokens=150))
    assert a.corrections == 1 and a.corrected_blocks > 0
    assert a.index.lookup(key(conversation("other " * 60, 1)).prefix.hashes, [r.id], NOW) == {}
    # ... but not what this very request left there.
    assert a.index.lookup(key(conversation("old document " * 40, 2)).prefix.hashes, [r.id],
                          NOW + 11)[r.id].depth > 0
    # A report that confirms the expectation changes nothing.
    _, note = a.pick(reps, NOW + 12, key(conversation("old document " * 40, 3)), rr)
    before = a.corrections
    a.report(note, CacheReport(cached_tokens=140, prompt_tokens=150))
    a.report(note, None)
    a.report(None, CacheReport(0, 10))
    assert a.corrections == before


def test_off_or_other_endpoints_means_the_balancer_alone() -> None:
    off = affinity(enabled=False)
    assert off.key("chat", {"messages": conversation(DOC, 1)}, None) is None
    on = affinity()
    assert on.key("embeddings", {"input": "x"}, None) is None
    # A route whose models each have one replica leaves nothing to choose: no hashing.
    assert on.key("chat", {"messages": conversation(DOC, 1)}, "s", choices=1) is None
    k = on.key("chat", {"messages": conversation(DOC, 1), "user": "u"}, None)
    assert k is not None and k.session == session_hash("u:u")
    assert affinity(sessions=False).key("chat", {"messages": [], "user": "u"}, "s") == Key(
        chat_prefix([], 1024), None
    )
    reps = replicas()
    r, note = on.pick(reps, NOW, None, RoundRobin())
    assert note is None and r in reps


def test_memory_stays_bounded() -> None:
    reps = replicas(2)
    a = affinity(max_blocks_per_replica=50, max_sessions=20)
    for i in range(2000):
        msgs = conversation(f"doc {i} " * 30, 3)
        a.pick(reps, NOW + i, key(msgs, f"s{i}"), RoundRobin())
    st = a.status()
    assert all(n <= 50 for n in a.index.sizes().values())
    blocks = st["blocks"]
    assert st["sessions"] == 20 and isinstance(blocks, int) and blocks <= 100


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"usage": {"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 90}}},
         CacheReport(90, 100)),
        ({"timings": {"cache_n": 278, "prompt_n": 17}}, CacheReport(278, 295)),
        # Anthropic's Message (llama-server's /v1/messages): input_tokens is what the cache
        # did not hold, cache writes are neither read nor left out of the prompt.
        ({"usage": {"cache_read_input_tokens": 278, "input_tokens": 17, "output_tokens": 4}},
         CacheReport(278, 295)),
        ({"usage": {"input_tokens": 3, "cache_creation_input_tokens": 100,
                    "cache_read_input_tokens": 0}}, CacheReport(0, 103)),
        ({"type": "message_start", "message": {"usage": {
            "cache_read_input_tokens": 40, "input_tokens": 10, "output_tokens": 0}}},
         CacheReport(40, 50)),
        ({"usage": {"input_tokens": 10, "output_tokens": 4}}, None),
        # The Responses API (vLLM's /v1/responses): input_tokens includes the cached ones.
        ({"usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 90}}},
         CacheReport(90, 100)),
        ({"type": "response.completed", "response": {"usage": {
            "input_tokens": 50, "input_tokens_details": {"cached_tokens": 40}}}},
         CacheReport(40, 50)),
        ({"type": "response.created", "response": {"status": "in_progress"}}, None),
        ({"usage": {"cache_read_input_tokens": 5}}, None),
        ({"usage": {"prompt_tokens": 10}}, None),
        ({"timings": {"cache_n": "x"}}, None),
        ({}, None),
    ],
)
def test_cache_reports(obj: dict[str, Any], expected: CacheReport | None) -> None:
    assert cache_report(obj) == expected


def test_stream_cache_report_reads_the_final_chunk() -> None:
    last = (
        b'data: {"choices":[{"finish_reason":"length","index":0,"delta":{}}],'
        b'"timings":{"cache_n":326,"prompt_n":17,"prompt_ms":249.6}}\n\n'
    )
    done = b"data: [DONE]\n\n"
    assert stream_cache_report(last, done) == CacheReport(326, 343)
    assert stream_cache_report(b"data: [DONE]\n\n", last + done) == CacheReport(326, 343)
    assert stream_cache_report(b'data: {"choices":[]}\n\n', done) is None


def test_the_stores_can_be_replaced_by_shared_ones() -> None:
    """What a store shared by several router processes must offer: the two small protocols.
    Two routers over one pair of stores agree on where a conversation is cached."""
    index = LocalIndex(100, ttl_s=600)
    sessions = SessionTable(10)
    one = Affinity(AffinitySettings(), index=index, sessions=sessions)
    other = Affinity(AffinitySettings(), index=index, sessions=sessions)
    reps = replicas()
    first, _ = one.pick(reps, NOW, key(conversation(DOC, 1), "s"), RoundRobin())
    r, note = other.pick(reps, NOW + 1, key(conversation(DOC, 2)), RoundRobin())
    assert r is first and note is not None and note.outcome is Outcome.PREFIX
    r, note = other.pick(reps, NOW + 2, key([{"role": "user", "content": "x"}], "s"), RoundRobin())
    assert r is first and note is not None and note.outcome is Outcome.SESSION


def test_a_reload_keeps_the_index_unless_affinity_settings_change() -> None:
    from zeta_router.router import Router
    from zeta_router.routing.engine import build_engine, rebuilt

    reps = [{"url": f"http://127.0.0.1:{9000 + i}/v1", "id": f"r{i}"} for i in range(2)]
    base = {"health": {"enabled": False}, "models": {"m": {"replicas": reps}}}
    router = Router(parse_config(base))
    old = router.engine
    old.affinity.index.observe("r0", (1, 2, 3), NOW)

    def reload(doc: dict[str, Any]) -> Any:
        return build_engine(
            parse_config(doc), clock=router.clock, transport=old.transport,
            admission=old.admission, rng=old.rng, prev=old,
        )

    same = reload({**base, "timeouts": {"total_s": 99}})
    assert same.affinity is old.affinity and same.affinity.index.sizes() == {"r0": 3}
    changed = reload({**base, "balancer": {"affinity": {"load_factor": 2}}})
    assert changed.affinity is not old.affinity and changed.affinity.settings.load_factor == 2
    assert "affinity" in rebuilt(old, changed) and "affinity" not in rebuilt(old, same)
