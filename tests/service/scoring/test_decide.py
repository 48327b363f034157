"""How a score becomes a decision, and which reasons the site and moderators see."""

import pytest

from classifier import CommentScore
from service.comments.models import CommentStatus
from service.scoring.service import decide, stored_probability
from service.sites.services import Thresholds

THRESHOLDS = Thresholds(approve_below=0.25, reject_at=0.99)
QUIET = {"toxicity": 0.1, "insult": 0.05, "threat": 0.0}


def test_an_approved_comment_lists_no_reasons_even_if_one_label_doubts_it():
    status, reasons = decide(CommentScore(0.2, {**QUIET, "insult": 0.3}), THRESHOLDS)
    assert status is CommentStatus.APPROVED and reasons == []


def test_a_held_comment_lists_the_labels_that_crossed_strongest_first():
    scores = {**QUIET, "toxicity": 0.6, "insult": 0.4}
    status, reasons = decide(CommentScore(0.7, scores), THRESHOLDS)
    assert status is CommentStatus.PENDING_REVIEW
    assert [(r["label"], r["threshold"]) for r in reasons] == [("toxicity", "approve_below"),
                                                               ("insult", "approve_below")]


def test_doubts_spread_over_labels_are_given_as_the_combined_score():
    status, reasons = decide(CommentScore(0.4, {**QUIET, "toxicity": 0.2, "insult": 0.2}),
                             THRESHOLDS)
    assert status is CommentStatus.PENDING_REVIEW
    assert reasons == [{"label": "any", "score": 0.4, "threshold": "approve_below",
                        "value": 0.25}]


def test_a_rejected_comment_says_which_threshold_each_label_crossed():
    scores = {**QUIET, "toxicity": 0.995, "insult": 0.5}
    status, reasons = decide(CommentScore(0.999, scores), THRESHOLDS)
    assert status is CommentStatus.REJECTED
    assert [(r["label"], r["threshold"]) for r in reasons] == [("toxicity", "reject_at"),
                                                               ("insult", "approve_below")]


@pytest.mark.parametrize("raw, stored", [(0.123456, 0.1235), (0.99994, 0.9999),
                                         (0.99996, 0.9999), (1 - 1e-9, 0.9999), (0.0, 0.0)])
def test_stored_probabilities_have_four_decimals_and_never_reach_one(raw, stored):
    assert stored_probability(raw) == stored
