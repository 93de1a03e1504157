"""Server-rendered SVG charts for the admin pages: no script, no chart library, readable
without colour (each series also has a legend entry and every mark a <title> tooltip)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

HUMAN = "#2563eb"
MACHINE = "#f59e0b"
UNKNOWN = "#9ca3af"
GRANTED = "#16a34a"
REFUSED = "#dc2626"
NEVER = "#9ca3af"
TOP = 50  # room above the plot for the title and the legend
PALETTE = ("#2563eb", "#16a34a", "#9333ea", "#f59e0b", "#dc2626", "#0891b2", "#4b5563")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    color: str
    values: Sequence[float]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = step * magnitude
        if top >= value:
            return float(top)
    return float(value)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}".rstrip("0")


def _frame(title: str, width: int, height: int, body: list[str], legend: list[Series]) -> Markup:
    items = []
    x = 60
    for s in legend:
        items.append(
            f'<rect x="{x}" y="26" width="12" height="12" fill="{s.color}"/>'
            f'<text x="{x + 16}" y="36" font-size="12">{escape(s.name)}</text>'
        )
        x += 24 + 7 * len(s.name)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" aria-label="{escape(title)}">'
        f'<title>{escape(title)}</title><text x="10" y="16" font-size="14" font-weight="600">'
        f"{escape(title)}</text>{''.join(items)}{''.join(body)}</svg>"
    )
    return Markup(svg)  # noqa: S704 - every text is escaped above


def _empty(width: int, height: int) -> str:
    return f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data yet</text>'


def _axes(
    labels: Sequence[str], top: float, width: int, height: int, left: int, bottom: int
) -> list[str]:
    plot_h = height - bottom - TOP
    parts = []
    for i in range(5):
        value = top * i / 4
        y = height - bottom - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#e5e7eb"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{_fmt(value)}</text>"
        )
    n = len(labels)
    if n:
        step = max(1, n // 8)
        plot_w = width - left - 10
        for i in range(0, n, step):
            x = left + plot_w * (i + 0.5) / n
            parts.append(
                f'<text x="{x:.1f}" y="{height - bottom + 16}" font-size="10" '
                f'text-anchor="middle">{escape(labels[i])}</text>'
            )
    return parts


def stacked_columns(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: int = 720,
    height: int = 260,
) -> Markup:
    """Columns per time bucket, each stacked from its series (e.g. human below machine)."""
    left, bottom = 56, 26
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    body = _axes(labels, top, width, height, left, bottom)
    plot_h = height - bottom - TOP
    plot_w = width - left - 10
    n = max(len(labels), 1)
    bar_w = min(max(plot_w / n * 0.7, 1), 48)
    for i, label in enumerate(labels):
        base = 0.0
        x = left + plot_w * (i + 0.5) / n - bar_w / 2
        for s in series:
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y = height - bottom - plot_h * (base + value) / top
            body.append(
                f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{s.color}"><title>{escape(label)} — '
                f"{escape(s.name)}: {_fmt(value)}</title></rect>"
            )
            base += value
    if not labels:
        body.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data yet</text>'
        )
    return _frame(title, width, height, body, list(series))


def lines(
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: int = 720,
    height: int = 260,
    top: float | None = None,
) -> Markup:
    """One polyline per series over shared x labels (e.g. consent coverage per day)."""
    left, bottom = 56, 26
    peak = max((v for s in series for v in s.values), default=0)
    top = top or _nice_max(peak)
    body = _axes(labels, top, width, height, left, bottom)
    plot_h = height - bottom - TOP
    plot_w = width - left - 10
    n = max(len(labels), 1)
    for s in series:
        points = []
        for i, value in enumerate(s.values):
            x = left + plot_w * (i + 0.5) / n
            y = height - bottom - plot_h * value / top
            points.append((x, y, value, labels[i]))
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _v, _l in points)
        body.append(f'<polyline fill="none" stroke="{s.color}" stroke-width="2" points="{path}"/>')
        for x, y, value, label in points:
            body.append(
                f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{s.color}">'
                f"<title>{escape(label)} — {escape(s.name)}: {_fmt(value)}</title></circle>"
            )
    if not labels:
        body.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data yet</text>'
        )
    return _frame(title, width, height, body, list(series))


def split_bar(
    title: str, parts: Sequence[tuple[str, float, str]], *, width: int = 720, height: int = 80
) -> Markup:
    """One horizontal bar split into parts (label, value, colour), e.g. sent by mode."""
    total = sum(v for _l, v, _c in parts)
    body = []
    x = 10.0
    usable = width - 20
    for label, value, color in parts:
        if value <= 0 or total <= 0:
            continue
        w = usable * value / total
        body.append(
            f'<rect class="mark" x="{x:.1f}" y="46" width="{w:.1f}" height="26" fill="{color}">'
            f"<title>{escape(label)}: {_fmt(value)} ({100 * value / total:.1f}%)</title></rect>"
        )
        text = f"{label} {100 * value / total:.0f}%"
        if w > 7 * len(text) + 8:
            body.append(
                f'<text x="{x + 4:.1f}" y="64" font-size="12" fill="#fff">{escape(text)}</text>'
            )
        x += w
    if total <= 0:
        body.append('<text x="10" y="64">nothing yet</text>')
    legend = [Series(label, color, [value]) for label, value, color in parts]
    return _frame(title, width, height, body, legend)
