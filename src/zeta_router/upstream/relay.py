"""The response side of an attempt: finishing a reply, relaying a stream, the x-zeta headers.

Nothing here is retried: by the time these run, an upstream has answered. A reply that turns
out malformed is still a failure the retry loop may act on (no byte went to the client yet);
a stream that breaks after its first event ends with an explicit SSE error event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import orjson

from zeta_router.errors import Blame, FailureKind, UpstreamError, UpstreamFault
from zeta_router.fleet.outcome import (
    CLIENT_LEFT,
    SERVED,
    Failed,
    FirstByte,
    Held,
    Neutral,
    Reason,
    Served,
    StreamBroke,
)
from zeta_router.fleet.state import ReplicaState
from zeta_router.http.protocol import set_model, upstream_model_in
from zeta_router.http.response import JSON_TYPE, Headers, Response, sse_error_event
from zeta_router.routing.decision import Attempt, Decision
from zeta_router.upstream.cache_report import cache_report, stream_report
from zeta_router.upstream.transport import Reply, UpstreamStream

Clock = Callable[[], float]
Release = Callable[[ReplicaState], None]

_SSE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
)


def served_by(d: Decision, replica: ReplicaState, ttfb: float) -> None:
    d.attempts.append(Attempt(replica.model, replica.id, SERVED, ttfb))
    d.model, d.replica, d.status, d.ttfb_s = replica.model, replica.id, 200, ttfb


def failed(
    replica: ReplicaState, d: Decision, err: UpstreamError, start: float, now: float
) -> None:
    blame = err.blame
    d.attempts.append(Attempt(replica.model, replica.id, Reason.of(err), now - start, blame))
    if blame is Blame.UNSURE:
        # Held: whether it counts is decided by the next replica (attribution.Verdict).
        replica.record(Held(err, now))
    else:
        replica.record(Failed(err, now, now - start))


def complete_reply(
    reply: Reply, replica: ReplicaState, d: Decision, start: float, now: float
) -> Response | UpstreamError:
    """Check a non-stream answer and name the serving model in it; a body that is not an
    OpenAI JSON object is a failure of the replica, and the retry loop moves on."""
    try:
        obj = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict) or ("error" in obj and len(obj) == 1):
        err = UpstreamError(FailureKind.MALFORMED, "not an OpenAI JSON object")
        failed(replica, d, err, start, now)
        return err
    ttfb = now - start
    tokens = 0
    d.cache = cache_report(obj)
    usage = obj.get("usage")
    if isinstance(usage, dict):
        if isinstance(usage.get("total_tokens"), int):
            d.tokens = usage["total_tokens"]
        generated = usage.get("completion_tokens")
        if isinstance(generated, int) and not isinstance(generated, bool):
            tokens = generated
    # The whole answer took ttfb: a latency sample and, over its tokens, a decode-time one.
    replica.record(Served(now, ttfb, tokens=tokens))
    served_by(d, replica, ttfb)
    return Response(200, [(b"content-type", JSON_TYPE)], set_model(reply.body, obj, replica.model))


def reply_as_stream(resp: Response) -> Response:
    """A complete JSON answer to a request that asked for a stream (some servers ignore
    ``stream``), sent as SSE: one chunk, then [DONE]. Relayed as JSON, a streaming client (the
    openai SDK) would read no event at all and end with an empty answer and no error."""
    obj = orjson.loads(resp.body)
    raw = obj.get("choices")
    choices: list[object] = []
    for c in raw if isinstance(raw, list) else []:
        if isinstance(c, dict) and "message" in c:
            c = {**{k: v for k, v in c.items() if k != "message"}, "delta": c["message"]}
        choices.append(c)
    chunk = {**obj, "choices": choices}
    if chunk.get("object") == "chat.completion":
        chunk["object"] = "chat.completion.chunk"
    body = b"data: " + orjson.dumps(chunk) + b"\n\ndata: [DONE]\n\n"
    return Response(200, list(_SSE_HEADERS), body)


def start_stream(
    stream: UpstreamStream,
    replica: ReplicaState,
    d: Decision,
    start: float,
    clock: Clock,
    release: Release,
) -> Response:
    now = clock()
    ttfb = now - start
    served_by(d, replica, ttfb)
    replica.record(FirstByte(now, ttfb))
    return Response(200, list(_SSE_HEADERS), stream=_relay(stream, replica, d, clock, release))


async def _relay(
    stream: UpstreamStream, replica: ReplicaState, d: Decision, clock: Clock, release: Release
) -> AsyncIterator[bytes]:
    served = replica.model
    up = upstream_model_in(stream.first)
    swaps: list[tuple[bytes, bytes]] = []
    if up is not None and up != served:
        # Servers differ on JSON spacing; both spellings are cheap C-level replaces per block.
        old, new = orjson.dumps(up), orjson.dumps(served)
        swaps = [(key + old, key + new) for key in (b'"model":', b'"model": ')]
    finished = False
    #: Blocks handed to the client, each one whole event or more: what a stream it leaves is
    #: charged. Not events: counting those is a scan of every block, and a block holds more
    #: than one only where the server wrote several at once or the loop fell behind it.
    blocks = 1
    try:
        block = before = last = stream.first
        for a, b in swaps:
            block = block.replace(a, b)
        yield block
        async for block in stream:
            before, last = last, block
            for a, b in swaps:
                block = block.replace(a, b)
            blocks += 1
            yield block
        finished = True
        # The final events carry the cache report and the usage (per-key tpm settles to it);
        # [DONE] may come in a block of its own. One look, at the end, not per chunk.
        d.cache, d.tokens = stream_report(stream.first, before, last)
        replica.record(Served(clock(), stream=True))
    except UpstreamError as err:
        # What was reported before the break, if anything (else the estimate stays charged).
        d.tokens = stream_report(stream.first, before, last).tokens
        replica.record(StreamBroke(err, clock()))
        d.stream_error = Reason.of(err)
        yield sse_error_event(
            f"The upstream stream from {served} broke after the response started "
            f"({err.reason}); the answer above is incomplete.",
            code="stream_interrupted",
        )
    finally:
        release(replica)
        stream.close()
        if not finished and d.stream_error is None:
            d.stream_error = CLIENT_LEFT
            # The upstream is closed: it generated about what was relayed. What it reported
            # so far (vLLM's continuous usage) settles the tpm charge, else the blocks relayed.
            d.tokens = stream_report(stream.first, before, last).tokens
            d.left_after = blocks
            replica.record(Neutral(clock()))


#: The status a failure the request is to blame for is answered with, by kind; None: the
#: upstream's own. A validation error in a 5xx is the client's mistake, and answering it
#: with a 5xx would also make the openai SDK retry it twice by itself.
_FAULT_STATUS: dict[FailureKind, int | None] = {
    FailureKind.CLIENT_ERROR: None,
    FailureKind.REQUEST_REJECTED: 400,
    FailureKind.NOT_FOUND: 404,
    FailureKind.SERVER_ERROR: None,
}


def upstream_fault(replica: ReplicaState, err: UpstreamError, d: Decision) -> UpstreamFault:
    """The upstream's answer to a request that is itself at fault, as the client gets it: the
    upstream's whole message, the status class of the failure, the model that answered."""
    status = _FAULT_STATUS.get(err.kind) or err.status or 400
    said = err.message or err.detail or err.kind.value
    upstream = "" if replica.upstream_model == replica.model else f" ({replica.upstream_model})"
    message = f"{replica.model}{upstream} rejected the request: {said}"
    if err.kind is FailureKind.SERVER_ERROR:
        message = f"{replica.model}{upstream} failed on this request on every replica tried: {said}"
    return UpstreamFault(
        message,
        status=status,
        model=replica.model,
        extra={
            "zeta": {
                "model": replica.model,
                "upstream_model": replica.upstream_model,
                "upstream_status": err.status,
                "reason": err.kind.value,
                "blame": Blame.REQUEST.value,
                "attempts": len(d.attempts),
            }
        },
    )


def error_headers(d: Decision) -> Headers:
    h: Headers = [(b"x-zeta-request-id", d.request_id.encode())]
    if d.task:
        h.append((b"x-zeta-task", d.task.encode()))
    h.append((b"x-zeta-attempts", str(len(d.attempts)).encode()))
    return h


def set_headers(resp: Response, d: Decision) -> None:
    h = resp.headers
    h.append((b"x-zeta-request-id", d.request_id.encode()))
    h.append((b"x-zeta-model", (d.model or "").encode()))
    h.append((b"x-zeta-replica", (d.replica or "").encode()))
    h.append((b"x-zeta-task", d.task.encode()))
    h.append((b"x-zeta-route", header_safe(d.route)))
    h.append((b"x-zeta-attempts", str(len(d.attempts)).encode()))
    if d.fallback is not None:
        h.append((b"x-zeta-fallback", header_safe(short_fallback(d))))


def short_fallback(d: Decision) -> str:
    """``brain->coder (brain: 5xx)``: each passed-over model with the metrics' reason word,
    not the upstream's error body (that stays in the status page's attempt log)."""
    why = "; ".join(f"{m}: {r.label.value}" for m, r in d.passed_over) or "unavailable"
    return f"{d.preferred}->{d.model} ({why})"


def header_safe(text: str) -> bytes:
    return text.encode("ascii", "replace")[:512].replace(b"\r", b" ").replace(b"\n", b" ")
