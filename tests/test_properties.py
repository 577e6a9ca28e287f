"""Property-based tests of the pure stages a hostile client or upstream feeds: request parsing
(every API), the size bounds, task analysis, and the SSE relay (event splitting, [DONE]
detection, the agent APIs' stream translators). Random bytes, deeply nested JSON, huge
strings, invalid UTF-8 and odd Unicode: each either parses or is a 4xx RouterError; nothing
else ever escapes, and nothing hangs.

Deterministic (``derandomize``, no database) and bounded: the whole module runs in seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import warnings
from collections.abc import AsyncIterator
from typing import Any

import orjson
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from zeta_router.analysis import build_analyzer
from zeta_router.analysis.profile import Prompt, prompt_from_messages
from zeta_router.config import ENDPOINTS, AnalysisSettings, ServerSettings
from zeta_router.errors import RouterError
from zeta_router.http import apis
from zeta_router.http.bounds import check_sizes
from zeta_router.http.protocol import parse_request, upstream_model_in
from zeta_router.upstream import attempt, messages_api, responses_stream
from zeta_router.upstream.sse import data_of, has_event, split_events

# As in test_fuzz_http: a failing property makes hypothesis's plugin import its patch writer,
# whose import warns (warnings are errors) and would hide the failure behind an INTERNALERROR.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    importlib.import_module("hypothesis.extra._patching")

PROPS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Text with what breaks naive code: surrogates are not str-encodable, so they come as
#: invalid UTF-8 bytes below; here NULs, RTL marks, combining marks, emoji, BOMs, huge runs.
odd_text = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from("\x00\u202e\u200b\ufeff\u0301e\U0001f600\\\"{}[]:,\n\r")),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "\U0001f600", "\x00", " "]),
              st.integers(0, 100_000)),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), odd_text
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(odd_text, inner, max_size=4)
    ),
    max_leaves=30,
)


def deep(depth: int) -> bytes:
    """A chat body whose content nests ``depth`` levels (past orjson's limit, too)."""
    inner = b'{"type":"text","text":' * depth + b'"x"' + b"}" * depth
    return b'{"messages":[{"role":"user","content":[' + inner + b"]}]}"


message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "tool", "x"]), "content": json_values}
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {"messages": st.lists(message, max_size=5)},
        optional={
            "model": json_values,
            "stream": json_values,
            "max_tokens": json_values,
            "prompt": json_values,
            "input": json_values,
            "query": json_values,
            "documents": json_values,
            "system": json_values,
            "tools": json_values,
            "instructions": json_values,
            "previous_response_id": json_values,
        },
    ),
    st.dictionaries(odd_text, json_values, max_size=6),
    json_values,
)


def encode(body: Any) -> bytes:
    # The stdlib's encoder: it writes integers of any size, which orjson then refuses to read.
    return json.dumps(body, ensure_ascii=False).encode()


raw_bodies = st.one_of(
    st.binary(max_size=2048),
    bodies.map(encode),
    st.integers(1, 3000).map(deep),
    st.integers(1, 3000).map(lambda d: b"[" * d + b"]" * d),
    # Invalid UTF-8 inside a JSON string, and a lone surrogate escape.
    st.binary(min_size=1, max_size=64).map(
        lambda b: b'{"messages":[{"role":"user","content":"' + b + b'"}]}'
    ),
    st.just(b'{"messages":[{"role":"user","content":"\\ud800"}]}'),
)
SERVER = ServerSettings(max_messages=8, max_part_chars=1000)


def _parse_all(raw: bytes) -> None:
    for endpoint in ENDPOINTS:
        try:
            req = parse_request(endpoint, raw)
        except RouterError as err:
            assert 400 <= err.status < 500, err
            continue
        assert req.endpoint == endpoint
        try:
            check_sizes(req, SERVER)
        except RouterError as err:
            assert err.status == 413
    for kind in ("responses", "messages"):
        try:
            req = apis.parse(kind, raw, None)  # type: ignore[arg-type]
        except RouterError as err:
            assert 400 <= err.status < 500, err
            continue
        assert req.api is not None and req.api.kind == kind


@PROPS
@given(raw_bodies)
@example(b"\xff\xfe")
@example(b'{"messages":[{"role":"user","content":[{"type":"text","text":1}]}]}')
@example(b'{"input":[[]],"model":"auto"}')
def test_request_parsing_never_fails_but_with_a_4xx(raw: bytes) -> None:
    _parse_all(raw)


ANALYZER = build_analyzer(AnalysisSettings(analyzer="heuristic"))


@PROPS
@given(st.lists(message, min_size=1, max_size=5), odd_text)
def test_task_analysis_takes_any_prompt(messages: list[dict[str, Any]], text: str) -> None:
    for prompt in (prompt_from_messages(messages), Prompt.from_text(text, system=text[:100])):
        profile = ANALYZER.analyze(prompt)
        assert 0.0 <= profile.confidence <= 1.0
        assert 0.0 <= profile.complexity <= 1.0
        assert profile.prompt_tokens >= 0


sse_bytes = st.one_of(
    st.binary(max_size=4096),
    st.lists(
        st.one_of(
            st.binary(max_size=200),
            json_values.map(lambda v: b"data: " + encode(v) + b"\n\n"),
            st.sampled_from(
                [b"data: [DONE]\n\n", b"data:[DONE]\r\n\r\n", b"event: error\ndata: {}\n\n",
                 b": comment\n\n", b"data: {\"error\": 1}\n\n", b"\n\n\n", b"\r\n"]
            ),
        ),
        max_size=20,
    ).map(b"".join),
)


@PROPS
@given(sse_bytes)
def test_sse_framing_takes_any_bytes(block: bytes) -> None:
    split_events(block)
    data_of(block)
    has_event(block, (b"error",), frozenset({"error"}))
    upstream_model_in(block)
    attempt._has_done(block)
    end = attempt.split_events(block)
    assert 0 <= end <= len(block)
    responses_stream.is_terminal(block)
    messages_api.is_terminal(block)


async def _blocks(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


async def _drain(it: AsyncIterator[bytes]) -> bytes:
    return b"".join([b async for b in it])


@PROPS
@given(st.lists(sse_bytes, max_size=8), st.sampled_from(["responses", "messages"]))
def test_stream_translators_take_any_upstream_stream(chunks: list[bytes], kind: str) -> None:
    tr: responses_stream.StreamTranslator | messages_api.StreamTranslator
    if kind == "responses":
        tr = responses_stream.StreamTranslator("resp_1", 0, "m", {})
    else:
        tr = messages_api.StreamTranslator("msg_1", "m")
    api = apis.ApiRequest(kind, b"{}", {})  # type: ignore[arg-type]
    out = asyncio.run(_drain(apis._translated(_blocks(chunks), tr, api, None)))
    # What comes out is SSE the client can parse: whole events, each with JSON data.
    for _name, payload in split_events(out):
        orjson.loads(payload)
