"""Property-based fuzzing of the HTTP surface through a real gateway (uvicorn on a socket, fake
backends): whatever the body, headers, method or path, the answer is never a 500, every non-2xx
carries an OpenAI-style error body, and nothing looks like a stack trace or a source path.

Deterministic (``derandomize=True``, no example database) and bounded (~200 examples per
endpoint), so CI cannot flake on it. Cases that once broke the router are kept as ``@example``s.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import re
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import (
    HealthCheck,
    Phase,
    currently_in_test_context,
    event,
    example,
    given,
    settings,
)
from hypothesis import strategies as st

from zeta_router.testing import Harness
from zeta_router.upstream import messages_api

# When a property fails, hypothesis's pytest plugin imports libcst to suggest a patch, and that
# import warns (warnings are errors here), hiding the failure behind an INTERNALERROR. Import it
# now, quietly, so a failure reads as one.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore", DeprecationWarning)
    importlib.import_module("hypothesis.extra._patching")

ADMIN_TOKEN = "fuzz-admin-token-0123456789"
ADMIN_ENV = "ZETA_FUZZ_ADMIN_TOKEN"

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    # No "explain" phase: it only adds a report, and its imports warn (warnings are errors).
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ROLES = ["system", "developer", "user", "assistant", "tool", "function", "robot", ""]
ENDPOINT_PATHS = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/rerank"]
ALL_PATHS = [
    *ENDPOINT_PATHS,
    "/v1/responses",
    "/v1/messages",
    "/v1/feedback",
    "/v1/router/reload",
    "/v1/router/status",
    "/v1/models",
    "/models",
    "/health",
    "/metrics",
    "/chat/completions",
    "/v1/images/generations",
    "/",
    "",
]
#: What a stack trace or a leaked source location looks like in a body.
TRACE = re.compile(r'Traceback|File "|site-packages|src/zeta_router|zeta_router/\w+\.py')


def template() -> dict[str, Any]:
    # Every chat model has a context window, so an oversized request fits nowhere.
    return {
        "health": {"enabled": False},
        "server": {"admin_token_env": ADMIN_ENV},
        "timeouts": {"connect_s": 1.0, "first_byte_s": 2.0, "idle_s": 2.0, "total_s": 10.0},
        "retry": {"backoff_base_s": 0.01, "backoff_max_s": 0.05},
        "analysis": {"analyzer": "heuristic"},
        "models": {
            "brain": {
                "endpoints": ["chat", "completions"],
                "context_window": 8192,
                "replicas": [{"url": "fake:b1"}],
            },
            "coder": {
                "endpoints": ["chat", "completions"],
                "context_window": 4096,
                "replicas": [{"url": "fake:c1"}],
            },
            "embed": {"endpoints": ["embeddings"], "replicas": [{"url": "fake:e1"}]},
            "ranker": {"endpoints": ["rerank"], "replicas": [{"url": "fake:r1"}]},
            # Serves /v1/responses and /v1/messages natively (the others translate).
            "native": {
                "health": "llamacpp",
                "context_window": 8192,
                "replicas": [{"url": "fake:n1"}],
            },
        },
        "routes": {"embeddings": ["embed"]},
    }


@pytest.fixture(scope="module")
def gw() -> Iterator[Harness]:
    mp = pytest.MonkeyPatch()
    mp.setenv(ADMIN_ENV, ADMIN_TOKEN)
    h = Harness(
        {"b1": "openai", "c1": "openai", "e1": "openai", "r1": "llamacpp", "n1": "llamacpp"},
        template(),
    )
    yield h
    h.close()
    mp.undo()


@pytest.fixture(scope="module")
def http(gw: Harness) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gw.url, timeout=20) as c:
        yield c


# -- strategies ---------------------------------------------------------------------------------

SURROGATES = st.sampled_from(["\ud800", "\udfff", "a\udc00b", "\ud83d"])
TEXT = st.one_of(
    st.text(max_size=24),
    st.text(st.characters(exclude_categories=()), max_size=12),
    SURROGATES,
    st.sampled_from(["", " ", "\u0000", "\ufeff", "\\u0000", "hi", "Fix this: print(1/0)"]),
)
NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
)
LEAF = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSONISH = st.recursive(
    LEAF,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(TEXT, kids, max_size=4),
    max_leaves=16,
)


def field(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A known field: mostly a plausible value (to get deep into validation), sometimes anything."""
    return st.one_of(good, JSONISH)


PART = st.fixed_dictionaries(
    {},
    optional={
        "type": field(st.sampled_from(["text", "image_url", "input_audio", "TEXT"])),
        "text": field(TEXT),
        "image_url": field(st.fixed_dictionaries({"url": TEXT})),
    },
)
MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "role": field(st.sampled_from(ROLES)),
        "content": field(st.one_of(TEXT, st.lists(field(PART), max_size=3))),
        "name": JSONISH,
        "tool_calls": field(st.lists(st.fixed_dictionaries({"id": TEXT}), max_size=2)),
        "function_call": JSONISH,
    },
)
MAX_TOKENS = field(st.one_of(st.integers(min_value=-3, max_value=10**7), st.just(10**12)))
TOKEN_IDS = st.lists(st.integers(min_value=-(2**40), max_value=2**40), max_size=4)
BODY_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "model": field(st.sampled_from(["auto", "brain", "coder", "embed", "nope", "", "AUTO"])),
    "messages": field(st.lists(field(MESSAGE), max_size=3)),
    "prompt": field(st.one_of(TEXT, st.lists(TEXT, max_size=3), TOKEN_IDS)),
    "input": field(st.one_of(TEXT, st.lists(st.one_of(TEXT, TOKEN_IDS), max_size=3), TOKEN_IDS)),
    "stream": field(st.booleans()),
    "max_tokens": MAX_TOKENS,
    "max_completion_tokens": MAX_TOKENS,
    "temperature": field(st.floats(min_value=0, max_value=2)),
    "n": field(st.integers(min_value=-1, max_value=4)),
    "tools": field(st.lists(st.fixed_dictionaries({"type": st.just("function")}), max_size=2)),
    "stream_options": JSONISH,
    "request_id": field(TEXT),
    "rating": field(st.integers(min_value=-1, max_value=7)),
    "comment": field(TEXT),
    "query": field(TEXT),
    "documents": field(st.lists(field(st.one_of(TEXT, st.fixed_dictionaries({"text": TEXT}))))),
    "top_n": MAX_TOKENS,
}
OBJECT = st.fixed_dictionaries({}, optional=BODY_FIELDS).flatmap(
    lambda known: st.dictionaries(TEXT, JSONISH, max_size=2).map(lambda extra: {**extra, **known})
)


def _dumps(obj: Any, ascii_only: bool) -> bytes:
    text = json.dumps(obj, ensure_ascii=ascii_only, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    """A body as bytes: JSON written in odd ways, or not JSON at all."""
    obj = draw(st.one_of(OBJECT, OBJECT, OBJECT, JSONISH))
    how = draw(
        st.sampled_from(
            ["ascii", "utf8", "bom", "trailing", "duplicate", "deep", "truncated", "binary"]
        )
    )
    if how == "binary":
        return draw(st.binary(max_size=64))
    raw = _dumps(obj, ascii_only=how == "ascii")
    if how == "bom":
        return b"\xef\xbb\xbf" + raw
    if how == "trailing":
        return raw + draw(st.sampled_from([b" x", b"}", b"\x00", b"\xff", b"{}", b"\n\n"]))
    if how == "truncated":
        return raw[: draw(st.integers(min_value=0, max_value=max(0, len(raw) - 1)))]
    if how == "duplicate" and isinstance(obj, dict) and obj:
        key = draw(st.sampled_from(sorted(obj)))
        dup = _dumps({key: draw(JSONISH)}, ascii_only=True)[1:-1]
        return b"{" + dup + b"," + raw[1:]
    if how == "deep":
        depth = draw(st.sampled_from([2, 100, 1000, 1100, 20000]))
        nest = b"[" * depth + b"1" + b"]" * depth
        if isinstance(obj, dict):
            return b'{"x":' + nest + b"," + raw[1:] if obj else b'{"x":' + nest + b"}"
        return nest
    return raw


#: Valid for every inference endpoint at once (each reads only its own field).
VALID = {
    "messages": [{"role": "user", "content": "hi"}],
    "prompt": "hi",
    "input": "hi",
    "query": "hi",
    "documents": ["hi there", "bye"],
}


@st.composite
def near_valid_bodies(draw: st.DrawFn) -> bytes:
    """A valid body with up to two known fields replaced: gets past the first check."""
    body: dict[str, Any] = dict(VALID)
    for key in draw(st.lists(st.sampled_from(sorted(BODY_FIELDS)), max_size=2, unique=True)):
        body[key] = draw(BODY_FIELDS[key])
    return _dumps(body, ascii_only=draw(st.booleans()))


HEADER_JUNK = st.one_of(
    st.sampled_from(["", "0", "-1", "1e3", "0x10", "nan", "9" * 5000, "\u0663", "low,high"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")),
).map(str.strip)
ZETA_HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "x-zeta-task": st.one_of(
            st.sampled_from(["code", "reasoning", "simple", "retrieval", "embeddings", "CODE"]),
            HEADER_JUNK,
        ),
        "x-zeta-priority": st.one_of(
            st.sampled_from(["low", "normal", "high", "urgent", "URGENT"]), HEADER_JUNK
        ),
        "x-zeta-timeout-ms": st.one_of(
            st.sampled_from(["1", "50", "5000", "+300", "1_000", "9" * 400, "9" * 4300]),
            HEADER_JUNK,
        ),
        "x-zeta-unknown": HEADER_JUNK,
    },
)


def _encode_header(value: str) -> bytes:
    return value.encode("latin-1", "replace") if value.isascii() else value.encode("utf-8")


# -- the oracle ---------------------------------------------------------------------------------


def check(r: httpx.Response, *, method: str = "POST", deadline_header: bool = False) -> None:
    """The non-negotiables for any answer."""
    body = r.content
    if currently_in_test_context():
        event(f"HTTP {r.status_code}")  # --hypothesis-show-statistics: how deep the fuzz got
    assert r.status_code != 500, body[:500]
    if r.status_code >= 500:
        # 5xx is for valid requests the fleet could not serve; this fleet is healthy, so only a
        # client-chosen deadline may produce one.
        assert r.status_code == 504 and deadline_header, (r.status_code, body[:500])
    assert not TRACE.search(body.decode("utf-8", "replace")), body[:500]
    if method == "HEAD":
        return
    if r.status_code >= 300:
        assert r.headers.get("content-type", "").startswith("application/json"), r.headers
        obj = orjson.loads(body)
        if obj.get("type") == "error":
            check_anthropic_error(r, obj)
            return
        err = obj["error"]
        assert {"message", "type", "param", "code"} <= set(err), err
        assert isinstance(err["message"], str) and err["message"], err
        assert isinstance(err["type"], str) and err["type"], err
        assert err["param"] is None or isinstance(err["param"], str), err
        assert err["code"] is None or isinstance(err["code"], str), err
        if r.status_code in (429, 503):
            assert "retry-after" in r.headers
        return
    if r.headers.get("content-type", "").startswith("text/event-stream"):
        events = [e for e in body.split(b"\n\n") if e.strip()]
        assert events, "an empty stream"
        last = events[-1]
        assert (
            last == b"data: [DONE]"
            or last.startswith(b'data: {"error"')
            or last.startswith(tuple(b"event: " + name.encode() for name in API_ENDS))
        ), last
    elif r.headers.get("content-type", "").startswith("application/json"):
        assert isinstance(orjson.loads(body), dict)


#: The events that end a /v1/responses or /v1/messages stream.
API_ENDS = ("response.completed", "response.incomplete", "message_stop", "error")


def check_anthropic_error(r: httpx.Response, obj: dict[str, Any]) -> None:
    """Anthropic's error shape, used by /v1/messages only."""
    assert str(r.request.url.path).lower().rstrip("/").endswith("/messages"), r.request.url
    assert set(obj) == {"type", "error"}, obj
    err = obj["error"]
    assert err["type"] in set(messages_api.ERROR_TYPES.values()), err
    assert isinstance(err["message"], str) and err["message"], err
    if r.status_code in (429, 503):
        assert "retry-after" in r.headers


def _headers(zeta: dict[str, str]) -> dict[bytes, bytes]:
    return {k.encode(): _encode_header(v) for k, v in zeta.items()}


# -- the properties ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINT_PATHS)
@FUZZ
@given(body=st.one_of(near_valid_bodies(), raw_bodies()), zeta=ZETA_HEADERS)
@example(  # int(b"9" * 400) parses, but ms / 1000.0 overflowed a float: was a 500
    body=b'{"messages":[{"role":"user","content":"hi"}],"prompt":"hi","input":"hi"}',
    zeta={"x-zeta-timeout-ms": "9" * 400},
)
@example(  # a task whose route cannot serve the endpoint: was a 503 without Retry-After
    body=b'{"messages":[{"role":"user","content":"hi"}],"prompt":"hi","input":"hi"}',
    zeta={"x-zeta-task": "embeddings"},
)
@example(  # fits no context window: was a 503 without Retry-After for a client mistake
    body=b'{"messages":[{"role":"user","content":"hi"}],"prompt":"hi","max_tokens":1000000}',
    zeta={},
)
def test_inference_endpoints_never_500(
    http: httpx.Client, path: str, body: bytes, zeta: dict[str, str]
) -> None:
    r = http.post(path, content=body, headers=_headers(zeta))
    check(r, deadline_header="x-zeta-timeout-ms" in zeta)


@FUZZ
@given(body=raw_bodies(), auth=st.sampled_from([None, ADMIN_TOKEN, "wrong", "x" * 300]))
@example(body=b"[" * 5000 + b"]" * 5000, auth=ADMIN_TOKEN)  # PyYAML's RecursionError: was a 500
@example(body=b"models: {brain: {replicas: [{url: 'http://h:1/v1'}]}}: x", auth=ADMIN_TOKEN)
def test_reload_never_500(http: httpx.Client, body: bytes, auth: str | None) -> None:
    headers = {} if auth is None else {"authorization": f"Bearer {auth}"}
    r = http.post("/v1/router/reload", content=body, headers=headers)
    check(r)
    assert r.status_code != 200, "no fuzzed body is a valid config"


RESP_PART = st.fixed_dictionaries(
    {},
    optional={
        "type": field(
            st.sampled_from(["input_text", "output_text", "input_image", "refusal", "input_file"])
        ),
        "text": field(TEXT),
        "image_url": field(TEXT),
        "refusal": field(TEXT),
    },
)
RESP_ITEM = st.fixed_dictionaries(
    {},
    optional={
        "type": field(
            st.sampled_from(
                [
                    "message",
                    "function_call",
                    "function_call_output",
                    "reasoning",
                    "item_reference",
                    "web_search_call",
                ]
            )
        ),
        "role": field(st.sampled_from(["user", "assistant", "system", "developer", "tool"])),
        "content": field(st.one_of(TEXT, st.lists(field(RESP_PART), max_size=3))),
        "call_id": field(TEXT),
        "name": field(TEXT),
        "arguments": field(TEXT),
        "output": field(st.one_of(TEXT, st.lists(field(RESP_PART), max_size=2))),
    },
)
FUNCTION_TOOL = st.fixed_dictionaries(
    {"type": field(st.sampled_from(["function", "web_search", "file_search"]))},
    optional={"name": field(TEXT), "parameters": JSONISH, "strict": JSONISH},
)
RESPONSES_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "model": field(st.sampled_from(["auto", "brain", "native", "embed", "nope"])),
    "input": field(st.one_of(TEXT, st.lists(field(RESP_ITEM), max_size=4))),
    "instructions": field(TEXT),
    "tools": field(st.lists(field(FUNCTION_TOOL), max_size=2)),
    "tool_choice": field(st.sampled_from(["auto", "none", "required", "maybe"])),
    "max_output_tokens": MAX_TOKENS,
    "stream": field(st.booleans()),
    "previous_response_id": field(st.one_of(st.none(), TEXT)),
    "store": field(st.booleans()),
    "text": JSONISH,
    "reasoning": JSONISH,
}
BLOCK = st.fixed_dictionaries(
    {},
    optional={
        "type": field(
            st.sampled_from(["text", "image", "tool_use", "tool_result", "thinking", "document"])
        ),
        "text": field(TEXT),
        "source": field(st.fixed_dictionaries({"type": field(st.sampled_from(["base64", "url"]))})),
        "id": field(TEXT),
        "name": field(TEXT),
        "input": JSONISH,
        "tool_use_id": field(TEXT),
        "content": field(st.one_of(TEXT, st.lists(JSONISH, max_size=2))),
        "is_error": JSONISH,
    },
)
ANTHROPIC_MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "role": field(st.sampled_from(["user", "assistant", "system"])),
        "content": field(st.one_of(TEXT, st.lists(field(BLOCK), max_size=3))),
    },
)
MESSAGES_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "model": field(st.sampled_from(["auto", "brain", "native", "embed", "nope"])),
    "max_tokens": MAX_TOKENS,
    "messages": field(st.lists(field(ANTHROPIC_MESSAGE), max_size=3)),
    "system": field(st.one_of(TEXT, st.lists(JSONISH, max_size=2))),
    "tools": field(st.lists(JSONISH, max_size=2)),
    "tool_choice": JSONISH,
    "stop_sequences": JSONISH,
    "stream": field(st.booleans()),
}
VALID_API = {
    "/v1/responses": {"input": "hi"},
    "/v1/messages": {"max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]},
}
API_FIELDS = {"/v1/responses": RESPONSES_FIELDS, "/v1/messages": MESSAGES_FIELDS}


@st.composite
def api_bodies(draw: st.DrawFn, path: str) -> bytes:
    """A valid body of that API with up to three known fields replaced."""
    body: dict[str, Any] = dict(VALID_API[path])
    fields = API_FIELDS[path]
    for key in draw(st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True)):
        body[key] = draw(fields[key])
    return _dumps(body, ascii_only=draw(st.booleans()))


def check_api(r: httpx.Response, path: str) -> None:
    """Bad input to /v1/responses gets OpenAI's error shape and to /v1/messages Anthropic's."""
    check(r)
    if r.status_code >= 400:
        obj = orjson.loads(r.content)
        assert (obj.get("type") == "error") == (path == "/v1/messages"), obj


@FUZZ
@given(body=st.one_of(api_bodies("/v1/responses"), raw_bodies()))
@example(body=b'{"input": "hi", "previous_response_id": "resp_1"}')
@example(body=b'{"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}')
def test_responses_never_500(http: httpx.Client, body: bytes) -> None:
    check_api(http.post("/v1/responses", content=body), "/v1/responses")


@FUZZ
@given(body=st.one_of(api_bodies("/v1/messages"), raw_bodies()))
@example(body=b'{"messages": [{"role": "user", "content": "hi"}]}')
@example(
    body=b'{"max_tokens": 5, "model": "embed", "messages": [{"role": "user", "content": "x"}]}'
)
def test_messages_never_500(http: httpx.Client, body: bytes) -> None:
    check_api(http.post("/v1/messages", content=body), "/v1/messages")


@FUZZ
@given(body=raw_bodies())
def test_feedback_never_500(http: httpx.Client, body: bytes) -> None:
    check(http.post("/v1/feedback", content=body))


PATH_TWEAKS = st.sampled_from(
    ["", "/", "//", "?x=1", "?decisions=-5", "?decisions=99999999999999999999", "?%ff", "#frag"]
)


@st.composite
def odd_paths(draw: st.DrawFn) -> str:
    path = draw(st.sampled_from(ALL_PATHS))
    how = draw(st.sampled_from(["plain", "double", "percent", "upper", "prefix", "junk"]))
    if how == "double":
        path = path.replace("/", "//", 1)
    elif how == "percent" and path:
        i = draw(st.integers(min_value=0, max_value=len(path) - 1))
        path = path[:i] + "".join(f"%{b:02X}" for b in path[i].encode()) + path[i + 1 :]
    elif how == "upper":
        path = path.upper()
    elif how == "prefix":
        path = "/v1" + path
    elif how == "junk":
        path += "/" + draw(st.sampled_from(["%00", "%ff%fe", "..", ".", "%2e%2e", "x;y", "é"]))
    return (path or "/") + draw(PATH_TWEAKS)


# Methods the HTTP parser (httptools) accepts; an unknown token such as "FOO" never reaches
# the app and is covered by tests/test_http_errors.py.
METHODS = st.sampled_from(
    ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "PROPFIND"]
)


@FUZZ
@given(method=METHODS, path=odd_paths(), body=st.one_of(st.just(b""), raw_bodies()))
@example(method="GET", path="/v1/router/status?decisions=99999999999999999999", body=b"")
def test_any_method_and_path(http: httpx.Client, method: str, path: str, body: bytes) -> None:
    r = http.request(method, path, content=body or None)
    check(r, method=method)


@FUZZ
@given(method=METHODS, path=st.sampled_from(["/v1/models", "/health", "/models"]), q=PATH_TWEAKS)
def test_read_endpoints(http: httpx.Client, method: str, path: str, q: str) -> None:
    r = http.request(method, path + q)
    check(r, method=method)
    if method == "GET" and not q.startswith("/"):
        assert r.status_code == 200


def test_request_that_fits_no_context_window_is_a_400_naming_the_parameter(
    http: httpx.Client,
) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1_000_000}
    r = http.post("/v1/chat/completions", json=body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert (err["param"], err["code"]) == ("max_tokens", "context_length_exceeded")
    assert "brain: context window 8192" in err["message"]
    r = http.post("/v1/completions", json={"prompt": "word " * 40_000})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == "prompt"


@pytest.mark.parametrize("port", ["99999", "abc"])
def test_replica_url_with_a_bad_port_is_a_config_error(
    gw: Harness, http: httpx.Client, port: str
) -> None:
    """Such a URL once passed validation, and then /v1/router/status (which strips the
    credentials from it) answered 500."""
    config = gw._resolve(template())
    config["models"]["coder"]["replicas"][0]["url"] = f"http://u:p@127.0.0.1:{port}/v1"
    admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    r = http.post("/v1/router/reload", json=config, headers=admin)
    assert r.status_code == 422, r.text
    assert "models.coder.replicas[0].url" in r.json()["error"]["message"]
    check(http.get("/v1/router/status"), method="GET")
