"""How scores become a decision under a site's policy, and the reasons it gives."""

from classifier import CommentScore
from classifier.policy import Rule, preset
from service.comments.models import CommentStatus
from service.scoring.service import decide

STANDARD = preset("standard")
QUIET = {"toxicity": 0.01, "severe_toxicity": 0.0, "insult": 0.01, "threat": 0.0,
         "identity_attack": 0.0, "obscene": 0.01, "spam": 0.0}


def test_a_published_comment_lists_no_reasons():
    status, reasons = decide(CommentScore(0.05, QUIET), STANDARD)
    assert status is CommentStatus.APPROVED and reasons == []


def test_swearing_at_nobody_is_published_under_standard_and_held_under_strict():
    swearing = CommentScore(0.9, {**QUIET, "obscene": 0.97})
    assert decide(swearing, STANDARD) == (CommentStatus.APPROVED, [])
    status, reasons = decide(swearing, preset("strict"))
    assert status is CommentStatus.PENDING_REVIEW
    assert [(r["label"], r["action"]) for r in reasons] == [("obscene", "hold"), ("any", "hold")]


def test_an_insult_is_held_and_never_rejected_under_standard_however_sure():
    status, reasons = decide(CommentScore(0.999, {**QUIET, "insult": 0.999,
                                                  "toxicity": 0.999}), STANDARD)
    assert status is CommentStatus.PENDING_REVIEW
    assert {r["action"] for r in reasons} == {"hold"}


def test_a_rejection_names_the_rule_that_fired_first():
    scores = {**QUIET, "threat": 0.95, "toxicity": 0.7}
    status, reasons = decide(CommentScore(0.97, scores), STANDARD)
    assert status is CommentStatus.REJECTED
    threat = STANDARD.rule("threat")
    assert reasons[0] == {"label": "threat", "score": 0.95, "action": "reject",
                          "threshold": "reject_at", "value": threat.reject_at}
    assert reasons[1]["label"] == "toxicity" and reasons[1]["action"] == "hold"


def test_a_site_rule_replaces_the_presets_for_that_label_only():
    policy = STANDARD.with_overrides({"insult": Rule(0.3, 0.9)})
    status, reasons = decide(CommentScore(0.95, {**QUIET, "insult": 0.92}), policy)
    assert status is CommentStatus.REJECTED and reasons[0]["value"] == 0.9
    assert policy.rule("spam") == STANDARD.rule("spam")


def test_a_language_the_model_never_learned_is_held_not_published():
    status, reasons = decide(CommentScore(0.01, QUIET), STANDARD, unsupported_language=True)
    assert status is CommentStatus.PENDING_REVIEW
    assert reasons == [{"label": "language", "score": None, "action": "hold",
                        "threshold": "unsupported_language", "value": None}]


def test_scores_are_kept_as_the_model_gives_them_not_rounded_to_a_cap():
    nearly_sure, surer = CommentScore(0.99991, QUIET), CommentScore(0.999991, QUIET)
    policy = STANDARD.with_overrides({"any": Rule(None, 0.9999)})
    assert decide(nearly_sure, policy)[1][0]["score"] == 0.99991
    assert decide(surer, policy)[1][0]["score"] == 0.999991
