"""The live dashboard in a real headless Chromium, driven over the Chrome DevTools Protocol.

It must render every model and replica, show a replica going down within a few seconds, list
the fallback that followed, and log no console errors or uncaught exceptions.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from zeta_router.testing import Harness

from .conftest import fleet_template

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("ZETA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"Chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does this)",
        allow_module_level=True,
    )

from websockets.sync.client import ClientConnection, connect  # noqa: E402

CODE_PROMPT = "Fix this bug:\n```python\ndef add(a, b):\n    return a - b\n```"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Page:
    """A minimal CDP session on one page target: commands plus the events seen meanwhile."""

    def __init__(self, ws_url: str) -> None:
        # Entered as a context manager: websockets >= 17.1 warns on a bare connect().
        self._stack = contextlib.ExitStack()
        self._ws: ClientConnection = self._stack.enter_context(
            connect(ws_url, max_size=None, open_timeout=10)
        )
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self._ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv(timeout=15))
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})  # type: ignore[no-any-return]
            self.events.append(msg)

    def eval(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.eval(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"the dashboard did not show {what} within {timeout} s")

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(json.dumps(params.get("args"))[:500])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                out.append(params["entry"].get("text", "")[:500])
        return out

    def close(self) -> None:
        self._stack.close()


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Callable[[str], Page]]:
    port = free_port()
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--remote-debugging-port={port}",
        "about:blank",
    ]
    with (tmp_path / "chromium.log").open("w") as log:
        proc = subprocess.Popen([CHROMIUM, *flags], stdout=log, stderr=subprocess.STDOUT)
    pages: list[Page] = []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        targets: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not targets:
            assert proc.poll() is None, (tmp_path / "chromium.log").read_text()[-2000:]
            try:
                listed = httpx.get(base + "/json/list", timeout=2).json()
                targets = [t for t in listed if t.get("type") == "page"]
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert targets, "Chromium did not open a page target"

        def open_page(url: str) -> Page:
            page = Page(targets[0]["webSocketDebuggerUrl"])
            pages.append(page)
            page.call("Runtime.enable")
            page.call("Log.enable")
            page.call("Page.enable")
            page.call("Page.navigate", url=url)
            return page

        yield open_page
    finally:
        for page in pages:
            page.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture()
def gw() -> Iterator[Harness]:
    template = fleet_template(breaker={"consecutive_failures": 1, "eject_base_s": 60})
    h = Harness(["b1", "b2", "c1", "s1", "e1"], template)
    yield h
    h.close()


ROWS = "document.querySelectorAll('tr[data-replica]')"


def row(replica: str, attr: str) -> str:
    return f"document.querySelector('tr[data-replica=\"{replica}\"]')?.dataset.{attr}"


def test_dashboard_renders_fleet_and_shows_a_replica_going_down(
    gw: Harness, browser: Callable[[str], Page]
) -> None:
    c = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0, timeout=20)
    c.chat.completions.create(model="auto", messages=[{"role": "user", "content": CODE_PROMPT}])
    page = browser(gw.url + "/dashboard")

    page.wait_for(f"{ROWS}.length === 5", 10, "all five replicas")
    shown = page.eval(f"Array.from({ROWS}).map((r) => r.dataset.replica)")
    assert sorted(shown) == ["brain-a", "brain-b", "coder-0", "embed-0", "small-0"]
    models = page.eval(
        "Array.from(document.querySelectorAll('h3[data-model]')).map(h => h.dataset.model)"
    )
    assert models == ["brain", "coder", "small", "embed"]
    assert page.eval(row("coder-0", "breaker")) == "closed"
    assert page.eval(row("coder-0", "available")) == "true"
    page.wait_for(
        "document.querySelectorAll('#decisions tr[data-request]').length >= 1", 5, "the decision"
    )
    assert "coder-0" in page.eval("document.querySelector('#decisions tbody').textContent")

    # coder's only replica dies; the next code request finds it down and falls back.
    gw.down("c1")
    t0 = time.monotonic()
    raw = c.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": CODE_PROMPT}]
    )
    assert raw.headers["x-zeta-model"] == "brain"
    page.wait_for(f"{row('coder-0', 'available')} === 'false'", 5, "coder-0 going down")
    elapsed = time.monotonic() - t0
    assert (
        page.eval(row("coder-0", "breaker")) == "open"
        or page.eval(row("coder-0", "health")) == "down"
    )
    fallback = page.wait_for(
        "document.querySelector('#fallbacks tr[data-fallback]')?.textContent", 5, "the fallback"
    )
    assert "coder->brain" in fallback
    assert elapsed < 5

    page.eval("1")  # collect any late events
    assert page.errors() == [], page.errors()
    assert page.eval("document.getElementById('conn').textContent") == "live"
