"""Regenerate docs/dashboard.png: the dashboard after five minutes of a fake fleet's life.

    PYTHONPATH=src python docs/screenshot.py                 # about 5 minutes
    PYTHONPATH=src python docs/screenshot.py --seconds 120 --out /tmp/dash.png

A real gateway over the in-process fake fleet (health probes and backend metric scrapes on),
driven with the official ``openai`` SDK by a few concurrent clients sending code, reasoning,
simple and embedding requests, some streamed, and now and then a request naming a model that
does not exist (a 404). Along the way: coder's only replica goes down and comes back (its
breaker opens, requests fall back to brain, the probes mark it down, then ready again);
brain slows down and its backends queue (latency and backend queue rise, requests spill to
coder); small-0
answers 503 for a while. Then a headless Chromium (over the DevTools protocol, as in
tests/test_dashboard_browser.py) takes the screenshot.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cdp import chromium  # noqa: E402
from tests.conftest import fleet_template  # noqa: E402

from zeta_router.testing import Harness  # noqa: E402

PROMPTS = {
    "code": "Fix this bug:\n```python\ndef add(a, b):\n    return a - b\n```",
    "reasoning": "Prove step by step that the square root of 2 is irrational.",
    "simple": "hi there, what's up?",
}


#: Time to first byte and between stream chunks per backend: brain is the big, slow model.
PACE = {"b1": (0.12, 0.01), "b2": (0.12, 0.01), "c1": (0.05, 0.005), "s1": (0.02, 0.002)}


async def client(
    h: Harness, stop: threading.Event, rng: random.Random, weights: list[float]
) -> None:
    c = openai.AsyncOpenAI(base_url=h.base_url, api_key="unused", max_retries=0, timeout=20)
    kinds = ["code", "reasoning", "simple", "embed", "bad"]
    try:
        while not stop.is_set():
            kind = rng.choices(kinds, weights)[0]
            try:
                if kind == "embed":
                    await c.embeddings.create(model="embed", input="some text to embed")
                elif kind == "bad":
                    await c.chat.completions.create(
                        model="no-such-model", messages=[{"role": "user", "content": "hi"}]
                    )
                else:
                    messages: Any = [{"role": "user", "content": PROMPTS[kind]}]
                    if rng.random() < 0.3:
                        stream = await c.chat.completions.create(
                            model="auto", messages=messages, stream=True
                        )
                        async for _ in stream:
                            pass
                    else:
                        await c.chat.completions.create(model="auto", messages=messages)
            except openai.APIError:
                pass  # 404s and the odd 503 are part of the picture
            await asyncio.sleep(rng.uniform(0.05, 0.25))
    finally:
        await c.close()


def pace(h: Harness, name: str) -> None:
    if name in PACE:
        delay, chunk = PACE[name]
        h.set(name, delay_s=delay, chunk_delay_s=chunk)


async def drive(h: Harness, seconds: float, stop: threading.Event) -> None:
    """Traffic until ``stop`` is set, the fleet's troubles over the first ``seconds``."""
    start = time.monotonic()
    weights = [0.4, 0.3, 0.2, 0.08, 0.02]
    clients = [asyncio.create_task(client(h, stop, random.Random(i), weights)) for i in range(6)]

    def at(fraction: float) -> float:
        return start + seconds * fraction

    # (when, what): the fleet's bad days, compressed.
    script = [
        (at(0.30), lambda: h.down("c1")),
        (at(0.50), lambda: (h.up("c1"), pace(h, "c1"))),
        # brain gets slow and its backends start queueing: its requests spill to coder.
        (at(0.62), lambda: [h.set(b, delay_s=0.4, capacity=1) for b in ("b1", "b2")]),
        (at(0.78), lambda: [(h.heal(b), pace(h, b)) for b in ("b1", "b2")]),
        (at(0.84), lambda: h.set("s1", mode="503")),
        (at(0.92), lambda: (h.heal("s1"), pace(h, "s1"))),
    ]
    for when, action in script:
        await asyncio.sleep(max(0.0, when - time.monotonic()))
        # The harness drives the fleet's loop from a thread: keep this loop free meanwhile.
        await asyncio.to_thread(action)
    await asyncio.gather(*clients)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300.0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "dashboard.png")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    args = ap.parse_args(argv)
    template = fleet_template(
        health={"interval_s": 1.0, "timeout_s": 0.5, "scrape_interval_s": 1.0},
        breaker={"eject_base_s": 3.0},
    )
    h = Harness(["b1", "b2", "c1", "s1", "e1"], template)
    for name in PACE:
        pace(h, name)
    stop = threading.Event()
    traffic = threading.Thread(target=lambda: asyncio.run(drive(h, args.seconds, stop)))
    traffic.start()
    try:
        time.sleep(args.seconds)
        tmp = tempfile.TemporaryDirectory(prefix="zeta-shot-")
        with tmp, chromium(Path(tmp.name)) as open_page:
            page = open_page(h.url + "/dashboard")
            page.wait_for("Number(document.body?.dataset.updates ?? 0) >= 2", 15, "two polls")
            png = page.screenshot(args.width, args.height)
            errors = page.errors()
            if errors:
                print("page errors:", *errors, sep="\n", file=sys.stderr)
                return 1
        args.out.write_bytes(png)
        print(f"wrote {args.out} ({len(png)} bytes)")
    finally:
        stop.set()
        traffic.join(60)
        h.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
