"""Charts of evaluation reports, as PNG bytes, to compare a candidate model with the active one.

matplotlib is imported inside :func:`render_charts` because it takes longer to import than
everything else the command line needs. Each chart is its own ``Figure`` (never pyplot),
so charts can be drawn from several threads at once without sharing state.
"""

from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 100


def render_charts(reports: Mapping[str, dict]) -> dict[str, bytes]:
    """Draw ``reports`` (display name -> :func:`~classifier.evaluation.evaluation_report`).

    Returns PNG bytes for "precision_recall", "scores" and "calibration"; every report gets
    the same colour in each chart.
    """
    if not reports:
        raise ValueError("no reports to draw")
    # Names are our own version names, but a "$" would still start matplotlib's math mode.
    named = {name.replace("$", r"\$"): report for name, report in reports.items()}
    return {
        "precision_recall": _png(_precision_recall(named)),
        "scores": _png(_scores(named)),
        "calibration": _png(_calibration(named)),
    }


def _precision_recall(reports: Mapping[str, dict]) -> "Figure":
    from matplotlib.figure import Figure

    first = next(iter(reports.values()))
    names = ["any", *(name for name in first["labels"] if name != "any")]
    columns = 4
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(3 * columns, 2.6 * rows), dpi=DPI, layout="constrained")
    axes = figure.subplots(rows, columns, sharex=True, sharey=True, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        ax.set_title("any (combined score)" if name == "any" else name, fontsize=10)
        for colour, report in enumerate(reports.values()):
            curve = report["curves"]["pr"].get(name)
            if curve:
                ax.plot(curve["recall"], curve["precision"], color=f"C{colour}", linewidth=1.2)
        if not ax.lines:
            ax.text(0.5, 0.5, "not enough examples", ha="center", va="center", fontsize=9,
                    color="grey", transform=ax.transAxes)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    for ax in axes[-columns:]:
        ax.set_xlabel("recall")
    for ax in axes[::columns]:
        ax.set_ylabel("precision")
    _legend(figure, reports)
    return figure


def _scores(reports: Mapping[str, dict]) -> "Figure":
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5 * len(reports), 3.2), dpi=DPI, layout="constrained")
    axes = figure.subplots(1, len(reports), sharey=True, squeeze=False).ravel()
    for ax, (name, report) in zip(axes, reports.items()):
        histogram, decisions = report["curves"]["scores"], report["decisions"]
        edges = histogram["edges"]
        # Shares within each class, since harmful comments are far fewer than fine ones.
        for kind, colour in (("fine", "tab:green"), ("harmful", "tab:red")):
            counts = histogram[kind]
            total = sum(counts) or 1
            ax.stairs([c / total for c in counts], edges, color=colour, linewidth=1.5,
                      label=f"{kind} ({sum(counts)})")
        combined = decisions["policy"]["rules"]["any"]
        for threshold, style, label in ((combined["hold_at"], ":", "hold from"),
                                        (combined["reject_at"], "--", "reject from")):
            if threshold is None:
                continue
            ax.axvline(threshold, color="black", linestyle=style, linewidth=1,
                       label=f"{label} {threshold:g}")
        ax.set_title(name, fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_xlabel("combined score")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("share of class")
    return figure


def _calibration(reports: Mapping[str, dict]) -> "Figure":
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5, 4.2), dpi=DPI, layout="constrained")
    ax = figure.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
    for colour, (name, report) in enumerate(reports.items()):
        calibration = report["calibration"]
        filled = [b for b in calibration["bins"] if b["count"]]
        ece = calibration["ece"]
        label = f"{name} (ECE {ece:.3f})" if ece is not None else name
        ax.plot([b["mean_score"] for b in filled], [b["harmful_rate"] for b in filled],
                marker="o", markersize=4, color=f"C{colour}", label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("mean combined score in bin")
    ax.set_ylabel("share harmful")
    ax.set_title("calibration", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return figure


def _legend(figure: "Figure", reports: Mapping[str, dict]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=f"C{i}") for i in range(len(reports))]
    figure.legend(handles, list(reports), loc="outside lower center", ncols=min(len(reports), 3),
                  fontsize=9)


def _png(figure: "Figure") -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()
