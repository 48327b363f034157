"""Decision policies: per label, the probability from which a comment is held or rejected.

A comment section exists for readers' criticism, mild swearing included; removing it silently
is the worst mistake a moderation service can make. So a policy says, label by label, what a
high score does: ``publish`` (nothing), ``hold`` (a moderator decides) or ``reject``. Each
label has its own thresholds because each head's precision differs: a spam or threat score
of 0.97 is nearly always right, an insult score of 0.97 is often a harsh word about a
minister. ``any`` is the combined score (the probability of any label).

Plain Python, used alike by the service (each site's policy), the evaluation and the
benchmarks, so the figures they print are the decisions the service takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Mapping

import numpy as np

from classifier.shared import LABELS

POLICY_KEYS: tuple[str, ...] = (*LABELS, "any")
"""What a policy has a rule for: every label, and ``any``, the combined score."""

HOLD, REJECT = "hold", "reject"


@dataclass(frozen=True)
class Rule:
    """From ``hold_at`` a comment waits for a moderator; from ``reject_at`` it is rejected.
    ``None`` means never; a rule with neither publishes whatever the score."""

    hold_at: float | None = None
    reject_at: float | None = None

    def __post_init__(self) -> None:
        for name in ("hold_at", "reject_at"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1; got {value}")
        if (self.hold_at is not None and self.reject_at is not None
                and self.hold_at > self.reject_at):
            raise ValueError(f"hold_at ({self.hold_at}) must not exceed reject_at "
                             f"({self.reject_at})")

    def action(self, probability: float) -> str | None:
        """``reject``, ``hold`` or None (publish) for one probability."""
        if self.reject_at is not None and probability >= self.reject_at:
            return REJECT
        if self.hold_at is not None and probability >= self.hold_at:
            return HOLD
        return None

    def describe(self) -> str:
        """In words, for an editor: "hold from 0.5, reject from 0.97", or "publish"."""
        parts = [f"{verb} from {value:g}" for verb, value in
                 (("hold", self.hold_at), ("reject", self.reject_at)) if value is not None]
        return ", ".join(parts) or "publish"

    def as_json(self) -> dict:
        return {"hold_at": self.hold_at, "reject_at": self.reject_at}


_RULE_PART = re.compile(r"(hold|reject):(0(?:\.\d+)?|1(?:\.0*)?|\.\d+)")


def parse_rule(spec: str) -> Rule:
    """A rule as written on the command line: ``publish``, ``hold:0.6``, ``reject:0.95`` or
    ``hold:0.4,reject:0.95``. Raises ValueError with a message for the user."""
    spec = spec.strip().lower()
    if spec == "publish":
        return Rule()
    values: dict[str, float] = {}
    for part in spec.split(","):
        match = _RULE_PART.fullmatch(part.strip())
        if match is None or match.group(1) in values:
            raise ValueError(f"{spec!r} is not a rule: write publish, hold:0.6, reject:0.95 "
                             f"or hold:0.4,reject:0.95")
        values[match.group(1)] = float(match.group(2))
    return Rule(hold_at=values.get(HOLD), reject_at=values.get(REJECT))


@dataclass(frozen=True)
class Policy:
    """A preset's rules with a site's own overrides on top.

    ``decide`` turns one comment's probabilities into ``(action, reasons)``; ``actions``
    does the same for a matrix of them (evaluation and benchmarks).
    """

    preset: str
    rules: Mapping[str, Rule] = field(default_factory=dict)
    overrides: Mapping[str, Rule] = field(default_factory=dict)

    def rule(self, key: str) -> Rule:
        return self.overrides.get(key) or self.rules.get(key) or Rule()

    def with_overrides(self, overrides: Mapping[str, Rule | None]) -> "Policy":
        """This policy with some rules replaced (a None value goes back to the preset's)."""
        unknown = sorted(set(overrides) - set(POLICY_KEYS))
        if unknown:
            raise ValueError(f"no such label: {', '.join(unknown)} (labels: "
                             f"{', '.join(POLICY_KEYS)})")
        merged = dict(self.overrides)
        for key, rule in overrides.items():
            if rule is None or rule == self.rules.get(key, Rule()):
                merged.pop(key, None)
            else:
                merged[key] = rule
        return replace(self, overrides=merged)

    def decide(self, probabilities: Mapping[str, float], score: float
               ) -> tuple[str | None, list[dict]]:
        """The action (``reject``, ``hold``, or None: publish) and every rule that fired,
        rejections first, each as ``{label, score, action, threshold, value}``."""
        reasons = []
        for key in POLICY_KEYS:
            value = score if key == "any" else probabilities.get(key)
            if value is None:
                continue
            rule = self.rule(key)
            action = rule.action(value)
            if action is not None:
                threshold = "reject_at" if action == REJECT else "hold_at"
                reasons.append({"label": key, "score": value, "action": action,
                                "threshold": threshold, "value": getattr(rule, threshold)})
        reasons.sort(key=lambda reason: (reason["action"] != REJECT, -reason["score"]))
        return (reasons[0]["action"] if reasons else None), reasons

    def actions(self, proba: np.ndarray, labels: tuple[str, ...] = LABELS) -> np.ndarray:
        """Per row of ``proba`` (a column per label, then the combined score): 0 publish,
        1 hold, 2 reject; what ``decide`` gives, for a whole evaluation set at once."""
        proba = np.asarray(proba, dtype=float)
        result = np.zeros(len(proba), dtype=np.int8)
        for j, key in enumerate([*labels, "any"]):
            rule = self.rule(key)
            if rule.hold_at is not None:
                result = np.maximum(result, np.where(proba[:, j] >= rule.hold_at, 1, 0))
            if rule.reject_at is not None:
                result = np.maximum(result, np.where(proba[:, j] >= rule.reject_at, 2, 0))
        return result

    @property
    def approve_below(self) -> float:
        """The combined score's hold threshold (1.0 when it holds nothing)."""
        hold = self.rule("any").hold_at
        return 1.0 if hold is None else hold

    @property
    def reject_at(self) -> float:
        """The combined score's reject threshold (1.0 when it rejects nothing: no score
        reaches 1)."""
        reject = self.rule("any").reject_at
        return 1.0 if reject is None else reject

    def as_json(self) -> dict:
        """Every rule in force, and which ones the site changed."""
        return {"preset": self.preset,
                "rules": {key: self.rule(key).as_json() for key in POLICY_KEYS},
                "overrides": sorted(self.overrides)}


def _rules(**rules: tuple[float | None, float | None]) -> dict[str, Rule]:
    return {key: Rule(hold, reject) for key, (hold, reject) in rules.items()}


PRESETS: dict[str, dict[str, Rule]] = {
    # Rejects only what is nearly always right to reject at a high score (spam, threats,
    # severe abuse, identity attacks); insults and rudeness wait for a moderator; swearing
    # alone is published. Figures per preset are in docs/CLASSIFIER.md.
    "standard": _rules(
        toxicity=(0.5, None), severe_toxicity=(0.3, 0.95), insult=(0.5, None),
        threat=(0.3, 0.95), identity_attack=(0.3, 0.9), obscene=(None, None),
        spam=(0.4, 0.99), any=(None, None)),
    # For a site that would rather hold too much than publish anything doubtful: insults
    # and rudeness are rejected at very high scores, swearing is held.
    "strict": _rules(
        toxicity=(0.25, 0.99), severe_toxicity=(0.2, 0.8), insult=(0.25, 0.99),
        threat=(0.2, 0.8), identity_attack=(0.2, 0.8), obscene=(0.5, None),
        spam=(0.3, 0.9), any=(0.25, None)),
    # For a lively section with busy moderators: only clear abuse is held, only spam and
    # threats at very high scores are rejected.
    "permissive": _rules(
        toxicity=(0.8, None), severe_toxicity=(0.5, 0.97), insult=(0.8, None),
        threat=(0.5, 0.97), identity_attack=(0.5, None), obscene=(None, None),
        spam=(0.6, 0.98), any=(None, None)),
}
DEFAULT_PRESET = "standard"


def preset(name: str, overrides: Mapping[str, Rule] | None = None) -> Policy:
    """The preset ``name`` with ``overrides``; raises ValueError naming the presets."""
    if name not in PRESETS:
        raise ValueError(f"no preset {name!r} (presets: {', '.join(PRESETS)})")
    return Policy(name, PRESETS[name]).with_overrides(overrides or {})
