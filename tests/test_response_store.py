"""The bounded store behind previous_response_id: LRU by entries and bytes, expiry, refusals."""

from __future__ import annotations

import orjson
import pytest

from zeta_router.config import ResponsesSettings
from zeta_router.errors import InvalidRequest
from zeta_router.http import apis
from zeta_router.testing.clock import ManualClock
from zeta_router.upstream.response_store import ResponseStore


def item(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def store(clock: ManualClock, **settings: int | float) -> ResponseStore:
    return ResponseStore(ResponsesSettings(**settings), clock)  # type: ignore[arg-type]


def test_least_recently_used_goes_first_when_full() -> None:
    s = store(ManualClock(0.0), store_size=2)
    s.put("a", [item("a")], 10)
    s.put("b", [item("b")], 10)
    assert s.get("a") is not None  # a is now the most recently used
    s.put("c", [item("c")], 10)
    assert s.get("b") is None and s.get("a") is not None and s.get("c") is not None
    assert len(s) == 2 and s.bytes == 20


def test_bounded_by_bytes_and_too_large_entries_refused() -> None:
    s = store(ManualClock(0.0), store_size=100, store_max_bytes=100)
    assert s.put("a", [item("a")], 60)
    assert s.put("b", [item("b")], 60)
    assert s.get("a") is None and s.bytes == 60
    assert not s.put("huge", [item("x")], 101)
    assert s.get("huge") is None and s.get("b") is not None


def test_entries_expire() -> None:
    clock = ManualClock(0.0)
    s = store(clock, store_ttl_s=10)
    s.put("a", [item("a")], 1)
    clock.now = 9.9
    assert s.get("a") is not None
    clock.now = 10.0
    assert s.get("a") is None and s.bytes == 0
    s.put("b", [item("b")], 1)
    clock.now = 25
    s.put("c", [item("c")], 1)
    assert len(s) == 1, "expired entries at the old end are dropped on the next write"


def test_parse_expands_a_stored_conversation_for_both_paths() -> None:
    s = store(ManualClock(0.0))
    history = [
        {"type": "message", "role": "user", "content": "q"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    ]
    s.put("resp_1", history, 100)
    raw = orjson.dumps(
        {
            "previous_response_id": "resp_1",
            "input": [{"type": "function_call_output", "call_id": "c1", "output": "7"}],
        }
    )
    req = apis.parse("responses", raw, s)
    assert [m["role"] for m in req.body["messages"]] == ["user", "assistant", "tool"]
    assert req.api is not None
    native = orjson.loads(req.api.raw)
    assert "previous_response_id" not in native
    assert [i.get("type") for i in native["input"]] == [
        "message",
        "function_call",
        "function_call_output",
    ]
    assert req.api.store and len(req.api.items) == 3 and req.api.size > 100


@pytest.mark.parametrize(
    ("size", "prev", "code"),
    [
        (0, "resp_1", "unsupported_parameter"),
        (10, "resp_missing", "previous_response_not_found"),
        (10, "", None),
        (10, 5, None),
    ],
)
def test_parse_refuses_what_it_cannot_resolve(size: int, prev: object, code: str | None) -> None:
    s = store(ManualClock(0.0), store_size=size)
    raw = orjson.dumps({"previous_response_id": prev, "input": "hi"})
    with pytest.raises(InvalidRequest) as exc:
        apis.parse("responses", raw, s)
    assert exc.value.param == "previous_response_id"
    if code is not None:
        assert exc.value.code == code
