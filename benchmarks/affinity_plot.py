"""A hand-written SVG of the affinity benchmark's figures (no plotting library needed): one
panel per measure, one bar per routing strategy, the value written on each bar."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

COLORS = {"round-robin": "#9e9e9e", "p2c": "#5b8def", "affinity": "#2e9d5b", "pin": "#e0a030"}
ORDER = ("round-robin", "p2c", "affinity", "pin")
#: (workload, key, title, unit, reference line or None)
PANELS = (
    ("a", "later_ttft_p50_s", "(a) multi-turn: TTFT p50, turns after the first", "s", None),
    ("b", "load_max_over_mean", "(b) one shared prompt: busiest replica's load / mean", "x",
     1.5),
    ("b", "latency_p99_s", "(b) one shared prompt: latency p99", "s", None),
    ("c", "throughput_rps", "(c) no shared prefix: throughput", "req/s", None),
    ("c", "latency_p99_s", "(c) no shared prefix: latency p99", "s", None),
)
W, PANEL_H, BAR_W, GAP, LEFT = 460, 190, 70, 30, 40


def _panel(y0: int, title: str, bars: list[tuple[str, float]], unit: str,
           ref: float | None) -> list[str]:
    out = [f'<text x="10" y="{y0 + 18}" font-size="14" font-weight="bold">{escape(title)}</text>']
    top = max([v for _, v in bars] + ([ref] if ref else []) + [1e-9]) * 1.15
    base = y0 + PANEL_H - 30
    height = PANEL_H - 70
    out.append(f'<line x1="{LEFT}" y1="{base}" x2="{W - 10}" y2="{base}" stroke="#444"/>')
    for i, (name, v) in enumerate(bars):
        x = LEFT + 10 + i * (BAR_W + GAP)
        h = height * v / top
        out.append(f'<rect x="{x}" y="{base - h:.1f}" width="{BAR_W}" height="{h:.1f}" '
                   f'fill="{COLORS.get(name, "#777")}"/>')
        out.append(f'<text x="{x + BAR_W / 2}" y="{base - h - 4:.1f}" font-size="12" '
                   f'text-anchor="middle">{v:.3g} {escape(unit)}</text>')
        out.append(f'<text x="{x + BAR_W / 2}" y="{base + 16}" font-size="12" '
                   f'text-anchor="middle">{escape(name)}</text>')
    if ref:
        y = base - height * ref / top
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - 10}" y2="{y:.1f}" stroke="#c33" '
                   f'stroke-dasharray="4 3"/>')
        out.append(f'<text x="{W - 12}" y="{y - 4:.1f}" font-size="11" fill="#c33" '
                   f'text-anchor="end">target {ref:g}</text>')
    return out


def write_svg(path: Path, rows: list[dict[str, Any]], backend: str) -> None:
    by = {(r["workload"], r["strategy"]): r for r in rows}
    parts: list[str] = []
    y = 40
    for workload, key, title, unit, ref in PANELS:
        bars = [(s, float(by[(workload, s)][key])) for s in ORDER
                if (workload, s) in by and by[(workload, s)].get(key) is not None]
        if not bars:
            continue
        parts += _panel(y, title, bars, unit, ref)
        y += PANEL_H
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{y + 10}" '
            f'font-family="sans-serif">'
            f'<rect width="100%" height="100%" fill="white"/>'
            f'<text x="10" y="24" font-size="16" font-weight="bold">Cache affinity on '
            f'{escape(backend)} (SmolLM2-135M)</text>')
    path.write_text(head + "".join(parts) + "</svg>\n")
