"""The agent APIs (``/v1/responses``, ``/v1/messages``) on the router's one request path.

A request to either is parsed into a :class:`~zeta_router.http.protocol.ParsedRequest` whose body
is its chat-completions translation, so analysis, planning, admission, balancing, retries,
fallbacks, breakers, headers, metrics and log lines are the chat path's own. What differs is
per attempt: :func:`outgoing` sends the client's own body to a replica whose model relays that
API natively (``Model.native``) and the chat translation to any other, and :func:`reply` /
:func:`stream` turn what came back into the API the client speaks. Each attempt decides for
itself, so a fallback from a native model to a translated one (or back) needs nothing special.

The translation itself is in :mod:`responses_api` and :mod:`messages_api` (pure functions).
``previous_response_id`` is resolved here against the router's :class:`ResponseStore`, before
routing, so native and translated replicas alike get the whole conversation.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from zeta_router.analysis.profile import prompt_from_messages
from zeta_router.config import Api, Model
from zeta_router.errors import InvalidRequest, RouterError
from zeta_router.fleet.outcome import UPSTREAM_EVENT
from zeta_router.http.protocol import (
    UPSTREAM_PATHS,
    ApiRequest,
    ParsedRequest,
    load_object,
    model_and_stream,
    set_model,
)
from zeta_router.http.response import JSON_TYPE, Headers, Response
from zeta_router.routing.decision import Decision
from zeta_router.upstream import messages_api, responses_api, responses_stream
from zeta_router.upstream.params import for_backend
from zeta_router.upstream.response_store import ResponseStore, Stored
from zeta_router.upstream.sse import data_of, split_events

_SSE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
)
NATIVE_PATHS: Mapping[Api, str] = {"responses": "/responses", "messages": "/messages"}
_TERMINAL: Mapping[Api, Callable[[bytes], bool]] = {
    "responses": responses_stream.is_terminal,
    "messages": messages_api.is_terminal,
}
#: Chat parameter names in router errors, as each API calls them.
_PARAMS: Mapping[Api, Mapping[str, str]] = {
    "responses": {"messages": "input", "max_tokens": "max_output_tokens"},
    "messages": {},
}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """What one attempt sends: where, which body, and how its stream ends."""

    path: str
    body: bytes
    native: bool
    #: Whether a block holds the stream's last event; None: chat's ``[DONE]``.
    ends: Callable[[bytes], bool] | None = None


def _history(body: dict[str, Any], store: ResponseStore | None) -> Stored | None:
    """The stored conversation ``previous_response_id`` names, or a 400 saying why not."""
    prev = body.get("previous_response_id")
    if prev is None:
        return None
    if not isinstance(prev, str) or not prev:
        raise InvalidRequest(
            "'previous_response_id' must be a response id", param="previous_response_id"
        )
    if store is None or not store.enabled:
        raise InvalidRequest(
            "'previous_response_id' is not supported: this router stores no responses "
            "(responses.store_size is 0); send the whole conversation in 'input'",
            param="previous_response_id",
            code="unsupported_parameter",
        )
    entry = store.get(prev)
    if entry is None:
        raise InvalidRequest(
            f"Previous response with id '{prev}' not found: unknown, not stored, or expired "
            "or evicted from this router's bounded store; send the whole conversation in "
            "'input'",
            param="previous_response_id",
            code="previous_response_not_found",
        )
    return entry


def parse(kind: Api, raw: bytes, store: ResponseStore | None = None) -> ParsedRequest:
    """Validate a Responses or Messages body into the routed (chat) form; raises
    :class:`InvalidRequest` naming the API's own parameter."""
    body = load_object(raw)
    model, stream = model_and_stream(body)
    api: ApiRequest
    if kind == "responses":
        stored = _history(body, store)
        history = stored.items if stored is not None else ()
        chat, echo = responses_api.to_chat(body, history)
        keep = store is not None and store.enabled and body.get("store") is not False
        echo["store"] = keep
        items = (*history, *responses_api.input_items(body["input"]))
        size = len(raw) + (stored.size if stored is not None else 0)
        if history:
            # The native path gets the conversation spelled out too (llama-server, for one,
            # refuses previous_response_id).
            native = {k: v for k, v in body.items() if k != "previous_response_id"}
            native["input"] = list(items)
            raw, body = orjson.dumps(native), native
        api = ApiRequest(kind, raw, body, echo, items, size, keep)
    else:
        chat = messages_api.to_chat(body)
        api = ApiRequest(kind, raw, body)
    prompt = prompt_from_messages(chat["messages"])
    if not prompt.chars and not any(
        m.get("tool_calls") or isinstance(m.get("content"), list) for m in chat["messages"]
    ):
        raise InvalidRequest(
            "the request holds no text", param="input" if kind == "responses" else "messages"
        )
    return ParsedRequest(
        "chat",
        orjson.dumps(chat),
        chat,
        model,
        stream,
        chat.get("max_tokens"),
        prompt,
        prompt.chars,
        api,
    )


def outgoing(req: ParsedRequest, model: Model, upstream_model: str) -> Outgoing:
    """The path and body of one attempt on a replica of ``model``."""
    api = req.api
    if api is not None and model.native(api.kind):
        native = set_model(api.raw, api.body, upstream_model)
        return Outgoing(NATIVE_PATHS[api.kind], native, True, _TERMINAL[api.kind])
    raw, body = for_backend(req, model.health)
    return Outgoing(UPSTREAM_PATHS[req.endpoint], set_model(raw, body, upstream_model), False)


def _ids(kind: Api, d: Decision) -> str:
    return ("resp_" if kind == "responses" else "msg_") + d.request_id.replace("-", "")


def _remember(api: ApiRequest, store: ResponseStore | None, response: Any) -> None:
    """Store a finished Response's conversation under its id (when the request wants it)."""
    if not api.store or store is None or not isinstance(response, dict):
        return
    rid, output = response.get("id"), response.get("output")
    if not isinstance(rid, str) or not isinstance(output, list):
        return
    size = api.size + len(orjson.dumps(output))
    store.put(rid, [*api.items, *(o for o in output if isinstance(o, dict))], size)


def reply(
    req: ParsedRequest,
    out: Outgoing,
    resp: Response,
    d: Decision,
    store: ResponseStore | None = None,
) -> Response:
    """A complete upstream answer (already checked and renamed) in the client's API; as its
    event sequence when the client asked for a stream."""
    api = req.api
    assert api is not None
    obj = orjson.loads(resp.body)
    served = d.model or ""
    result: dict[str, Any]
    if out.native:
        result = obj
        if api.kind == "responses":
            result["store"] = api.store
            result["previous_response_id"] = api.echo.get("previous_response_id")
    elif api.kind == "responses":
        result = responses_api.from_chat(obj, _ids(api.kind, d), int(time.time()), served, api.echo)
    else:
        result = messages_api.from_chat(obj, _ids(api.kind, d), served)
    if api.kind == "responses":
        _remember(api, store, result)
    if api.kind == "messages":
        usage = result.get("usage")
        if isinstance(usage, dict):
            tokens = [v for k, v in usage.items() if k.endswith("tokens") and isinstance(v, int)]
            d.tokens = sum(tokens)
    if not req.stream:
        return Response(200, [(b"content-type", JSON_TYPE)], orjson.dumps(result))
    events = (
        responses_stream.events_for(result)
        if api.kind == "responses"
        else messages_api.events_for(result)
    )
    return Response(200, list(_SSE_HEADERS), events)


def stream(
    req: ParsedRequest,
    out: Outgoing,
    resp: Response,
    d: Decision,
    store: ResponseStore | None = None,
) -> None:
    """Make ``resp``'s relayed upstream stream speak the client's API."""
    api = req.api
    assert api is not None and resp.stream is not None
    served = d.model or ""
    if out.native:
        resp.stream = _native(resp.stream, api, served, d, store)
        return
    translator: responses_stream.StreamTranslator | messages_api.StreamTranslator
    if api.kind == "responses":
        translator = responses_stream.StreamTranslator(
            _ids(api.kind, d), int(time.time()), served, api.echo
        )
    else:
        translator = messages_api.StreamTranslator(_ids(api.kind, d), served)
    resp.stream = _translated(resp.stream, translator, api, store)


def _error_message(payload: bytes) -> tuple[str, str]:
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        obj = None
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, dict):
        code = err.get("code")
        return str(err.get("message") or "upstream error"), str(code or "upstream_error")
    return str(err or "upstream error"), "upstream_error"


async def _translated(
    inner: AsyncIterator[bytes],
    tr: responses_stream.StreamTranslator | messages_api.StreamTranslator,
    api: ApiRequest,
    store: ResponseStore | None,
) -> AsyncIterator[bytes]:
    """Chat SSE blocks (as relayed, the router's own break event included) in, API events
    out."""
    try:
        head = tr.start()
        async for block in inner:
            out = head
            head = b""
            for payload in data_of(block):
                if payload == b"[DONE]":
                    out += tr.finish()
                    if isinstance(tr, responses_stream.StreamTranslator):
                        _remember(api, store, {"id": tr.rid, "output": tr.output})
                    continue
                try:
                    obj = orjson.loads(payload)
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(obj, dict):
                    continue
                if "error" in obj and "choices" not in obj:
                    # The upstream's error event, or the relay's own for a broken stream.
                    message, code = _error_message(payload)
                    out += tr.error(message, code)
                    continue
                out += tr.feed(obj)
            if out:
                yield out
    finally:
        aclose = getattr(inner, "aclose", None)
        if aclose is not None:
            await aclose()


def _renamed(kind: Api, block: bytes, served: str) -> bytes:
    """A native block with the served model's name where the upstream wrote its own."""
    if b'"model"' not in block:
        return block
    key = "response" if kind == "responses" else "message"
    out = b""
    for name, payload in split_events(block):
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            obj = None
        inner = obj.get(key) if isinstance(obj, dict) else None
        if isinstance(inner, dict) and "model" in inner:
            inner["model"] = served
            payload = orjson.dumps(obj)
        out += (b"event: " + name.encode() + b"\n" if name else b"") + b"data: " + payload + b"\n\n"
    return out


def _response_in(payload: bytes) -> Any:
    """The ``response`` object of a ``response.completed`` event, or None."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return obj.get("response") if isinstance(obj, dict) else None


async def _native(
    inner: AsyncIterator[bytes],
    api: ApiRequest,
    served: str,
    d: Decision,
    store: ResponseStore | None,
) -> AsyncIterator[bytes]:
    kind = api.kind
    #: Events relayed so far: an error event of ours continues their sequence numbers.
    seq = 0
    try:
        async for block in inner:
            if block.startswith(b'data: {"error"'):
                # The relay's event for a stream that broke: said in the client's API.
                message, code = _error_message(block[6:].strip())
                if kind == "responses":
                    yield responses_stream.error_event(message, code, seq)
                else:
                    yield messages_api.error_event(message)
                continue
            seq += block.count(b"\n\n")
            if b"error" in block and any(n == "error" for n, _ in split_events(block)):
                d.stream_error = d.stream_error or UPSTREAM_EVENT
            if kind == "responses" and api.store and b"response.completed" in block:
                for name, payload in split_events(block):
                    if name == "response.completed":
                        _remember(api, store, _response_in(payload))
            yield _renamed(kind, block, served)
    finally:
        aclose = getattr(inner, "aclose", None)
        if aclose is not None:
            await aclose()


def error_response(kind: str, err: RouterError, headers: Headers) -> Response:
    """A router error in the API the client called (``headers`` are the answer's own)."""
    extra = dict(err.extra)
    if kind == "messages":
        body: dict[str, Any] = messages_api.error_body(err.status, err.message, extra)
    else:
        body = err.body()
        param = _PARAMS.get(kind, {}).get(err.param or "")  # type: ignore[call-overload]
        if param is not None:
            body["error"]["param"] = param
    resp = Response(err.status, headers, orjson.dumps(body))
    resp.error = err
    return resp
