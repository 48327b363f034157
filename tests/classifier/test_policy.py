"""Decision policies: presets, rules written on a command line, and the same decision for
one comment and for a whole evaluation set."""

import numpy as np
import pytest

from classifier.model import LABELS
from classifier.policy import POLICY_KEYS, PRESETS, Rule, parse_rule, preset


@pytest.mark.parametrize("spec, rule", [
    ("publish", Rule()), ("hold:0.6", Rule(0.6, None)), ("reject:0.95", Rule(None, 0.95)),
    ("hold:0.4,reject:0.95", Rule(0.4, 0.95)), (" HOLD:.5 ", Rule(0.5, None)),
    ("reject:1", Rule(None, 1.0))])
def test_rules_as_written_on_the_command_line(spec, rule):
    assert parse_rule(spec) == rule


@pytest.mark.parametrize("spec", ["", "hold", "hold:1.5", "hold:-0.1", "ban:0.5",
                                  "hold:0.9,reject:0.5", "hold:0.2,hold:0.3", "hold:nan"])
def test_a_rule_that_means_nothing_is_refused(spec):
    with pytest.raises(ValueError):
        parse_rule(spec)


def test_every_preset_has_a_rule_for_every_label_and_the_combined_score():
    for name in PRESETS:
        assert set(PRESETS[name]) == set(POLICY_KEYS)


def test_standard_never_rejects_insults_rudeness_or_swearing_on_their_own():
    standard = preset("standard")
    for label in ("toxicity", "insult", "obscene", "any"):
        assert standard.rule(label).reject_at is None
    assert standard.rule("obscene").hold_at is None  # swearing at nobody is published
    for label in ("spam", "threat", "severe_toxicity"):
        assert standard.rule(label).reject_at is not None


def test_presets_order_from_strict_to_permissive():
    for label in POLICY_KEYS:
        holds = [preset(name).rule(label).hold_at for name in ("strict", "standard",
                                                               "permissive")]
        assert [1.0 if h is None else h for h in holds] == sorted(1.0 if h is None else h
                                                                   for h in holds)


def test_an_unknown_label_or_preset_is_named_in_the_error():
    with pytest.raises(ValueError, match="hate"):
        preset("standard").with_overrides({"hate": Rule()})
    with pytest.raises(ValueError, match="lenient"):
        preset("lenient")


def test_an_override_equal_to_the_presets_rule_is_not_kept():
    standard = preset("standard")
    same = standard.with_overrides({"spam": standard.rule("spam")})
    assert same.overrides == {}
    back = standard.with_overrides({"spam": Rule()}).with_overrides({"spam": None})
    assert back.overrides == {}


def test_the_matrix_decisions_equal_the_one_by_one_decisions():
    rng = np.random.default_rng(0)
    proba = rng.random((500, len(LABELS) + 1)) ** 3
    for name in PRESETS:
        policy = preset(name).with_overrides({"insult": Rule(0.2, 0.7)})
        expected = [{None: 0, "hold": 1, "reject": 2}[policy.decide(
            dict(zip(LABELS, row[:-1])), row[-1])[0]] for row in proba]
        assert policy.actions(proba).tolist() == expected
