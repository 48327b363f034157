"""Evaluation: how a model would moderate a labeled set, whether a candidate may replace the
active model, and which thresholds meet the moderation targets.

Everything here works on scores and labels only (no texts), and every report is plain JSON,
so it can be stored beside a model version and compared later with another one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from classifier.policy import Policy, Rule
from classifier.shared import harmful_truth

CALIBRATION_BINS = 10
SCORE_EDGES = 21
CURVE_POINTS = 100

# Metrics are stored rounded to 4 decimals, so this only absorbs float noise in comparisons.
_EPSILON = 1e-9

_METRIC_NAMES = {
    "roc_auc": "ROC-AUC",
    "pr_auc": "PR-AUC",
    "auto_approved_harmful_rate": "auto-approved harmful rate",
    "auto_rejected_fine_rate": "auto-rejected fine rate",
    "review_rate": "review rate",
}


def evaluation_report(proba: np.ndarray, y: np.ndarray, labels: Sequence[str], *,
                      policy: Policy) -> dict:
    """Measure ``proba`` (one column per label, then the combined score) against ``y``.

    Beyond ranking quality, the report says what the service would do with these scores
    under ``policy``, since that, not an AUC, is what moderators and commenters see.
    """
    proba, y = np.asarray(proba, dtype=float), np.asarray(y)
    labels = list(labels)
    if y.ndim != 2 or y.shape[1] != len(labels) or proba.shape != (len(y), len(labels) + 1):
        raise ValueError(f"expected proba of shape (n, {len(labels) + 1}) and y of shape "
                         f"(n, {len(labels)}), got {proba.shape} and {y.shape}")
    truth = np.column_stack([y, harmful_truth(y, labels)])
    names = [*labels, "any"]
    label_entries, curves = {}, {}
    for j, name in enumerate(names):
        known = truth[:, j] >= 0
        label_entries[name], curve = _label_metrics(truth[known, j], proba[known, j],
                                                    policy.rule(name))
        if curve:
            curves[name] = curve
    known = truth[:, -1] >= 0
    scores, harmful = proba[known, -1], truth[known, -1] == 1
    edges = np.linspace(0, 1, SCORE_EDGES)
    return {
        "rows": int(len(y)),
        "labels": label_entries,
        "decisions": _decisions(policy.actions(proba[known], tuple(labels)), harmful, policy),
        "calibration": _calibration(scores, harmful),
        "curves": {
            "pr": curves,
            "scores": {
                "edges": _rounded(edges),
                "harmful": np.histogram(scores[harmful], bins=edges)[0].tolist(),
                "fine": np.histogram(scores[~harmful], bins=edges)[0].tolist(),
            },
        },
    }


def _label_metrics(truth: np.ndarray, scores: np.ndarray,
                   rule: Rule) -> tuple[dict, dict | None]:
    # Here, not at the top: the service imports this module at start-up, and scikit-learn
    # takes a second to load.
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

    positives = int(truth.sum())
    entry: dict = {"rows": int(len(truth)), "positives": positives}
    if not 0 < positives < len(truth):
        return entry, None
    entry["roc_auc"] = _round(roc_auc_score(truth, scores))
    entry["pr_auc"] = _round(average_precision_score(truth, scores))
    for name, threshold in (("reject", rule.reject_at), ("review", rule.hold_at)):
        if threshold is None:
            continue
        predicted = scores >= threshold
        hits = int((predicted & (truth == 1)).sum())
        entry[f"precision_at_{name}"] = _round(_share(hits, int(predicted.sum())))
        entry[f"recall_at_{name}"] = _round(hits / positives)
    precision, recall, _ = precision_recall_curve(truth, scores)
    keep = np.unique(np.linspace(0, len(precision) - 1, CURVE_POINTS).round().astype(int))
    return entry, {"precision": _rounded(precision[keep]), "recall": _rounded(recall[keep])}


def _decisions(actions: np.ndarray, harmful: np.ndarray, policy: Policy) -> dict:
    """What ``policy`` did (``actions``: 0 publish, 1 hold, 2 reject) against the truth."""
    approved, review, rejected = actions == 0, actions == 1, actions == 2
    approved_harmful = int((approved & harmful).sum())
    rejected_fine = int((rejected & ~harmful).sum())
    return {
        "rows": int(len(actions)),
        "harmful": int(harmful.sum()),
        "auto_approved": int(approved.sum()),
        "auto_approved_harmful": approved_harmful,
        "auto_approved_harmful_rate": _round(_share(approved_harmful, int(approved.sum()))),
        "auto_rejected": int(rejected.sum()),
        "auto_rejected_fine": rejected_fine,
        "auto_rejected_fine_rate": _round(_share(rejected_fine, int(rejected.sum()))),
        "review": int(review.sum()),
        "review_rate": _round(_share(int(review.sum()), len(actions))),
        "harmful_missed_rate": _round(_share(approved_harmful, int(harmful.sum()))),
        "policy": policy.as_json(),
    }


def _calibration(scores: np.ndarray, harmful: np.ndarray) -> dict:
    """A reliability table: in each score bin, how often the comments really were harmful."""
    index = np.minimum((scores * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    bins, ece = [], 0.0
    for i in range(CALIBRATION_BINS):
        inside = index == i
        count = int(inside.sum())
        mean_score = float(scores[inside].mean()) if count else None
        harmful_rate = float(harmful[inside].mean()) if count else None
        if mean_score is not None and harmful_rate is not None:
            ece += count / len(scores) * abs(mean_score - harmful_rate)
        bins.append({"low": _round(i / CALIBRATION_BINS), "high": _round((i + 1) / CALIBRATION_BINS),
                     "count": count, "mean_score": _round(mean_score), "harmful_rate": _round(harmful_rate)})
    brier = float(np.mean((scores - harmful) ** 2)) if len(scores) else None
    return {"bins": bins, "ece": _round(ece) if len(scores) else None, "brier": _round(brier)}


@dataclass(frozen=True)
class Gate:
    """Whether a candidate model may replace the active one, and the evidence for it."""

    passed: bool
    reasons: list[str]
    checks: list[dict]
    skipped: list[str]
    basis: str = "every row of the evaluation set"

    def as_dict(self) -> dict:
        return asdict(self)


REAL, WRITTEN = "real", "written"
"""The two parts of an evaluation set a report can hold apart (``report["parts"]``): real
comments (imports, moderators' decisions) and the seed corpus's written examples."""


def gate_on_real_comments(candidate: dict, active: dict | None, *, tolerance: float,
                          min_positives: int = 20) -> Gate:
    """The gate, decided on the real comments of the evaluation set once they hold
    ``min_positives`` harmful ones, else on every row.

    Why: written examples are easier than real comments, and a gate on them held back a
    model that was clearly better on real ones. The reports hold their parts in
    ``report["parts"]`` (see :data:`REAL`)."""
    real = (candidate.get("parts") or {}).get(REAL)
    theirs = ((active or {}).get("parts") or {}).get(REAL)
    harmful = real["decisions"]["harmful"] if real else 0
    if active is None or real is None or theirs is None or harmful < min_positives:
        gate = compare_reports(candidate, active, tolerance=tolerance,
                               min_positives=min_positives)
        why = ("no real comments in it yet" if real is None else
               f"{harmful} harmful real comments, fewer than {min_positives}")
        return Gate(gate.passed, gate.reasons, gate.checks, gate.skipped,
                    basis=f"every row of the evaluation set ({why})")
    gate = compare_reports(real, theirs, tolerance=tolerance, min_positives=min_positives)
    return Gate(gate.passed, [f"on real comments: {reason}" for reason in gate.reasons],
                gate.checks, gate.skipped,
                basis=f"the {real['rows']:,} real comments of the evaluation set "
                      f"({harmful:,} harmful); written examples are reported, not gated")


def compare_reports(candidate: dict, active: dict | None, *, tolerance: float,
                    min_positives: int = 20) -> Gate:
    """Pass ``candidate`` unless it is worse than ``active`` by more than ``tolerance``.

    Labels with fewer than ``min_positives`` positives are skipped rather than checked: an
    AUC over a handful of examples moves by more than any sensible tolerance by chance.
    """
    if active is None:
        return Gate(passed=True, reasons=["no active model to compare with"], checks=[], skipped=[])
    if candidate["rows"] != active["rows"]:
        raise ValueError(f"reports cover different data ({candidate['rows']} and {active['rows']} "
                         f"rows): both models must be scored on the same evaluation set")
    checks, skipped = [], []
    for name, mine in candidate["labels"].items():
        theirs = active["labels"].get(name)
        if theirs is None:
            skipped.append(f"{name}: not scored by the active model")
            continue
        if mine["rows"] != theirs["rows"] or mine["positives"] != theirs["positives"]:
            raise ValueError(f"reports disagree on the {name} labels: both models must be "
                             f"scored on the same evaluation set")
        if mine["positives"] < min_positives:
            skipped.append(f"{name}: only {mine['positives']} positive examples "
                           f"(fewer than {min_positives})")
        elif "roc_auc" not in mine or "roc_auc" not in theirs:
            skipped.append(f"{name}: no negative examples")
        else:
            for metric in ("roc_auc", "pr_auc"):
                checks.append(_check(metric, name, mine[metric], theirs[metric],
                                     ok=mine[metric] >= theirs[metric] - tolerance - _EPSILON))
    # Fewer mistakes bought by sending more comments to review is no improvement either.
    for metric in ("auto_approved_harmful_rate", "auto_rejected_fine_rate", "review_rate"):
        mine, theirs = candidate["decisions"][metric], active["decisions"][metric]
        checks.append(_check(metric, None, mine, theirs, ok=mine <= theirs + tolerance + _EPSILON))
    reasons = [_reason(check, tolerance) for check in checks if not check["ok"]]
    return Gate(passed=not reasons, reasons=reasons, checks=checks, skipped=skipped)


def _check(metric: str, label: str | None, candidate: float, active: float, *, ok: bool) -> dict:
    return {"metric": metric, "label": label, "candidate": candidate, "active": active,
            "delta": _round(candidate - active), "ok": bool(ok)}


def _reason(check: dict, tolerance: float) -> str:
    subject = " ".join(filter(None, [check["label"], _METRIC_NAMES[check["metric"]]]))
    direction = "below" if check["delta"] < 0 else "above"
    return (f"{subject} {check['candidate']:.3f} is {abs(check['delta']):.3f} {direction} the "
            f"active model's {check['active']:.3f} (tolerance {tolerance:g})")


@dataclass(frozen=True)
class ThresholdProposal:
    """Thresholds that meet the moderation targets on a labeled set, and what they would do."""

    approve_below: float
    reject_at: float
    rows: int
    harmful: int
    approved_rate: float
    review_rate: float
    rejected_rate: float
    approved_harmful_rate: float
    rejected_precision: float
    feasible: bool
    notes: list[str]

    def as_dict(self) -> dict:
        return asdict(self)


def propose_thresholds(scores: np.ndarray, harmful: np.ndarray, *, min_rejected_precision: float,
                       max_approved_harmful: float) -> ThresholdProposal:
    """The widest automatic decisions that still meet both targets on these rows.

    ``approve_below`` is as high as it can be while at most ``max_approved_harmful`` of the
    approved comments are harmful; ``reject_at`` is as low as it can be while at least
    ``min_rejected_precision`` of the rejected ones are. Everything between goes to people.
    """
    scores = np.asarray(scores, dtype=float)
    harmful = np.asarray(harmful, dtype=bool)
    if scores.ndim != 1 or scores.shape != harmful.shape:
        raise ValueError("scores and harmful must be 1-d arrays of the same length")
    if len(scores) == 0:
        raise ValueError("cannot propose thresholds from no rows")
    if scores.min() < 0 or scores.max() > 1:
        raise ValueError("scores must lie between 0 and 1")

    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    harmful_below = np.concatenate([[0], np.cumsum(harmful[order])])  # harmful among the first k
    candidates = np.unique(np.concatenate([[0.0, 1.0], ordered]))
    below = np.searchsorted(ordered, candidates, side="left")  # rows with score < candidate
    n, total_harmful = len(scores), int(harmful.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        approved_share = np.where(below > 0, harmful_below[below] / below, 0.0)
        rejected_precision = (total_harmful - harmful_below[below]) / (n - below)

    notes = []
    approve_index = np.flatnonzero(approved_share <= max_approved_harmful)[-1]  # 0 always qualifies
    approve_below = _shortest(ordered, below[approve_index], candidates[approve_index])
    reachable = np.flatnonzero((below < n) & (rejected_precision >= min_rejected_precision))
    if len(reachable):
        reject_at = _shortest(ordered, below[reachable[0]], candidates[reachable[0]])
    else:
        reject_at = 1.0
        notes.append(f"no threshold reaches a rejected precision of {min_rejected_precision:g} on "
                     f"this data, so reject_at is 1.0 and nothing would be auto-rejected")
    if approve_below > reject_at:
        approve_below = reject_at
        notes.append("approve_below was above reject_at and is clamped to it, so nothing is "
                     "held for review")

    approved, rejected = scores < approve_below, scores >= reject_at
    approved_harmful_rate = _share(int((approved & harmful).sum()), int(approved.sum()))
    precision = _share(int((rejected & harmful).sum()), int(rejected.sum()))
    if approved_harmful_rate > max_approved_harmful:
        notes.append(f"after clamping, {approved_harmful_rate:.4f} of the approved comments are "
                     f"harmful, above the target of {max_approved_harmful:g}")
    return ThresholdProposal(
        approve_below=approve_below, reject_at=reject_at, rows=n, harmful=total_harmful,
        approved_rate=_rate(approved.mean()), review_rate=_rate((~approved & ~rejected).mean()),
        rejected_rate=_rate(rejected.mean()), approved_harmful_rate=_rate(approved_harmful_rate),
        rejected_precision=_rate(precision),
        feasible=bool(len(reachable)) and approved_harmful_rate <= max_approved_harmful,
        notes=notes,
    )


def _shortest(ordered: np.ndarray, below: int, threshold: float) -> float:
    """The shortest decimal (4 places when possible) that splits ``ordered`` where ``threshold`` does.

    Any t in (the highest score under ``threshold``, ``threshold``] puts the same rows on
    each side, so rounding within that gap keeps every guarantee measured on the data.
    """
    low = ordered[below - 1] if below > 0 else -math.inf
    for places in range(4, 17):
        rounded = round(math.floor(threshold * 10**places) / 10**places, places)
        if low < rounded <= threshold:
            return rounded
    return float(threshold)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _rate(value: float) -> float:
    return round(float(value), 4)


def _rounded(values: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in values]
