"""One chart component for the admin and the dashboard: server-rendered SVG bars with real axes.

No JavaScript and no inline style (the Content-Security-Policy forbids both): presentation
attributes only. An empty series is drawn as a sentence, not as an empty frame.
"""

from __future__ import annotations

import html
import math

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

__all__ = ["bar_chart"]

WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 30


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above ``value`` (round axis ends)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(step * magnitude for step in (1, 2, 2.5, 5, 10) if step * magnitude >= value)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")


def bar_chart(title: str, points: list[tuple[str, float]], *, unit: str = "", colour: str = "#1f5f99") -> SafeString:
    """A bar chart of (label, value) points: y axis with three ticks, first/middle/last x labels, tooltips.

    :param unit: appended to values in the axis and tooltips (e.g. ``" ms"``, ``" credits"``).
    """
    values = [float(v or 0) for _, v in points]
    if not values or not any(values):
        return format_html(
            '<figure class="chart"><figcaption>{}</figcaption>'
            '<p class="chart-empty">No data for this period.</p></figure>',
            title,
        )
    top = _nice_ceiling(max(values))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(points)
    ticks = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#d0d7de"/>'
        '<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#545d68">{}</text>',
        (
            (LEFT, WIDTH - RIGHT, y, y, LEFT - 6, y + 4, _number(tick) + unit)
            for tick in (0, top / 2, top)
            for y in [round(TOP + plot_h - plot_h * tick / top, 1)]
        ),
    )
    shown = sorted({0, len(points) // 2, len(points) - 1})
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#545d68">{}</text>',
        ((round(LEFT + step * (i + 0.5), 1), HEIGHT - 10, points[i][0]) for i in shown),
    )
    # One bar per point (90 per chart on the 90-day usage page): built as one string, each text
    # escaped once. A format_html per bar (escaping every number too) was the largest single part
    # of that page's server time.
    escape = html.escape  # what django.utils.html.escape does, without its lazy-string wrapper
    width, fill, suffix = round(max(1.0, step - 2), 1), escape(colour), escape(unit)
    bars = mark_safe(  # noqa: S308 - every text part is escaped here; the rest are numbers
        "".join(
            f'<rect x="{round(LEFT + i * step + 1, 1)}" y="{round(TOP + plot_h - plot_h * value / top, 1)}" '
            f'width="{width}" height="{round(plot_h * value / top, 1)}" fill="{fill}">'
            f"<title>{escape(str(label))}: {_number(value)}{suffix}</title></rect>"
            for i, ((label, _), value) in enumerate(zip(points, values, strict=True))
        )
    )
    highest = _number(max(values)) + unit
    summary = f"{title}: {len(points)} values from {points[0][0]} to {points[-1][0]}, highest {highest}"
    return format_html(
        '<figure class="chart"><figcaption>{}</figcaption><svg role="img" aria-label="{}" viewBox="0 0 {} {}" '
        'width="{}" height="{}" preserveAspectRatio="xMinYMin meet">{}{}'
        '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#545d68"/>{}</svg></figure>',
        title,
        summary,
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        ticks,
        bars,
        LEFT,
        WIDTH - RIGHT,
        TOP + plot_h,
        TOP + plot_h,
        labels,
    )
