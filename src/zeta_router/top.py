"""``zeta-router top``: the dashboard's history in a terminal, for operators on a server.

Reads a running gateway's ``GET /v1/router/status`` and ``GET /v1/router/history`` (the same
endpoints the dashboard polls) and draws per-model traffic and latency, per-replica state and a
breaker timeline with rich. ``--once`` prints one frame and exits, for scripts and SSH without
a terminal.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import orjson
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

#: Seconds the rates and latencies in the tables cover.
RECENT_S = 10
_BARS = "▁▂▃▄▅▆▇█"
_BREAKER_STYLE = {"closed": "green", "half_open": "yellow", "open": "red"}
_BREAKER_RANK = {"closed": 0, "half_open": 1, "open": 2}
_HEALTH_STYLE = {
    "ready": "green",
    "unknown": "dim",
    "draining": "dim",
    "loading": "yellow",
    "starting": "yellow",
    "down": "red",
    "exited": "red",
}
_STATUS_STYLE = {"2xx": "green", "4xx": "yellow", "429": "yellow", "5xx": "red", "cut": "magenta"}

Sample = dict[str, Any]


class Unreachable(Exception):
    """The gateway did not answer (or not with JSON)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """What one screen is drawn from."""

    url: str
    status: dict[str, Any]
    samples: tuple[Sample, ...]


class Feed:
    """Polls a gateway; keeps the last ``keep`` samples, fetching only new ones each time."""

    def __init__(self, url: str, keep: int, timeout_s: float = 5.0) -> None:
        self.base = url.rstrip("/").removesuffix("/v1")
        self._timeout = timeout_s
        self._samples: deque[Sample] = deque(maxlen=keep)
        self._seq = 0

    def _get(self, path: str) -> dict[str, Any]:
        target = self.base + path
        try:
            with urllib.request.urlopen(target, timeout=self._timeout) as resp:
                data = orjson.loads(resp.read())
        except (urllib.error.URLError, OSError, orjson.JSONDecodeError, ValueError) as exc:
            raise Unreachable(f"{target}: {exc}") from exc
        if not isinstance(data, dict):
            raise Unreachable(f"{target}: not a JSON object")
        return data

    def poll(self) -> Frame:
        status = self._get("/v1/router/status?decisions=0")
        history = self._get(f"/v1/router/history?since={self._seq}")
        if history["seq"] < self._seq:  # the gateway restarted: its numbering did too
            self._samples.clear()
            history = self._get("/v1/router/history?since=0")
        fields = history["fields"]
        self._samples.extend(decode(s, fields) for s in history["samples"])
        self._seq = history["seq"]
        return Frame(self.base, status, tuple(self._samples))


def decode(sample: Sample, fields: Mapping[str, Sequence[str]]) -> Sample:
    """A sample from ``GET /v1/router/history`` with its per-model and per-replica arrays
    turned into objects keyed by the answer's ``fields``."""
    out = dict(sample)
    for part in ("models", "replicas"):
        names = fields[part]
        out[part] = {k: dict(zip(names, row, strict=True)) for k, row in sample[part].items()}
    return out


# -- drawing (pure: frame in, renderable out) ---------------------------------------------------


def spark(values: Sequence[float | None], width: int) -> Text:
    """``values`` as a bar-character sparkline ``width`` wide (the busiest value per column)."""
    cols = _columns(values, width)
    top = max((v for v in cols if v is not None), default=0.0)
    out = Text()
    for v in cols:
        if v is None:
            out.append(" ")
        elif top <= 0:
            out.append(_BARS[0], style="dim")
        else:
            out.append(_BARS[min(len(_BARS) - 1, int(v / top * (len(_BARS) - 1) + 0.5))])
    return out


def _columns(values: Sequence[float | None], width: int) -> list[float | None]:
    """Right-aligned: the newest value is the last column; older ones share columns."""
    if len(values) <= width:
        return [None] * (width - len(values)) + list(values)
    out: list[float | None] = []
    n = len(values)
    for c in range(width):
        chunk = [v for v in values[c * n // width : (c + 1) * n // width] if v is not None]
        out.append(max(chunk) if chunk else None)
    return out


def breaker_strip(states: Sequence[str | None], width: int) -> Text:
    """One block per column, coloured by the worst breaker state in it."""
    if len(states) <= width:
        pad: list[str | None] = [None] * (width - len(states))
        cols = pad + list(states)
    else:
        n = len(states)
        cols = []
        for c in range(width):
            chunk = [s for s in states[c * n // width : (c + 1) * n // width] if s is not None]
            cols.append(max(chunk, key=lambda s: _BREAKER_RANK.get(s, 0)) if chunk else None)
    out = Text()
    for s in cols:
        if s is None:
            out.append(" ")
        else:
            out.append("█" if s != "closed" else "▁", style=_BREAKER_STYLE.get(s, "dim"))
    return out


def _rate(samples: Iterable[Sample], count: Any) -> float:
    total = span = 0.0
    for s in samples:
        total += count(s)
        span += s["span_s"]
    return total / span if span > 0 else 0.0


def _ms(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.0f} ms" if v >= 100 else f"{v:.1f} ms"


def _num(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def _quantiles(samples: Sequence[Sample], model: str, field: str) -> tuple[float | None, ...]:
    """Over ``samples``: the request-weighted mean of the per-second p50s, and the worst
    per-second p99."""
    weighted = weight = 0.0
    worst: float | None = None
    for s in samples:
        m = s["models"].get(model)
        if m is None or m[field] is None:
            continue
        p50, p99 = m[field]
        weighted += p50 * m["requests"]
        weight += m["requests"]
        worst = p99 if worst is None else max(worst, p99)
    return (weighted / weight if weight else None, worst)


def render(frame: Frame, window_s: int, width: int) -> RenderableType:
    status = frame.status
    samples = frame.samples[-window_s:] if window_s > 0 else frame.samples
    recent = samples[-RECENT_S:]
    head = Text()
    head.append("zeta-router top", style="bold")
    head.append(f"  {frame.url}  v{status.get('version', '?')}  up {_uptime(status)}", "dim")
    total = _rate(recent, lambda s: sum(s["status"].values()))
    errors = _rate(recent, lambda s: s["status"]["5xx"] + s["status"]["cut"])
    head.append(f"   {_num(total)} req/s", style="bold")
    head.append(f"  {_num(errors)} errors/s", style="red" if errors else "dim")
    if samples:
        last = time.strftime("%H:%M:%S", time.localtime(samples[-1]["t"]))
        head.append(f"   last sample {last}; rates over {RECENT_S} s, charts over ", "dim")
        head.append(f"{len(samples)} s", "dim")
    else:
        head.append("   collecting history…", "dim")
    # Sparklines take what the other columns leave of the terminal's width.
    return Group(
        head,
        _models_table(status, samples, recent, _clamp(width - 140, 10, 60)),
        _replicas_table(status, samples, recent, _clamp((width - 100) // 2, 10, 60)),
        _flow_table(samples, recent, _clamp(width - 40, 10, 90)),
    )


def _clamp(v: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, v))


def _uptime(status: dict[str, Any]) -> str:
    s = int(status.get("uptime_s", 0))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _models_table(
    status: dict[str, Any], samples: Sequence[Sample], recent: Sequence[Sample], w: int
) -> Table:
    t = Table(title="models", title_justify="left", expand=False, pad_edge=False)
    for col in ("model", "req/s", "p50", "p99", "ttft p50", "ttft p99", "in flight", "queued"):
        t.add_column(col, justify="left" if col == "model" else "right", no_wrap=True)
    t.add_column("requests/s over time", no_wrap=True)
    t.add_column("state", overflow="fold")
    for m in status.get("models", []):
        name = m["name"]

        def count(s: Sample, name: str = name) -> float:
            return float(s["models"].get(name, {}).get("requests", 0))

        lat = _quantiles(recent, name, "latency_ms")
        ttft = _quantiles(recent, name, "ttft_ms")
        state = Text("serving", "green")
        if m.get("unavailable_reason"):
            state = Text(f"unavailable: {m['unavailable_reason']}", "red")
        elif m.get("saturated"):
            state = Text(f"saturated: {m.get('saturation')}", "yellow")
        t.add_row(
            name,
            _num(_rate(recent, count)),
            _ms(lat[0]),
            _ms(lat[1]),
            _ms(ttft[0]),
            _ms(ttft[1]),
            str(m.get("in_flight", 0)),
            str(m.get("queued", 0)),
            spark([count(s) / s["span_s"] for s in samples], w),
            state,
        )
    return t


def _replicas_table(
    status: dict[str, Any], samples: Sequence[Sample], recent: Sequence[Sample], w: int
) -> Table:
    t = Table(title="replicas", title_justify="left", expand=False, pad_edge=False)
    for col in ("replica", "model", "health", "breaker", "in flight", "queue", "errors/s"):
        left = col in ("replica", "model", "health", "breaker")
        t.add_column(col, justify="left" if left else "right", no_wrap=True)
    t.add_column("breaker over time", no_wrap=True)
    t.add_column("in flight over time", no_wrap=True)
    for r in status.get("replicas", []):
        rid = r["id"]

        def failures(s: Sample, rid: str = rid) -> float:
            return float(s["replicas"].get(rid, {}).get("failures", 0))

        breaker = r["breaker"]["state"]
        load = r.get("load")
        errors = _rate(recent, failures)
        in_flight = f"{r['in_flight']}" + (
            f"/{r['max_concurrency']}" if r.get("max_concurrency") else ""
        )
        t.add_row(
            rid + (" (draining)" if r.get("draining") else ""),
            r["model"],
            Text(r["health"], _HEALTH_STYLE.get(r["health"], "")),
            Text(breaker.replace("_", "-"), _BREAKER_STYLE.get(breaker, "")),
            in_flight,
            "–" if load is None else f"{load['waiting']:g}",
            Text(_num(errors), "red" if errors else ""),
            breaker_strip([s["replicas"].get(rid, {}).get("breaker") for s in samples], w),
            spark([s["replicas"].get(rid, {}).get("in_flight") for s in samples], w),
        )
    return t


def _flow_table(samples: Sequence[Sample], recent: Sequence[Sample], w: int) -> Table:
    t = Table(title="responses and resilience", title_justify="left", pad_edge=False)
    t.add_column("per second")
    t.add_column("now", justify="right")
    t.add_column("over time", no_wrap=True)
    rows: list[tuple[str, str, Any]] = [
        (f"status {c}", _STATUS_STYLE[c], lambda s, c=c: s["status"][c])
        for c in ("2xx", "4xx", "429", "5xx", "cut")
    ]
    rows += [
        ("fallbacks", "yellow", lambda s: s["fallbacks"]),
        ("spills (saturated)", "cyan", lambda s: s["spills"]),
        ("retries", "magenta", lambda s: s["retries"]),
    ]
    for name, style, count in rows:
        rate = _rate(recent, count)
        t.add_row(
            Text(name, style),
            _num(rate),
            spark([count(s) / s["span_s"] for s in samples], w),
        )
    return t


def run(url: str, *, once: bool, interval_s: float, window_s: int, console: Console) -> int:
    feed = Feed(url, keep=max(window_s, RECENT_S))
    if once:
        try:
            frame = feed.poll()
        except Unreachable as exc:
            console.print(f"error: no answer from the gateway ({exc})", style="red")
            return 1
        console.print(render(frame, window_s, console.width))
        return 0
    try:
        if console.is_terminal:
            _live(feed, interval_s, window_s, console)
        else:
            # Piped or logged: one frame after another, as ``top -b`` does.
            while True:
                console.print(_view(feed, interval_s, window_s, console))
                time.sleep(interval_s)
    except KeyboardInterrupt:
        return 0


def _view(feed: Feed, interval_s: float, window_s: int, console: Console) -> RenderableType:
    try:
        return render(feed.poll(), window_s, console.width)
    except Unreachable as exc:
        return Text(f"disconnected: {exc}; retrying every {interval_s:g} s", "red")


def _live(feed: Feed, interval_s: float, window_s: int, console: Console) -> NoReturn:
    from rich.live import Live

    with Live(console=console, screen=True, auto_refresh=False) as live:
        while True:
            live.update(_view(feed, interval_s, window_s, console), refresh=True)
            time.sleep(interval_s)
