"""Inline SVG charts for the needs report: bars with interval whiskers, lines, a heat map.

Written by hand because the report must be one self-contained file that opens offline:
plotting libraries either load JavaScript from a CDN (Plotly, Vega) or are not dependencies
(matplotlib); these three chart types are a few dozen lines of SVG each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

FONT = "font-family='system-ui, sans-serif' font-size='12'"
BAR = "#3b6ea8"
WHISKER = "#1b2a3a"
MUTED = "#8a96a3"
BASELINE = "#a9bcd0"


@dataclass(frozen=True)
class Bar:
    """One bar: a label, its value and optionally an interval and a note (e.g. ``n=120``)."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None
    note: str = ""
    colour: str = BAR


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{value:.1%}"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _nice_max(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × a power of ten at or above ``value``."""
    if value <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(value))
    return next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= value)


def bar_chart(bars: Sequence[Bar], *, title: str, percent: bool = True,
              reference: float | None = None, width: int = 520) -> str:
    """Horizontal bars with interval whiskers and an optional dashed reference line."""
    label_w, note_w, row_h, top = 150, 110, 24, 30
    plot_w = width - label_w - note_w - 10
    height = top + row_h * max(len(bars), 1) + 30
    highs = [b.high if b.high is not None else b.value for b in bars] or [1.0]
    vmax = _nice_max(max(max(highs), reference or 0.0))

    def x(v: float) -> float:
        return label_w + plot_w * max(0.0, min(v, vmax)) / vmax

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>",
             f"<text x='0' y='16' {FONT} font-weight='bold'>{escape(title)}</text>"]
    for i, b in enumerate(bars):
        y = top + i * row_h
        parts.append(f"<text x='{label_w - 6}' y='{y + 15}' {FONT} text-anchor='end'>"
                     f"{escape(b.label[:24])}</text>")
        parts.append(f"<rect x='{label_w}' y='{y + 4}' width='{x(b.value) - label_w:.1f}' "
                     f"height='{row_h - 8}' fill='{b.colour}'><title>{escape(b.label)}: "
                     f"{_fmt(b.value, percent)}</title></rect>")
        if b.low is not None and b.high is not None:
            lo, hi, mid = x(b.low), x(b.high), y + row_h / 2
            parts.append(f"<path d='M{lo:.1f},{mid} H{hi:.1f} M{lo:.1f},{mid - 5} V{mid + 5} "
                         f"M{hi:.1f},{mid - 5} V{mid + 5}' stroke='{WHISKER}' "
                         "stroke-width='1.5' fill='none'/>")
        text = _fmt(b.value, percent) + (f"  {b.note}" if b.note else "")
        parts.append(f"<text x='{label_w + plot_w + 6}' y='{y + 15}' {FONT}>"
                     f"{escape(text)}</text>")
    axis_y = top + row_h * max(len(bars), 1)
    parts.append(f"<line x1='{label_w}' y1='{axis_y}' x2='{label_w + plot_w}' y2='{axis_y}' "
                 f"stroke='{MUTED}'/>")
    for frac in (0.0, 0.5, 1.0):
        parts.append(f"<text x='{label_w + plot_w * frac:.1f}' y='{axis_y + 16}' {FONT} "
                     f"text-anchor='middle' fill='{MUTED}'>{_fmt(vmax * frac, percent)}</text>")
    if reference is not None:
        rx = x(reference)
        parts.append(f"<line x1='{rx:.1f}' y1='{top - 4}' x2='{rx:.1f}' y2='{axis_y}' "
                     "stroke='#c0392b' stroke-dasharray='4 3'><title>overall "
                     f"{_fmt(reference, percent)}</title></line>")
    parts.append("</svg>")
    return "".join(parts)


def line_chart(points: Sequence[Bar], *, title: str, percent: bool = True,
               width: int = 520, height: int = 220) -> str:
    """A line over ordered labels (months) with a shaded interval band."""
    left, right, top, bottom = 60, 40, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    highs = [p.high if p.high is not None else p.value for p in points] or [1.0]
    vmax = _nice_max(max(highs))
    n = max(len(points) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + plot_w * i / n, top + plot_h * (1 - max(0.0, min(v, vmax)) / vmax)

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>",
             f"<text x='0' y='16' {FONT} font-weight='bold'>{escape(title)}</text>"]
    band = [p for p in points if p.low is not None and p.high is not None]
    if len(band) == len(points) and points:
        upper = [xy(i, p.high or 0.0) for i, p in enumerate(points)]
        lower = [xy(i, p.low or 0.0) for i, p in enumerate(points)][::-1]
        coords = " ".join(f"{a:.1f},{b:.1f}" for a, b in upper + lower)
        parts.append(f"<polygon points='{coords}' fill='{BAR}' fill-opacity='0.18'/>")
    line = " ".join(f"{a:.1f},{b:.1f}" for a, b in (xy(i, p.value)
                                                    for i, p in enumerate(points)))
    parts.append(f"<polyline points='{line}' fill='none' stroke='{BAR}' stroke-width='2'/>")
    step = max(1, math.ceil(len(points) / 6))  # at most 6 labels on the axis
    for i, p in enumerate(points):
        cx, cy = xy(i, p.value)
        parts.append(f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='3' fill='{BAR}'><title>"
                     f"{escape(p.label)}: {_fmt(p.value, percent)} {escape(p.note)}</title>"
                     "</circle>")
        if i % step == 0:
            parts.append(f"<text x='{cx:.1f}' y='{top + plot_h + 16}' {FONT} "
                         f"text-anchor='middle' fill='{MUTED}'>{escape(p.label)}</text>")
    for frac in (0.0, 0.5, 1.0):
        _, ty = xy(0, vmax * frac)
        parts.append(f"<text x='{left - 6}' y='{ty + 4:.1f}' {FONT} text-anchor='end' "
                     f"fill='{MUTED}'>{_fmt(vmax * frac, percent)}</text>")
    parts.append(f"<line x1='{left}' y1='{top + plot_h}' x2='{left + plot_w}' "
                 f"y2='{top + plot_h}' stroke='{MUTED}'/></svg>")
    return "".join(parts)


def heat_map(values: Sequence[Sequence[float]], *, rows: Sequence[str], cols: Sequence[str],
             title: str, row_title: str, col_title: str,
             notes: Sequence[Sequence[str]] | None = None, cell: int = 64) -> str:
    """A grid of cells shaded by value (white to blue), each labelled with its value."""
    left, top = 70, 50
    width = left + cell * len(cols) + 20
    height = top + cell * len(rows) + 40
    vmax = max((v for row in values for v in row), default=0.0) or 1.0
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
             f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(title)}'>",
             f"<text x='0' y='16' {FONT} font-weight='bold'>{escape(title)}</text>",
             f"<text x='{left + cell * len(cols) / 2}' y='{top - 20}' {FONT} "
             f"text-anchor='middle'>{escape(col_title)}</text>",
             f"<text x='14' y='{top + cell * len(rows) / 2}' {FONT} text-anchor='middle' "
             f"transform='rotate(-90 14 {top + cell * len(rows) / 2})'>{escape(row_title)}</text>"]
    for j, c in enumerate(cols):
        parts.append(f"<text x='{left + cell * j + cell / 2}' y='{top - 4}' {FONT} "
                     f"text-anchor='middle'>{escape(c)}</text>")
    for i, r in enumerate(rows):
        parts.append(f"<text x='{left - 8}' y='{top + cell * i + cell / 2 + 4}' {FONT} "
                     f"text-anchor='end'>{escape(r)}</text>")
        for j, v in enumerate(values[i]):
            shade = v / vmax
            red, green, blue = (int(255 - (255 - a) * shade) for a in (59, 110, 168))
            ink = "#ffffff" if shade > 0.55 else "#1b2a3a"
            note = notes[i][j] if notes is not None else ""
            parts.append(
                f"<rect x='{left + cell * j}' y='{top + cell * i}' width='{cell - 2}' "
                f"height='{cell - 2}' fill='rgb({red},{green},{blue})' stroke='#dde3ea'>"
                f"<title>{escape(r)}, {escape(cols[j])}: {v:,.0f} {escape(note)}</title></rect>"
                f"<text x='{left + cell * j + cell / 2 - 1}' y='{top + cell * i + cell / 2 + 4}'"
                f" {FONT} text-anchor='middle' fill='{ink}'>{v:,.0f}</text>")
    parts.append("</svg>")
    return "".join(parts)
