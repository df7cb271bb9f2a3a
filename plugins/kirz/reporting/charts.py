"""Small, deterministic SVG charts written as text (no matplotlib: same input, same bytes).

Each function takes already translated labels and a number formatter, and returns an SVG
string safe to inline in HTML: every text is XML-escaped here. Missing values (None) leave
gaps. Sizes are in user units; the SVG scales to its container (``width: 100%``).
"""

from __future__ import annotations

import math
from typing import Callable, Sequence
from xml.sax.saxutils import escape

PALETTE = ("#1f4e79", "#e07b39", "#5b9e5a", "#9b59b6", "#8c8c8c", "#c0392b")
FONT = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""


def _esc(text) -> str:
    return escape(str(text), {'"': "&quot;"})


def nice_scale(lo: float, hi: float, ticks: int = 5) -> tuple[float, float, float]:
    """Rounded axis bounds and step covering [lo, hi]."""
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(ticks - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


def _frame(width, height, title, body: list[str], legend: list[tuple[str, str]], aria: str) -> str:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{_esc(aria)}" class="chart">',
        f'<text x="0" y="14" {FONT} font-size="12" font-weight="bold" fill="#222">{_esc(title)}</text>',
    ]
    out += body
    x = 0
    for color, label in legend:
        out.append(f'<rect x="{x}" y="{height - 11}" width="10" height="10" fill="{color}"/>')
        out.append(f'<text x="{x + 14}" y="{height - 2}" {FONT} font-size="10" fill="#333">{_esc(label)}</text>')
        x += 24 + 6.2 * len(str(label))
    out.append("</svg>")
    return "\n".join(out)


def _axes(x0, y0, w, h, lo, hi, step, fmt, unit_label) -> list[str]:
    out = []
    v = lo
    while v <= hi + step / 1e6:
        y = y0 + h - (v - lo) / (hi - lo) * h
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#e3e3e3" stroke-width="0.8"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 3.5:.1f}" {FONT} font-size="9.5" fill="#555" text-anchor="end">{_esc(fmt(v))}</text>')
        v += step
    out.append(f'<line x1="{x0}" y1="{y0 + h}" x2="{x0 + w}" y2="{y0 + h}" stroke="#777" stroke-width="1"/>')
    if unit_label:
        out.append(f'<text x="{x0}" y="{y0 - 8}" {FONT} font-size="9.5" fill="#555">{_esc(unit_label)}</text>')
    return out


def _x_labels(x0, y, slot, labels: Sequence[str]) -> list[str]:
    every = max(1, math.ceil(len(labels) / 14))
    return [
        f'<text x="{x0 + slot * (i + 0.5):.1f}" y="{y}" {FONT} font-size="9.5" fill="#555" text-anchor="middle">{_esc(lab)}</text>'
        for i, lab in enumerate(labels) if i % every == 0
    ]


def bar_chart(title: str, categories: Sequence[str], series: dict[str, Sequence[float | None]],
              fmt: Callable[[float], str], unit_label: str = "", stacked: bool = True,
              ref: tuple[float, str] | None = None, width: int = 640, height: int = 240) -> str:
    """Vertical bars per category; several series stacked (or side by side)."""
    names = list(series)
    x0, y0, w, h = 56, 34, width - 66, height - 34 - 40
    n = max(len(categories), 1)
    tops = []
    for i in range(len(categories)):
        vals = [series[s][i] or 0.0 for s in names]
        tops.append(sum(v for v in vals if v > 0) if stacked else max(vals + [0.0]))
    hi_val = max(tops + [ref[0] if ref else 0.0, 0.0])
    lo, hi, step = nice_scale(0.0, hi_val or 1.0)
    body = _axes(x0, y0, w, h, lo, hi, step, fmt, unit_label)
    slot = w / n
    bar_w = slot * 0.68 / (1 if stacked else max(len(names), 1))
    for i in range(len(categories)):
        base = 0.0
        for j, s in enumerate(names):
            v = series[s][i]
            if v is None or v <= 0:
                continue
            color = PALETTE[j % len(PALETTE)]
            if stacked:
                y_top = y0 + h - (base + v - lo) / (hi - lo) * h
                y_bot = y0 + h - (base - lo) / (hi - lo) * h
                x = x0 + slot * i + (slot - bar_w) / 2
                base += v
            else:
                y_top = y0 + h - (v - lo) / (hi - lo) * h
                y_bot = y0 + h
                x = x0 + slot * i + slot * 0.16 + j * bar_w
            body.append(f'<rect x="{x:.1f}" y="{y_top:.1f}" width="{bar_w:.1f}" height="{max(y_bot - y_top, 0):.1f}" '
                        f'fill="{color}"><title>{_esc(categories[i])}: {_esc(s)} {_esc(fmt(v))}</title></rect>')
    if ref:
        y = y0 + h - (ref[0] - lo) / (hi - lo) * h
        body.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#c0392b" stroke-dasharray="5,3" stroke-width="1.2"/>')
        body.append(f'<text x="{x0 + w}" y="{y - 4:.1f}" {FONT} font-size="9.5" fill="#c0392b" text-anchor="end">{_esc(ref[1])}</text>')
    body += _x_labels(x0, y0 + h + 14, slot, categories)
    legend = [(PALETTE[j % len(PALETTE)], s) for j, s in enumerate(names)] if len(names) > 1 else []
    return _frame(width, height, title, body, legend, title)


def line_chart(title: str, categories: Sequence[str], series: dict[str, Sequence[float | None]],
               fmt: Callable[[float], str], unit_label: str = "", ref: tuple[float, str] | None = None,
               y_min: float | None = None, y_max: float | None = None, width: int = 640, height: int = 220) -> str:
    """Lines with markers per category; gaps where a value is missing."""
    names = list(series)
    x0, y0, w, h = 56, 34, width - 66, height - 34 - 40
    vals = [v for s in names for v in series[s] if v is not None]
    if ref:
        vals.append(ref[0])
    lo_v = min(vals) if vals else 0.0
    hi_v = max(vals) if vals else 1.0
    lo, hi, step = nice_scale(lo_v if y_min is None else y_min, hi_v if y_max is None else y_max)
    if y_min is not None:
        lo = y_min
    body = _axes(x0, y0, w, h, lo, hi, step, fmt, unit_label)
    n = max(len(categories), 1)
    slot = w / n
    for j, s in enumerate(names):
        color = PALETTE[j % len(PALETTE)]
        pts, path = [], []
        for i, v in enumerate(series[s]):
            if v is None:
                if len(path) > 1:
                    pts.append(path)
                path = []
                continue
            x = x0 + slot * (i + 0.5)
            y = y0 + h - (v - lo) / (hi - lo) * h
            path.append((x, y, v, categories[i]))
        if path:
            pts.append(path)
        for seg in pts:
            if len(seg) > 1:
                d = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in seg)
                body.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
            for x, y, v, cat in seg:
                body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>{_esc(cat)}: {_esc(fmt(v))}</title></circle>')
    if ref:
        y = y0 + h - (ref[0] - lo) / (hi - lo) * h
        body.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#c0392b" stroke-dasharray="5,3" stroke-width="1.2"/>')
        body.append(f'<text x="{x0 + w}" y="{y - 4:.1f}" {FONT} font-size="9.5" fill="#c0392b" text-anchor="end">{_esc(ref[1])}</text>')
    body += _x_labels(x0, y0 + h + 14, slot, categories)
    legend = [(PALETTE[j % len(PALETTE)], s) for j, s in enumerate(names)] if len(names) > 1 else []
    return _frame(width, height, title, body, legend, title)


STATUS_COLOURS = {"ok": "#5b9e5a", "warning": "#e07b39", "exceeded": "#c0392b"}


def gauge_bar(title: str, value: float | None, limit: float, fmt: Callable[[float], str],
              limit_label: str, status: str, width: int = 640, height: int = 64) -> str:
    """One horizontal bar against a limit, coloured by the status the data layer gives."""
    x0, w = 4, width - 8
    top = max(limit * 1.25, (value or 0.0) * 1.1, 1e-9)
    body = [f'<rect x="{x0}" y="24" width="{w}" height="16" fill="#eef1f5" stroke="#c9d1dc"/>']
    if value is not None:
        vw = min(value / top, 1.0) * w
        color = STATUS_COLOURS.get(status, "#8a94a3")
        body.append(f'<rect x="{x0}" y="24" width="{vw:.1f}" height="16" fill="{color}"/>')
        body.append(f'<text x="{x0 + vw + 4:.1f}" y="36" {FONT} font-size="10" fill="#222">{_esc(fmt(value))}</text>')
    lx = x0 + limit / top * w
    body.append(f'<line x1="{lx:.1f}" y1="18" x2="{lx:.1f}" y2="46" stroke="#c0392b" stroke-width="1.5"/>')
    body.append(f'<text x="{lx:.1f}" y="58" {FONT} font-size="9.5" fill="#c0392b" text-anchor="middle">{_esc(limit_label)}</text>')
    return _frame(width, height + 12, title, body, [], title)
