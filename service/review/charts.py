"""The dashboard's charts, drawn by matplotlib as PNG (no script in the page).

Each chart is its own ``Figure`` (never pyplot), so requests can draw at once; matplotlib
is imported on the first chart, not at start-up.
"""

from __future__ import annotations

import io
from typing import Sequence

from service.review.dashboard import Bar

DPI = 100


def bar_chart(bars: Sequence[Bar], *, ylabel: str, share: bool = False,
              every: int = 1) -> bytes:
    """Bars with an axis, a value on each bar, and a label under every ``every``-th one.
    ``share``: the values are fractions, drawn as percentages on a 0-100% axis."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    values = [bar.value * 100 if share else bar.value for bar in bars]
    figure = Figure(figsize=(9, 2.8), dpi=DPI, layout="constrained")
    ax = figure.subplots()
    positions = list(range(len(bars)))
    drawn = ax.bar(positions, values, color="#3d6fb6", width=0.7)
    ax.bar_label(drawn, labels=[(f"{v:.0f}%" if share else f"{v:g}") if v else ""
                                for v in values], fontsize=8, padding=2)
    ax.set_xticks(positions[::every], [bar.label for bar in bars][::every], fontsize=8)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    if share:
        ax.set_ylim(0, 105)
        ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    else:
        ax.set_ylim(0, max(values, default=0) * 1.2 or 1)
        ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
