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
from django.utils.translation import gettext_lazy

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


@dataclass(frozen=True)
class Turnout:
    label: str  # the date
    title: str
    invited: int
    said_yes: int
    came: int

    @property
    def text(self) -> str:
        return _(
            "%(title)s, %(date)s: %(invited)s invited, %(said_yes)s said yes, %(came)s came"
        ) % {
            "title": self.title,
            "date": self.label,
            "invited": self.invited,
            "said_yes": self.said_yes,
            "came": self.came,
        }


# The three bars of a meeting, told apart by their fill as well as by their place, so the
# chart reads without colour: an outline, a hatching, a solid bar.
TURNOUT_BARS = (
    ("invited", gettext_lazy("invited")),
    ("said_yes", gettext_lazy("said yes")),
    ("came", gettext_lazy("came")),
)


def round_up(top: int) -> int:
    """A round number at or over `top`, for the top gridline."""
    for step in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if top <= step * 4:
            return max(-(-top // step) * step, step)
    return top


def turnout_chart(
    meetings: Sequence[Turnout], *, title: str, chart_id: str, width: int = 480, height: int = 220
) -> SafeString:
    """Invited, said yes and came for each meeting, as three bars side by side, with what
    came written over its bar and the date under each meeting.

    As with `rate_chart`, every figure is in the description and in each bar's title."""
    left, right, top, bottom = 36, 8, 30, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    high = round_up(max((m.invited for m in meetings), default=0) or 1)
    slot = plot_w / max(len(meetings), 1)
    bar = min(slot * 0.8 / 3, 14)

    def y(value: int) -> float:
        return round(top + plot_h * (1 - value / high), 1)

    def x(i: int, k: int) -> float:
        return round(left + i * slot + (slot - 3 * bar) / 2 + k * bar, 1)

    grid = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="grid"/>'
        '<text x="{}" y="{}" class="axis" text-anchor="end">{}</text>',
        ((left, width - right, y(v), y(v), left - 6, y(v) + 4, v) for v in (0, high // 2, high)),
    )
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" class="{}"{}><title>{}: {} {}</title></rect>',
        (
            (
                x(i, k),
                y(getattr(m, field)),
                round(bar - 1, 1),
                round(plot_h * getattr(m, field) / high, 1),
                f"bar-{field}",
                format_html(' fill="url(#{}-hatch)"', chart_id) if field == "said_yes" else "",
                m.label,
                getattr(m, field),
                words,
            )
            for i, m in enumerate(meetings)
            for k, (field, words) in enumerate(TURNOUT_BARS)
        ),
    )
    came = format_html_join(
        "",
        '<text x="{}" y="{}" class="axis" text-anchor="middle">{}</text>',
        ((round(x(i, 2) + bar / 2, 1), y(m.came) - 4, m.came) for i, m in enumerate(meetings)),
    )
    # Every other date when they would collide on a phone, ending on the latest.
    every = 1 if len(meetings) <= 6 else 2
    labels = format_html_join(
        "",
        '<text x="{}" y="{}" class="axis" text-anchor="middle">{}</text>',
        (
            (round(left + (i + 0.5) * slot, 1), height - 8, m.label)
            for i, m in enumerate(meetings)
            if (len(meetings) - 1 - i) % every == 0
        ),
    )
    legend = format_html_join(
        "",
        '<rect x="{}" y="6" width="12" height="12" class="bar-{}"{}/>'
        '<text x="{}" y="16" class="axis">{}</text>',
        (
            (
                left + n * 110,
                field,
                format_html(' fill="url(#{}-hatch)"', chart_id) if field == "said_yes" else "",
                left + n * 110 + 16,
                words,
            )
            for n, (field, words) in enumerate(TURNOUT_BARS)
        ),
    )
    description = "; ".join(m.text for m in meetings) or _("No meetings yet.")
    return format_html(
        '<svg class="chart turnout" viewBox="0 0 {} {}" role="img"'
        ' aria-labelledby="{}-title {}-desc">'
        '<title id="{}-title">{}</title><desc id="{}-desc">{}</desc>'
        '<defs><pattern id="{}-hatch" width="4" height="4" patternUnits="userSpaceOnUse"'
        ' patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="4" class="hatch"/>'
        "</pattern></defs>"
        "{}{}{}{}{}</svg>",
        width,
        height,
        chart_id,
        chart_id,
        chart_id,
        title,
        chart_id,
        description,
        chart_id,
        legend,
        grid,
        bars,
        came,
        labels,
    )
