"""Counts over time as a small SVG line chart, drawn on the server (pure: data in, markup out).

Presentation attributes only (no ``style``): the console's Content-Security-Policy allows
no inline styles.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

__all__ = ["PALETTE", "hourly_chart"]

PALETTE = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989")
_W, _H, _LEFT, _BOTTOM, _TOP = 640, 200, 44, 24, 10


def _nice_max(value: int) -> int:
    for step in (1, 2, 5):
        for power in range(0, 12):
            top = step * 10**power
            if top >= value:
                return top
    return value


def hourly_chart(start: datetime, series: dict[str, list[int]], title: str) -> str:
    """One polyline per channel over equal hourly slots, with a legend and hour ticks."""
    hours = max((len(v) for v in series.values()), default=24)
    top = _nice_max(max((max(v) for v in series.values() if v), default=0)) or 1
    plot_w, plot_h = _W - _LEFT - 8, _H - _BOTTOM - _TOP

    def x(i: int) -> float:
        return _LEFT + plot_w * i / max(1, hours - 1)

    def y(n: int) -> float:
        return _TOP + plot_h * (1 - n / top)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_W} {_H + 20 * len(series)}" '
        f'role="img" aria-label="{escape(title)}" font-family="sans-serif">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{_LEFT}" y1="{y(0)}" x2="{_W - 8}" y2="{y(0)}" stroke="#888"/>',
        f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{y(0)}" stroke="#888"/>',
        f'<text x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end" font-size="11">{top}</text>',
        f'<text x="{_LEFT - 4}" y="{y(0)}" text-anchor="end" font-size="11">0</text>',
    ]
    for i in range(0, hours, 6):
        label = (start + timedelta(hours=i)).strftime("%H:00")
        parts.append(
            f'<text x="{x(i):.1f}" y="{_H - 6}" text-anchor="middle" font-size="11">{label}</text>'
        )
    for n, (name, counts) in enumerate(sorted(series.items())):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(c):.1f}" for i, c in enumerate(counts))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}">'
            f"<title>{escape(name)}: {sum(counts)}</title></polyline>"
        )
        legend_y = _H + 14 + 20 * n
        parts.append(
            f'<rect x="{_LEFT}" y="{legend_y - 9}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{_LEFT + 18}" y="{legend_y + 1}" font-size="12">'
            f"{escape(name)} ({sum(counts)})</text>"
        )
    if not series:
        parts.append(
            f'<text x="{_W / 2}" y="{_H / 2}" text-anchor="middle" font-size="13">'
            "지난 24시간 동안 시도가 없습니다 (no attempts)</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
