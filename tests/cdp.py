"""A headless Chromium driven over the Chrome DevTools Protocol: the dashboard tests and
docs/screenshot.py use it."""

from __future__ import annotations

import base64
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
from websockets.sync.client import ClientConnection, connect

CHROMIUM = os.environ.get("ZETA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


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

    def resize(self, width: int, height: int) -> None:
        """Lay the page out in a ``width`` x ``height`` CSS-pixel window."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        # Let the page re-render at the new width (it redraws its charts on resize).
        self.call(
            "Runtime.evaluate",
            expression="new Promise((ok) => requestAnimationFrame(() => setTimeout(ok, 50)))",
            awaitPromise=True,
        )

    def screenshot(self, width: int, height: int) -> bytes:
        """A PNG of the top of the page, laid out ``width`` CSS pixels wide, ``height`` tall."""
        self.resize(width, height)
        shot = self.call("Page.captureScreenshot", format="png")
        return base64.b64decode(shot["data"])

    def close(self) -> None:
        self._stack.close()


@contextlib.contextmanager
def chromium(profile_dir: Path) -> Iterator[Callable[[str], Page]]:
    """A headless Chromium; yields ``open_page(url) -> Page`` (one tab, reused)."""
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
        "--hide-scrollbars",
        f"--user-data-dir={profile_dir / 'profile'}",
        f"--remote-debugging-port={port}",
        "about:blank",
    ]
    profile_dir.mkdir(parents=True, exist_ok=True)
    log_path = profile_dir / "chromium.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([CHROMIUM, *flags], stdout=log, stderr=subprocess.STDOUT)
    pages: list[Page] = []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        targets: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not targets:
            assert proc.poll() is None, log_path.read_text()[-2000:]
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
