"""Small charts drawn on the server as inline SVG: no JavaScript, nothing from a CDN, and
light enough for a weak signal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

# Ceilings for the vertical axis, so gridlines fall on round percentages.
CEILINGS = (0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1.0)


def percent(share: float) -> str:
    """A share as a whole percentage in the reader's language: 25% in English, 25 % in
    French."""
    return _("%(percent)s%%") % {"percent": f"{share * 100:.0f}"}


@dataclass(frozen=True)
class Point:
    # A week kept as the ISO date it started (contacts.lapse.summary.week_label) is shown
    # as the reader's language writes a day: "Dec 1", "1 déc.". Any other label as it is.
    label: str
    value: float  # a share, 0 to 1

    def __post_init__(self) -> None:
        try:
            day = dt.date.fromisoformat(self.label)
        except ValueError:
            return
        object.__setattr__(self, "label", date_format(day, "MONTH_DAY_FORMAT"))

    @property
    def percent(self) -> str:
        return percent(self.value)


def ceiling(values: Sequence[float]) -> float:
    top = max(values, default=0.0)
    return next((c for c in CEILINGS if top <= c), max(top, 1.0))


def rate_chart(
    points: Sequence[Point], *, title: str, chart_id: str, width: int = 480, height: int = 200
) -> SafeString:
    """A line of shares over time, with a dot per point and a label under every other one.

    Every figure is also in the SVG's description and in each dot's title, so a screen
    reader hears what a sighted reader sees."""
    left, right, top, bottom = 44, 16, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    high = ceiling([p.value for p in points])
    step = plot_w / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return round(left + i * step, 1)

    def y(value: float) -> float:
        return round(top + plot_h * (1 - value / high), 1)

    grid = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="grid"/>'
        '<text x="{}" y="{}" class="axis" text-anchor="end">{}</text>',
        (
            (left, width - right, y(share), y(share), left - 6, y(share) + 4, percent(share))
            for share in (0.0, high / 2, high)
        ),
    )
    line = " ".join(f"{x(i)},{y(p.value)}" for i, p in enumerate(points))
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="4" class="dot"><title>{}: {}</title></circle>',
        ((x(i), y(p.value), p.label, p.percent) for i, p in enumerate(points)),
    )
    # Every other label, ending on the latest (kept inside the frame), so they don't
    # collide on a phone.
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" class="axis" text-anchor="{}">{}</text>',
        (
            (x(i), height - 8, "end" if i == len(points) - 1 else "middle", p.label)
            for i, p in enumerate(points)
            if (len(points) - 1 - i) % 2 == 0
        ),
    )
    description = "; ".join(f"{p.label}: {p.percent}" for p in points)
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title {}-desc">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>'
        '{}<polyline points="{}" class="line"/>{}{}</svg>',
        width,
        height,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        description,
        grid,
        line,
        dots,
        labels,
    )
