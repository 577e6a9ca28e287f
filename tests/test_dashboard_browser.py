"""The live dashboard in a real headless Chromium, driven over the Chrome DevTools Protocol.

It must render every model and replica, show a replica going down within a few seconds, list
the fallback that followed, and log no console errors or uncaught exceptions.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest

from zeta_router.testing import Harness

from .cdp import CHROMIUM, Page, chromium
from .conftest import fleet_template

pytestmark = pytest.mark.slow

if not Path(CHROMIUM).exists():
    pytest.skip(
        f"Chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does this)",
        allow_module_level=True,
    )

CODE_PROMPT = "Fix this bug:\n```python\ndef add(a, b):\n    return a - b\n```"


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Callable[[str], Page]]:
    with chromium(tmp_path) as open_page:
        yield open_page


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


def chart_series(chart: str, key: str, field: str) -> str:
    return (
        f"Number(document.querySelector('#chart-{chart} path[data-series=\"{key}\"]')"
        f"?.dataset.{field} ?? 0)"
    )


def lane(replica: str, state: str) -> str:
    return (
        f"document.querySelectorAll('#timeline g[data-replica=\"{replica}\"] "
        f"rect[data-state=\"{state}\"]').length"
    )


def test_dashboard_charts_history_and_shows_a_replica_going_down(
    gw: Harness, browser: Callable[[str], Page], tmp_path: Path
) -> None:
    c = openai.OpenAI(base_url=gw.base_url, api_key="unused", max_retries=0, timeout=20)
    for _ in range(3):
        c.chat.completions.create(model="auto", messages=[{"role": "user", "content": CODE_PROMPT}])
    page = browser(gw.url + "/dashboard")

    # The history so far: coder served the code requests, its breaker stayed closed.
    page.wait_for(f"{chart_series('requests', 'coder', 'total')} >= 3", 5, "coder's requests")
    assert page.eval(chart_series("latency", "coder p50", "max")) > 0
    assert page.eval(chart_series("ttft", "coder p99", "max")) > 0
    assert page.eval(chart_series("status", "2xx", "total")) >= 3
    assert page.eval(lane("coder-0", "closed")) >= 1
    assert page.eval(lane("coder-0", "open")) == 0
    assert page.eval(chart_series("errors", "coder-0", "total")) == 0
    lanes = page.eval(
        "Array.from(document.querySelectorAll('#timeline g[data-replica]'))"
        ".map((g) => g.dataset.replica)"
    )
    assert sorted(lanes) == ["brain-a", "brain-b", "coder-0", "embed-0", "small-0"]

    # coder's only replica goes down; the next code request fails there and falls back.
    gw.down("c1")
    t0 = time.monotonic()
    raw = c.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": CODE_PROMPT}]
    )
    assert raw.headers["x-zeta-model"] == "brain"
    page.wait_for(f"{lane('coder-0', 'open')} >= 1", 5, "coder-0's breaker opening")
    page.wait_for(f"{chart_series('errors', 'coder-0', 'total')} >= 1", 5, "coder-0's error")
    page.wait_for(f"{chart_series('resilience', 'fallbacks', 'total')} >= 1", 5, "the fallback")
    elapsed = time.monotonic() - t0
    assert elapsed < 5, elapsed
    # The other replicas stayed closed, and had no errors.
    assert page.eval(lane("brain-a", "open")) == 0
    assert page.eval(chart_series("errors", "brain-a", "total")) == 0

    # Hovering a chart shows the values of the second under the pointer.
    page.resize(1400, 900)
    box = page.eval(
        "(() => { const svg = document.querySelector('#chart-errors svg');"
        " svg.scrollIntoView({block: 'center'}); const r = svg.getBoundingClientRect();"
        " return [r.right - 12, r.top + r.height / 2]; })()"
    )
    page.call("Input.dispatchMouseEvent", type="mouseMoved", x=box[0], y=box[1])
    tip = page.wait_for(
        "document.getElementById('tip').style.display === 'block'"
        " && document.getElementById('tip').textContent",
        5,
        "the tooltip",
    )
    assert "coder-0" in tip and "brain-a" in tip

    png = page.screenshot(1400, 900)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000
    (tmp_path / "dashboard.png").write_bytes(png)
    page.eval("1")  # collect any late events
    assert page.errors() == [], page.errors()
