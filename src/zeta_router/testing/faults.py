"""The fake backend's runtime fault switches (what a test flips to make it misbehave)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal[
    "ok", "503", "429", "500", "400", "401", "hang", "garbage", "cut", "loading", "reset", "crash",
    # Hostile answers: a stream of events that never ends, a body that never ends (trickled),
    # a head of megabytes, a body of ``huge_bytes``, a stream with no event separator ever.
    "endless", "endless_body", "giant_headers", "huge_body", "no_events",
]

@dataclass
class Faults:
    mode: Mode = "ok"
    #: Seconds before the answer (non-stream) or the first chunk (stream).
    delay_s: float = 0.0
    #: Seconds between stream chunks.
    chunk_delay_s: float = 0.0
    #: Stream chunks per answer (each one word).
    chunks: int = 8
    #: With mode "cut": chunks sent before the connection is dropped.
    cut_after: int = 3
    retry_after_s: int = 1
    #: Requests served at once; more wait in a queue (reported in the metrics).
    capacity: int | None = None
    #: Chat and completion requests are taken in and counted as running (holding their
    #: ``capacity`` slot), but not answered until the switch is turned off again (or the
    #: backend healed or stopped); then each is answered as usual. Holds any number of
    #: requests in flight for as long as a test needs, however slow the machine.
    hold: bool = False
    #: Error bodies quote the request's headers (Authorization included), as careless servers
    #: and debug builds do: a router must not pass that on.
    echo_headers: bool = False
    #: Answer ``stream: true`` with one complete JSON body, as servers without streaming do.
    ignore_stream: bool = False
    #: When set, the text of every stream chunk after the first (say, a model quoting SSE).
    say: str | None = None
    #: The end-of-stream event as written (SSE allows no space after the colon).
    done_event: bytes = b"data: [DONE]"
    #: Requests whose body contains this string are refused as llama-cpp-python refuses a
    #: request its schema does not accept: HTTP 500 with the validation errors as the message.
    reject_marker: str | None = None
    #: With mode "huge_body" or "no_events": how many bytes to send.
    huge_bytes: int = 80 * 1024 * 1024
    #: Like a server's prefix cache: the last this many prompts are kept, and each answer says
    #: how much of its prompt the best of them covered (``usage.prompt_tokens_details`` and,
    #: on the final stream chunk, llama.cpp's ``timings``), four characters a token. 0: off.
    prompt_cache: int = 0
    #: The final stream chunk carries llama.cpp's ``timings`` with ``predicted_n`` (what it
    #: evaluated, took from its cache and generated), as llama-server's does.
    stream_timings: bool = False
    #: Seconds between ``: ping`` comments on a stream, from its headers on (0: none), as
    #: llama-cpp-python's server sends every 15 s: the headers and pings come at once, the
    #: first event only after ``delay_s`` (the prompt being read).
    ping_s: float = 0.0
