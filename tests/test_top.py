"""``zeta-router top --once`` against a live gateway, run as a user would (a subprocess)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from rich.console import Console

from zeta_router.testing import Harness
from zeta_router.top import Frame, breaker_strip, decode, render, spark

from .conftest import fleet_template

CODE_PROMPT = "Fix this bug:\n```python\ndef add(a, b):\n    return a - b\n```"


def top(*args: str, width: int = 200) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zeta_router", "top", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": str(width)},
    )


@pytest.fixture()
def gw() -> Iterator[Harness]:
    h = Harness(["b1", "b2", "c1", "s1", "e1"], fleet_template(breaker={"consecutive_failures": 1}))
    yield h
    h.close()


def wait_for_sample(h: Harness, ok: str) -> None:
    """Until the history holds a sample in which ``ok`` (a replica id) has a failure."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        body = httpx.get(h.url + "/v1/router/history").json()
        samples = [decode(s, body["fields"]) for s in body["samples"]]
        if any(s["replicas"][ok]["failures"] for s in samples) and any(
            s["fallbacks"] for s in samples
        ):
            return
        time.sleep(0.1)
    raise AssertionError("the history did not record the failure")


def test_top_once_shows_traffic_and_a_replica_going_down(gw: Harness) -> None:
    c = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0, timeout=20)
    for _ in range(4):
        c.chat.completions.create(model="auto", messages=[{"role": "user", "content": CODE_PROMPT}])
    gw.down("c1")
    c.chat.completions.create(model="auto", messages=[{"role": "user", "content": CODE_PROMPT}])
    wait_for_sample(gw, "coder-0")

    out = top("--url", gw.base_url, "--once")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    lines = text.splitlines()
    assert lines[0].startswith("zeta-router top") and gw.url in lines[0]
    for name in ("brain", "coder", "small", "embed"):
        assert any(line.startswith(f"│{name} ") for line in lines), name
    # coder-0's row: open breaker, an error rate, and the open period in its timeline.
    coder = next(line for line in lines if line.startswith("│coder-0"))
    assert "open" in coder and "█" in coder
    assert "unavailable: circuit open" in text
    brain = next(line for line in lines if line.startswith("│brain-a"))
    assert "closed" in brain and "█" not in brain
    fallbacks = next(line for line in lines if line.startswith("│fallbacks"))
    assert float(fallbacks.split("│")[2]) > 0
    assert "Traceback" not in out.stderr


def test_top_says_when_the_gateway_does_not_answer() -> None:
    with socket.socket() as s:  # a port nothing listens on: bound, then closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = top("--url", f"http://127.0.0.1:{port}", "--once")
    assert out.returncode == 1
    assert "no answer from the gateway" in out.stdout
    assert "Traceback" not in out.stderr


def test_sparklines_and_strips() -> None:
    assert spark([0, 1, 2, 4], 4).plain == "▁▃▅█"
    assert spark([1.0, None, 1.0], 5).plain == "  █ █"
    # Wider history than columns: each column shows its busiest second.
    assert spark([0, 4, 0, 0, 0, 2], 3).plain == "█▁▅"
    assert breaker_strip(["closed", "open", "closed", "half_open"], 2).plain == "██"
    assert breaker_strip(["closed", "closed"], 3).plain == " ▁▁"


def test_render_before_any_history() -> None:
    status = {"version": "1", "uptime_s": 3, "models": [], "replicas": []}
    console = Console(width=120, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    with console.file:
        console.print(render(Frame("http://x", status, ()), 60, 120))
    assert "collecting history" in console.export_text()


def test_top_without_a_terminal_prints_frame_after_frame_until_interrupted(gw: Harness) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "zeta_router", "top", "--url", gw.url, "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert proc.stdout is not None
    try:
        # Read until the second frame starts: proof it refreshes on its own.
        headers = 0
        deadline = time.monotonic() + 20
        while headers < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            headers += line.startswith("zeta-router top")
        assert headers == 2
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
