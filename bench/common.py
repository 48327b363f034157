"""Shared by the benchmarks: the texts to score and a small percentile helper."""

from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"
JIGSAW_TEST = SHARED / "jigsaw" / "test.c.400.csv"


def sample_texts() -> tuple[list[str], str]:
    """Real comments where ../shared is present (Jigsaw test.c), else the seed corpus."""
    if JIGSAW_TEST.exists():
        with open(JIGSAW_TEST, newline="", encoding="utf-8") as handle:
            texts = [row["comment_text"] for row in csv.DictReader(handle)]
        return texts, f"{len(texts)} Jigsaw test.c comments"
    texts = []
    for path in sorted((ROOT / "training_data").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as handle:
            texts += [row["text"] for row in csv.DictReader(handle)]
    return texts, f"{len(texts)} seed-corpus comments (../shared is absent)"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]
