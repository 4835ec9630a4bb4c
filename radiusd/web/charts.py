"""SVG charts drawn by the server: no chart library, no script, nothing fetched by the browser.

Each function returns ``markupsafe.Markup`` for a template; every text in it is escaped.
Sizes use a viewBox so the chart scales to a phone's width.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from markupsafe import Markup, escape


def human_bytes(value: float | int | None) -> str:
    n = float(value or 0)
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"  # pragma: no cover


def utilisation_bar(percent: float, warning: float | None, *, label: str = "") -> Markup:
    """A 0-100 % bar; the warning threshold is a vertical mark, the bar turns red beyond it."""
    pct = max(0.0, min(100.0, float(percent)))
    over = warning is not None and pct >= warning
    colour = "#c0392b" if over else "#2e7d32"
    parts = [
        f'<svg class="bar" viewBox="0 0 200 16" role="img" aria-label="{escape(label)} {pct:.1f}% used">',
        '<rect x="0" y="2" width="200" height="12" rx="2" fill="#e3e7ea"/>',
        f'<rect x="0" y="2" width="{pct * 2:.1f}" height="12" rx="2" fill="{colour}"/>',
    ]
    if warning is not None:
        x = max(0.0, min(100.0, warning)) * 2
        parts.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="16" stroke="#222" stroke-width="2">'
            f"<title>warning at {warning:g}%</title></line>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (numbers and escaped text only)


def sparkline(values: Sequence[float], *, label: str = "") -> Markup:
    """A small line of recent values (requests/s between the dashboard's refreshes)."""
    if len(values) < 2:
        return Markup("")
    width, height = 120, 28
    top = max(values) or 1.0
    step = width / (len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (height - 4) * v / top:.1f}" for i, v in enumerate(values)
    )
    return Markup(  # noqa: S704 (numbers and escaped text only)
        f'<svg class="spark" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
        f'<polyline points="{points}" fill="none" stroke="#1f6fb2" stroke-width="1.5"/></svg>'
    )


def hbars(rows: Sequence[tuple[str, float]], *, unit: str = "", width: int = 320) -> Markup:
    """Horizontal bars with their labels and values (sessions per NAS, drops per reason)."""
    if not rows:
        return Markup('<p class="muted">none</p>')
    top = max(v for _, v in rows) or 1
    h = 20
    label_w = 120
    bar_w = width - label_w - 60
    out = [f'<svg class="hbars" viewBox="0 0 {width} {h * len(rows)}" role="img">']
    for i, (label, value) in enumerate(rows):
        y = i * h
        w = bar_w * value / top
        text = escape(label if len(label) <= 18 else label[:17] + "…")
        out.append(f'<text x="0" y="{y + 14}" font-size="12">{text}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="12" fill="#1f6fb2"/>')
        out.append(
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" font-size="12">{value:g}{escape(unit)}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 (numbers and escaped text only)


def usage_chart(days: Sequence[tuple[dt.date, int, int]], *, start: dt.date, end: dt.date) -> Markup:
    """Octets per day from ``start`` to ``end`` (inclusive): download (output) over upload
    (input) as stacked bars, a day without usage as a gap, the axis in GB/MB as fits."""
    by_day = {d: (i, o) for d, i, o in days}
    count = (end - start).days + 1
    width, height, left, bottom = 640, 200, 48, 20
    plot_w, plot_h = width - left - 4, height - bottom - 8
    top = max((i + o for i, o in by_day.values()), default=0) or 1
    step = plot_w / count
    out = [
        f'<svg class="usage" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="usage per day, {count} days">',
        f'<line x1="{left}" y1="{8 + plot_h}" x2="{width - 4}" y2="{8 + plot_h}" stroke="#888"/>',
    ]
    for frac in (0.5, 1.0):
        y = 8 + plot_h * (1 - frac)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 4}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="0" y="{y + 4:.1f}" font-size="10">{escape(human_bytes(top * frac))}</text>')
    for n in range(count):
        day = start + dt.timedelta(days=n)
        i, o = by_day.get(day, (0, 0))
        x = left + n * step
        hi = plot_h * i / top
        ho = plot_h * o / top
        tip = f"{day.isoformat()}: down {human_bytes(o)}, up {human_bytes(i)}"
        out.append(f"<g><title>{escape(tip)}</title>")
        out.append(
            f'<rect x="{x + 0.5:.1f}" y="{8 + plot_h - ho:.1f}" width="{max(step - 1, 1):.1f}" '
            f'height="{ho:.1f}" fill="#1f6fb2"/>'
        )
        out.append(
            f'<rect x="{x + 0.5:.1f}" y="{8 + plot_h - ho - hi:.1f}" width="{max(step - 1, 1):.1f}" '
            f'height="{hi:.1f}" fill="#f39c12"/></g>'
        )
        if n % max(1, count // 6) == 0:
            out.append(
                f'<text x="{x:.1f}" y="{height - 4}" font-size="10">{escape(day.strftime("%m-%d"))}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 (numbers and escaped text only)
