"""A timeline drawn as a bar chart (PNG) that reads on a phone: one bar per period, the peaks in
a stronger colour with their counts, dates on the axis, nothing else.

matplotlib draws it with its Agg backend (no display), through a `Figure` of its own rather
than pyplot's global state.
"""

from __future__ import annotations

import io
import threading
from datetime import timedelta

from matplotlib import dates as mdates
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import MaxNLocator

from retrieval import Timeline

WIDTH, HEIGHT, DPI = 1280, 960, 100
"""Pixels: Telegram shows photos up to 1280 wide; at a phone's width the labels still read."""
FONT = 26
TITLE_FONT = 32
BAR, PEAK, INK, GRID = "#9bb7d4", "#1d5fa6", "#333333", "#e3e3e3"
BAR_SHARE = 0.8
"""How much of its period a bar covers: the gaps tell bars apart."""
MAX_TITLE = 40
MAX_TICKS = 7
TICK_STEPS = (1, 2, 3, 4, 6, 12)
"""Every how many periods a date is written under the axis: the first that keeps to MAX_TICKS."""
_drawing = threading.Lock()  # matplotlib is not thread-safe; charts are drawn off the event loop


def draw_timeline(timeline: Timeline) -> bytes:
    """The chart of `timeline` (at least one period) as PNG bytes, WIDTH x HEIGHT pixels."""
    with _drawing:
        figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, facecolor="white",
                        layout=ConstrainedLayoutEngine(w_pad=0.3, h_pad=0.3))
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        _bars(axes, timeline)
        _style(axes, timeline)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()


def _bars(axes, timeline: Timeline) -> None:
    """One bar per period from its first day; the peaks darker, with their counts above them."""
    peaks = {period.start for period in timeline.peaks}
    for period in timeline.periods:
        days = (period.end - period.start).days + 1
        left = mdates.date2num(period.start + timedelta(days=days * (1 - BAR_SHARE) / 2))
        peak = period.start in peaks
        bar = axes.bar(left, period.stories, width=days * BAR_SHARE, align="edge", color=PEAK if peak else BAR)
        if peak:
            axes.bar_label(bar, padding=6, fontsize=FONT, color=INK, fontweight="bold")
    first, last = timeline.periods[0], timeline.periods[-1]
    margin = (last.end - last.start).days / 2  # half a period each side: no bar touches the edge
    axes.set_xlim(mdates.date2num(first.start) - margin, mdates.date2num(last.end) + 1 + margin)


def _style(axes, timeline: Timeline) -> None:
    """Dates below the bars, whole numbers at the left over faint lines, a title naming what is counted."""
    subject = timeline.subject if len(timeline.subject) <= MAX_TITLE else timeline.subject[:MAX_TITLE - 1] + "…"
    subject = subject.replace("$", r"\$")  # text between two $ would be read as mathtext (and may not parse)
    axes.set_title(f"{subject}: stories per {timeline.unit}", loc="left", fontsize=TITLE_FONT,
                   fontweight="bold", color=INK, pad=24)
    ticks, labels = _date_ticks(timeline)
    axes.set_xticks(ticks, labels)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True, min_n_ticks=2))
    axes.set_ylim(0, max(p.stories for p in timeline.periods) * 1.18)  # room for the peaks' counts
    axes.tick_params(labelsize=FONT, colors=INK, length=0, pad=10)
    axes.grid(axis="y", color=GRID, linewidth=1.5)
    axes.set_axisbelow(True)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    axes.spines["bottom"].set_color(INK)


def _date_ticks(timeline: Timeline) -> tuple[list[float], list[str]]:
    """A label under every period's bar, or every second, third... so that at most MAX_TICKS
    fit: 1987; Mar; 2 Mar (a week's Monday), with the year under the first and under each in
    a new year."""
    periods = timeline.periods
    step = next((n for n in TICK_STEPS if len(periods) <= n * MAX_TICKS), len(periods))
    shown = periods[::step]
    ticks = [mdates.date2num(p.start) + ((p.end - p.start).days + 1) / 2 for p in shown]
    labels = []
    for i, period in enumerate(shown):
        day = period.start
        label = str(day.year) if timeline.unit == "year" else f"{day:%b}" if timeline.unit == "month" \
            else f"{day.day} {day:%b}"
        if timeline.unit != "year" and (i == 0 or day.year != shown[i - 1].start.year):
            label += f"\n{day.year}"
        labels.append(label)
    return ticks, labels
