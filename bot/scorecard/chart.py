"""The scorecard's chart: one PNG with the response-time trend, the on-time closure rate and incidents by vector.

Rendered off-screen (Agg) on an opaque light background with dark text, so it reads the same in Slack's
light and dark themes. It only draws what the service computed.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from bot.scorecard.blocks import vector_label, vectors_by_count
from bot.scorecard.service import MEASURES, Scorecard

if TYPE_CHECKING:
    from matplotlib.axes import Axes

BACKGROUND = "#f4f4f2"
INK = "#1d1c1d"
GRID = "#c8c8c4"
# Mid-tone, colour-blind-safe (Okabe-Ito), each distinct in lightness too.
SERIES_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7")
BAR_COLOUR = "#0072b2"
WIDTH_INCHES, HEIGHT_INCHES, DPI = 13.0, 4.2, 100


def render(card: Scorecard) -> bytes:
    """The PNG bytes (1300 x 420 px)."""
    # Imported here: matplotlib takes about half a second to import, and only a process that draws pays it.
    import matplotlib

    matplotlib.use("Agg")  # no display, ever: the bot runs headless
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(WIDTH_INCHES, HEIGHT_INCHES), dpi=DPI, facecolor=BACKGROUND, layout="constrained")
    FigureCanvasAgg(figure)
    trend_axes, closure_axes, vector_axes = figure.subplots(1, 3, width_ratios=(1.3, 1.0, 1.0))
    keys = [point.key for point in card.trend]
    positions = list(range(len(keys)))

    for measure, colour in zip(MEASURES, SERIES_COLOURS):
        hours = [point.medians[measure.key] / 3600 if point.medians[measure.key] is not None else float("nan")
                 for point in card.trend]
        trend_axes.plot(positions, hours, marker="o", color=colour, linewidth=2, label=measure.label)
    trend_axes.set_ylim(bottom=0)
    _style(trend_axes, "Median response times (hours)", keys, empty=not keys)
    if keys:
        trend_axes.legend(fontsize=8, facecolor=BACKGROUND, edgecolor=GRID, labelcolor=INK)

    shares = [point.on_time_share * 100 if point.on_time_share is not None else 0.0 for point in card.trend]
    closure_axes.bar(positions, shares, color=BAR_COLOUR)
    closure_axes.set_ylim(0, 110)
    for position, point, share in zip(positions, card.trend, shares):
        label = f"{point.on_time_share:.0%}" if point.on_time_share is not None else "none done"
        closure_axes.annotate(label, (position, share), xytext=(0, 3), textcoords="offset points", ha="center",
                              fontsize=8, color=INK)
    _style(closure_axes, "Actions closed on time (%)", keys, empty=not keys)

    vectors = vectors_by_count(card.current.by_vector)
    names = [vector_label(vector) for vector, _ in vectors]
    vector_axes.barh(range(len(vectors)), [count for _, count in vectors], color=BAR_COLOUR)
    vector_axes.set_yticks(range(len(vectors)), names)
    vector_axes.invert_yaxis()
    vector_axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    _style(vector_axes, f"Incidents by vector ({card.period.label})", None, empty=not vectors)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor=BACKGROUND)
    return buffer.getvalue()


def _style(axes: Axes, title: str, keys: list[str] | None, *, empty: bool) -> None:
    axes.set_facecolor(BACKGROUND)
    axes.set_title(title, color=INK, fontsize=11)
    axes.tick_params(colors=INK, labelsize=8)
    axes.grid(True, color=GRID, linewidth=0.6, axis="y" if keys is not None else "x")
    axes.set_axisbelow(True)
    for spine in axes.spines.values():
        spine.set_color(GRID)
    if keys is not None:
        axes.set_xticks(range(len(keys)), keys)
    if empty:
        axes.text(0.5, 0.5, "No incidents in this period", ha="center", va="center", color=INK, transform=axes.transAxes)


def alt_text(card: Scorecard) -> str:
    """What the chart shows, in words: the upload's title, read by screen readers."""
    current = card.current
    contain = current.durations["contain"].median
    share = current.follow_through.on_time_share
    top = next(iter(vectors_by_count(current.by_vector)), None)
    parts = [f"Security scorecard chart, {card.period.label}: {current.incidents} incidents",
             f"median time to contain {contain / 3600:.1f} h" if contain is not None else "no containment times",
             f"{share:.0%} of actions closed on time" if share is not None else "no actions closed yet"]
    if top is not None:
        parts.append(f"most common vector {vector_label(top[0]).lower()} ({top[1]})")
    return "; ".join(parts)
