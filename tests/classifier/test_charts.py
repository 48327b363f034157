"""Charts render to small PNGs from evaluation reports, without matplotlib at import time."""

import subprocess
import sys

import numpy as np
import pytest

from classifier.charts import render_charts
from classifier.evaluation import evaluation_report
from classifier.model import LABELS
from classifier.policy import Policy, Rule
from tests.conftest import ROOT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHARTS = {"precision_recall", "scores", "calibration"}


def combined(hold_at, reject_at):
    """The same thresholds for every label (``a`` and ``b`` are the small tests') and the
    combined score."""
    return Policy("test", {key: Rule(hold_at, reject_at)
                           for key in ("a", "b", *LABELS, "any")})


def report(seed, *, signal=0.4, policy=None):
    rng = np.random.default_rng(seed)
    y = (rng.random((1500, len(LABELS))) < 0.1).astype(int)
    y[rng.random(y.shape) < 0.05] = -1
    y[:, LABELS.index("threat")] = 0  # a label without positives gets an empty panel
    label_scores = np.clip(signal * (y == 1) + (1 - signal) * rng.random(y.shape), 0, 1)
    proba = np.column_stack([label_scores, label_scores.max(axis=1)])
    return evaluation_report(proba, y, LABELS, policy=policy or combined(0.2, 0.8))


@pytest.fixture(scope="module")
def reports():
    return {"candidate 20261128T120000": report(1, signal=0.6),
            "active 20261101T090000": report(2, policy=combined(0.3, 0.9))}


def test_each_chart_is_a_small_png(reports):
    charts = render_charts(reports)
    assert set(charts) == CHARTS
    for name, png in charts.items():
        assert png.startswith(PNG_SIGNATURE), name
        assert len(png) < 150_000, (name, len(png))


def test_different_reports_draw_different_charts(reports):
    one = render_charts({"model": reports["candidate 20261128T120000"]})
    other = render_charts({"model": reports["active 20261101T090000"]})
    for name in CHARTS:
        assert one[name] != other[name], name


def test_names_with_a_dollar_sign_are_plain_text(reports):
    charts = render_charts({"cost $5 model": reports["active 20261101T090000"]})
    assert all(png.startswith(PNG_SIGNATURE) for png in charts.values())


def test_no_reports_is_refused():
    with pytest.raises(ValueError):
        render_charts({})


def test_importing_the_classifier_does_not_import_matplotlib():
    code = ("import sys, classifier.evaluation, classifier.charts; "
            "assert 'matplotlib' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
