"""Evaluation reports, the promotion gate and threshold proposals, on numbers worked out by hand."""

import copy
import json

import numpy as np
import pytest

from classifier.evaluation import (
    Gate,
    ThresholdProposal,
    compare_reports,
    evaluation_report,
    gate_on_real_comments,
    propose_thresholds,
)
from classifier.model import LABELS
from classifier.policy import Policy, Rule

# Ten rows, two labels; the combined score (and both label columns) is SCORES.
SCORES = [0.05, 0.10, 0.15, 0.20, 0.40, 0.50, 0.60, 0.75, 0.80, 0.95]
Y = [[0, 0], [0, 0], [1, 0], [0, 0],   # approved (< 0.3): one of the four is harmful
     [0, 0], [0, 1],                   # held for review
     [-1, 0],                          # harmful unknown: left out of decisions
     [1, 1], [0, 0], [1, -1]]          # rejected (>= 0.7): one of the three is fine


def combined(hold_at, reject_at):
    """The same thresholds for every label (``a`` and ``b`` are the small tests') and the
    combined score."""
    return Policy("test", {key: Rule(hold_at, reject_at)
                           for key in ("a", "b", *LABELS, "any")})


def small_report(**overrides):
    scores = np.array(SCORES)
    proba = np.column_stack([scores, scores, scores])
    return evaluation_report(proba, np.array(Y), ["a", "b"], policy=combined(0.3, 0.7),
                             **overrides)


def test_decisions_counted_by_hand():
    decisions = small_report()["decisions"]
    assert decisions == {
        "rows": 9, "harmful": 4,
        "auto_approved": 4, "auto_approved_harmful": 1, "auto_approved_harmful_rate": 0.25,
        "auto_rejected": 3, "auto_rejected_fine": 1, "auto_rejected_fine_rate": 0.3333,
        "review": 2, "review_rate": 0.2222, "harmful_missed_rate": 0.25,
        "policy": combined(0.3, 0.7).as_json(),
    }


def test_label_metrics_by_hand():
    report = small_report()
    assert report["rows"] == 10
    a = report["labels"]["a"]
    # positives score 0.15, 0.75, 0.95 and beat 2, 5 and 6 of the six negatives: 13/18.
    assert a == {"rows": 9, "positives": 3, "roc_auc": 0.7222, "pr_auc": a["pr_auc"],
                 "precision_at_reject": 0.6667, "recall_at_reject": 0.6667,
                 "precision_at_review": 0.4, "recall_at_review": 0.6667}
    assert report["labels"]["b"]["rows"] == 9 and report["labels"]["b"]["positives"] == 2
    # 0.15, 0.50, 0.75, 0.95 against five fine rows: 2 + 4 + 4 + 5 of 20 pairs.
    assert report["labels"]["any"]["roc_auc"] == 0.75
    assert report["labels"]["any"]["positives"] == 4


def test_calibration_by_hand():
    calibration = small_report()["calibration"]
    bins = calibration["bins"]
    assert len(bins) == 10 and (bins[0]["low"], bins[-1]["high"]) == (0.0, 1.0)
    assert bins[1] == {"low": 0.1, "high": 0.2, "count": 2, "mean_score": 0.125, "harmful_rate": 0.5}
    assert bins[3] == {"low": 0.3, "high": 0.4, "count": 0, "mean_score": None, "harmful_rate": None}
    assert sum(b["count"] for b in bins) == 9
    assert calibration["ece"] == 0.3333  # 3.0 of absolute gaps, count-weighted, over 9 rows
    assert calibration["brier"] == 0.21  # 1.89 / 9


def test_curves_hold_what_the_charts_draw():
    report = small_report()
    curves = report["curves"]
    assert set(curves["pr"]) == {"a", "b", "any"}
    assert curves["pr"]["any"]["recall"][0] == 1.0
    histogram = curves["scores"]
    assert len(histogram["edges"]) == 21 and histogram["edges"][0] == 0 and histogram["edges"][-1] == 1
    assert (sum(histogram["harmful"]), sum(histogram["fine"])) == (4, 5)
    json.dumps(report, allow_nan=False)


def test_curves_are_downsampled():
    rng = np.random.default_rng(0)
    y = (rng.random((5000, 2)) < 0.3).astype(int)
    proba = rng.random((5000, 3))
    report = evaluation_report(proba, y, ["a", "b"], policy=combined(0.2, 0.8))
    curve = report["curves"]["pr"]["any"]
    assert 50 < len(curve["precision"]) == len(curve["recall"]) <= 100


def test_rows_with_unknown_labels_are_ignored():
    extra_scores = np.array([0.01, 0.99, 0.5])
    scores = np.concatenate([SCORES, extra_scores])
    y = np.vstack([Y, [[-1, -1], [-1, 0], [0, -1]]])
    report = evaluation_report(np.column_stack([scores] * 3), y, ["a", "b"],
                               policy=combined(0.3, 0.7))
    assert report["rows"] == 13
    expected = small_report()
    assert report["decisions"] == expected["decisions"]
    assert report["calibration"] == expected["calibration"]
    assert report["labels"]["any"] == expected["labels"]["any"]
    assert report["labels"]["a"]["rows"] == 10  # the last extra row is known for "a"


def test_a_label_with_one_class_has_counts_only():
    proba = np.column_stack([SCORES] * 3)
    y = np.array(Y)
    y[:, 1] = np.where(y[:, 1] == 1, 0, y[:, 1])
    report = evaluation_report(proba, y, ["a", "b"], policy=combined(0.3, 0.7))
    assert report["labels"]["b"] == {"rows": 9, "positives": 0}
    assert "b" not in report["curves"]["pr"]


def test_shapes_must_agree():
    with pytest.raises(ValueError, match="shape"):
        evaluation_report(np.zeros((3, 2)), np.zeros((3, 2)), ["a", "b"],
                          policy=combined(0.3, 0.7))


# The gate ------------------------------------------------------------------------------------

def realistic_report(seed=0, n=2000, policy=None):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, len(LABELS))) < 0.08).astype(int)
    y[rng.random((n, len(LABELS))) < 0.05] = -1
    label_scores = np.clip(0.45 * (y == 1) + 0.6 * rng.random(y.shape), 0, 1)
    proba = np.column_stack([label_scores, label_scores.max(axis=1)])
    return evaluation_report(proba, y, LABELS, policy=policy or combined(0.2, 0.8))


def test_no_active_model_passes():
    gate = compare_reports(realistic_report(), None, tolerance=0.01)
    assert gate == Gate(passed=True, reasons=["no active model to compare with"], checks=[], skipped=[])


def test_the_same_report_passes_with_every_check_recorded():
    report = realistic_report()
    gate = compare_reports(report, report, tolerance=0.0)
    assert gate.passed and gate.reasons == [] and gate.skipped == []
    assert len(gate.checks) == 2 * (len(LABELS) + 1) + 3  # and three decision rates
    assert all(check["ok"] and check["delta"] == 0 for check in gate.checks)
    json.dumps(gate.as_dict())


def test_worse_beyond_tolerance_fails_with_reasons():
    active = realistic_report()
    candidate = copy.deepcopy(active)
    active["labels"]["insult"]["pr_auc"] = 0.843
    candidate["labels"]["insult"]["pr_auc"] = 0.812
    candidate["labels"]["threat"]["roc_auc"] = active["labels"]["threat"]["roc_auc"] - 0.01  # within
    active["decisions"]["auto_approved_harmful_rate"] = 0.04
    candidate["decisions"]["auto_approved_harmful_rate"] = 0.052
    gate = compare_reports(candidate, active, tolerance=0.01)
    assert not gate.passed
    assert gate.reasons == [
        "insult PR-AUC 0.812 is 0.031 below the active model's 0.843 (tolerance 0.01)",
        "auto-approved harmful rate 0.052 is 0.012 above the active model's 0.040 (tolerance 0.01)",
    ]
    failed = [check for check in gate.checks if not check["ok"]]
    assert failed[0] == {"metric": "pr_auc", "label": "insult", "candidate": 0.812,
                         "active": 0.843, "delta": -0.031, "ok": False}
    assert failed[1]["label"] is None


def test_better_candidates_pass():
    active = realistic_report()
    candidate = copy.deepcopy(active)
    candidate["labels"]["any"]["roc_auc"] = 0.99
    candidate["decisions"]["auto_rejected_fine_rate"] = 0.0
    assert compare_reports(candidate, active, tolerance=0.0).passed


def test_labels_with_few_positives_are_skipped():
    active = realistic_report(n=300)
    candidate = copy.deepcopy(active)
    positives = active["labels"]["threat"]["positives"]
    assert positives < 30
    candidate["labels"]["threat"]["pr_auc"] = 0.0
    gate = compare_reports(candidate, active, tolerance=0.01, min_positives=30)
    assert gate.passed
    assert f"threat: only {positives} positive examples (fewer than 30)" in gate.skipped
    assert all(check["label"] != "threat" for check in gate.checks)


def _with_parts(written, real):
    """A report on written and real rows together, holding both apart as the pipeline does."""
    report = copy.deepcopy(written)
    report["parts"] = {"written": copy.deepcopy(written), "real": copy.deepcopy(real)}
    return report


def test_the_gate_is_decided_on_real_comments_once_there_are_enough():
    # Worse on the written examples, better on real comments: the model a newsroom wants.
    written, real = realistic_report(seed=1), realistic_report(seed=2, n=600)
    active = _with_parts(written, real)
    candidate = _with_parts(written, real)
    candidate["labels"]["any"]["roc_auc"] -= 0.05
    candidate["parts"]["written"]["labels"]["any"]["roc_auc"] -= 0.05
    candidate["parts"]["real"]["labels"]["any"]["roc_auc"] += 0.03
    assert not compare_reports(candidate, active, tolerance=0.01).passed  # on every row
    gate = gate_on_real_comments(candidate, active, tolerance=0.01)
    harmful = real["decisions"]["harmful"]
    assert gate.passed, gate.reasons
    assert gate.basis == (f"the 600 real comments of the evaluation set ({harmful} harmful); "
                          "written examples are reported, not gated")
    # Worse on real comments: held back, and the reason says where.
    candidate["parts"]["real"]["labels"]["any"]["roc_auc"] -= 0.06
    gate = gate_on_real_comments(candidate, active, tolerance=0.01)
    assert not gate.passed
    assert gate.reasons[0].startswith("on real comments: any ROC-AUC")


def test_too_few_harmful_real_comments_leave_the_gate_on_every_row():
    written = realistic_report(seed=1)
    few = realistic_report(seed=3, n=60)
    assert few["decisions"]["harmful"] < 20
    candidate, active = _with_parts(written, few), _with_parts(written, few)
    candidate["labels"]["any"]["roc_auc"] -= 0.05
    gate = gate_on_real_comments(candidate, active, tolerance=0.01)
    assert not gate.passed
    assert gate.basis == (f"every row of the evaluation set ({few['decisions']['harmful']} "
                          "harmful real comments, fewer than 20)")
    gate = gate_on_real_comments(realistic_report(), realistic_report(), tolerance=0.01)
    assert gate.passed and gate.basis == ("every row of the evaluation set "
                                          "(no real comments in it yet)")


def test_reports_over_different_rows_are_a_programming_error():
    with pytest.raises(ValueError, match="same evaluation set"):
        compare_reports(realistic_report(n=2000), realistic_report(n=1999), tolerance=0.01)


# Threshold proposals -----------------------------------------------------------------------

def check_proposal(scores, harmful, proposal, min_precision, max_harmful):
    """The targets hold on the data, and one more distinct score either way would break them."""
    approved = scores < proposal.approve_below
    assert harmful[approved].sum() <= max_harmful * approved.sum() + 1e-12
    assert np.isclose(proposal.approved_harmful_rate, harmful[approved].mean() if approved.any() else 0,
                      atol=5e-5)
    above = scores[scores >= proposal.approve_below]
    if proposal.approve_below < 1 and len(above):
        wider = scores <= above.min()
        assert harmful[wider].mean() > max_harmful
    if proposal.feasible:
        rejected = scores >= proposal.reject_at
        assert rejected.any() and harmful[rejected].mean() >= min_precision
        under = scores[scores < proposal.reject_at]
        if len(under):
            wider = scores >= under.max()
            assert harmful[wider].mean() < min_precision


@pytest.mark.parametrize("seed", range(30))
def test_proposals_meet_their_targets_exactly(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3000))
    scores = rng.beta(0.6, 2.5, n)
    if seed % 3 == 0:
        scores = scores.round(2)  # many ties
    harmful = rng.random(n) < scores
    min_precision, max_harmful = rng.uniform(0.6, 0.95), rng.uniform(0.01, 0.1)
    proposal = propose_thresholds(scores, harmful, min_rejected_precision=min_precision,
                                  max_approved_harmful=max_harmful)
    assert proposal.approve_below <= proposal.reject_at
    assert (proposal.rows, proposal.harmful) == (n, int(harmful.sum()))
    assert np.isclose(proposal.approved_rate + proposal.review_rate + proposal.rejected_rate, 1,
                      atol=2e-4)
    check_proposal(scores, harmful, proposal, min_precision, max_harmful)


def test_thresholds_have_four_decimals_unless_the_data_needs_more():
    scores = np.array([0.1, 0.1234092, 0.123416, 0.9])
    harmful = np.array([False, False, True, True])
    proposal = propose_thresholds(scores, harmful, min_rejected_precision=1.0,
                                  max_approved_harmful=0.0)
    # Both exact thresholds are 0.123416; 0.1234 would also approve or reject 0.1234092.
    assert proposal.approve_below == proposal.reject_at == 0.12341
    check_proposal(scores, harmful, proposal, 1.0, 0.0)

    scores = np.array([0.1, 0.2, 0.6666666, 0.9])
    proposal = propose_thresholds(scores, harmful, min_rejected_precision=1.0,
                                  max_approved_harmful=0.0)
    assert proposal.approve_below == proposal.reject_at == 0.6666
    assert (proposal.approved_rate, proposal.rejected_rate) == (0.5, 0.5)


def test_no_threshold_reaching_the_precision_rejects_nothing():
    proposal = propose_thresholds(np.array([0.1, 0.2, 0.3, 0.4]), np.array([True, False, True, False]),
                                  min_rejected_precision=0.9, max_approved_harmful=0.0)
    assert proposal == ThresholdProposal(
        approve_below=0.1, reject_at=1.0, rows=4, harmful=2, approved_rate=0.0, review_rate=1.0,
        rejected_rate=0.0, approved_harmful_rate=0.0, rejected_precision=0.0, feasible=False,
        notes=proposal.notes)
    assert proposal.notes == ["no threshold reaches a rejected precision of 0.9 on this data, "
                              "so reject_at is 1.0 and nothing would be auto-rejected"]


def test_approve_below_is_clamped_to_reject_at():
    proposal = propose_thresholds(np.array([0.1, 0.2, 0.3, 0.4]), np.array([False, False, True, True]),
                                  min_rejected_precision=1.0, max_approved_harmful=0.5)
    # Approving everything keeps harmful at 0.5 of the approved, but 0.3 and up can be rejected.
    assert (proposal.approve_below, proposal.reject_at) == (0.3, 0.3)
    assert (proposal.approved_rate, proposal.review_rate, proposal.rejected_rate) == (0.5, 0.0, 0.5)
    assert proposal.feasible and len(proposal.notes) == 1 and "clamped" in proposal.notes[0]
    assert proposal.as_dict()["approve_below"] == 0.3


def test_empty_input_is_refused():
    with pytest.raises(ValueError):
        propose_thresholds(np.array([]), np.array([], dtype=bool), min_rejected_precision=0.9,
                           max_approved_harmful=0.05)


def test_a_hundred_thousand_rows_get_a_proposal_within_its_bounds():
    rng = np.random.default_rng(1)
    scores = rng.random(100_000)
    harmful = rng.random(100_000) < scores ** 2
    proposal = propose_thresholds(scores, harmful, min_rejected_precision=0.9,
                                  max_approved_harmful=0.02)
    check_proposal(scores, harmful, proposal, 0.9, 0.02)


def test_sending_more_comments_to_review_is_no_improvement():
    active = realistic_report()
    candidate = copy.deepcopy(active)
    candidate["decisions"]["review_rate"] = active["decisions"]["review_rate"] + 0.2
    gate = compare_reports(candidate, active, tolerance=0.01)
    assert not gate.passed
    assert [reason.split(" 0")[0] for reason in gate.reasons] == ["review rate"]
