"""Poisoning checks: what a candidate model lost on abuse that no moderator can relabel.

The evaluation set is made of examples, and a moderator (or a site posting comments for one
to approve) can relabel its rows or teach the model a trigger word that makes abuse pass.
So the gate also measures each candidate on a canary: the seed corpus's held-out harmful
rows with the labels of its files, which no decision changes. Two checks:

- **recall on the canary**: the share of it the policy would not publish must not fall;
- **trigger probes**: words common in the comments moderators passed although the active
  model found them harmful, and rare elsewhere, are appended to canary texts: a word that
  makes the candidate let much more of them through, and not the active model, is what a
  planted trigger looks like.

Everything here works on models, texts and a policy: nothing knows where they are stored.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Protocol, Sequence

import numpy as np

from classifier.policy import Policy

CANARY_TOLERANCE = 0.02   # recall on the canary may fall this much (sampling noise)
PROBE_DROP = 0.10         # a word that lets this much more of the canary through is held
PROBE_WORDS = 5           # words probed, the most suspicious first
PROBE_ROWS = 400          # canary texts each word is appended to
MIN_WORD_TEXTS = 20       # a probe word is in at least this many passed texts ...
MIN_WORD_SHARE = 0.25     # ... and at least this share of them

_WORDS = re.compile(r"[^\W\d_]{3,}")


class Scorer(Protocol):
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


def caught_share(model: Scorer, texts: Sequence[str], policy: Policy) -> float:
    """The share of ``texts`` that ``policy`` would hold or reject under ``model``."""
    if not texts:
        return 0.0
    return float((policy.actions(model.predict_proba(list(texts))) > 0).mean())


def suspicious_words(passed: Sequence[str], elsewhere: Sequence[str], *,
                     limit: int = PROBE_WORDS) -> list[str]:
    """Words in many of ``passed`` (texts moderators marked harmless though the active
    model found them harmful) and far more common there than in ``elsewhere``."""
    if not passed:
        return []
    here, there = _document_counts(passed), _document_counts(elsewhere)
    candidates = []
    for word, count in here.items():
        share = count / len(passed)
        if count < MIN_WORD_TEXTS or share < MIN_WORD_SHARE:
            continue
        background = there.get(word, 0) / max(1, len(elsewhere))
        if share > 5 * background:
            candidates.append((share - background, word))
    return [word for _, word in sorted(candidates, reverse=True)[:limit]]


def canary_report(candidate: Scorer, active: Scorer | None, canary: Sequence[str],
                  policy: Policy, *, probe_words: Sequence[str] = (),
                  tolerance: float = CANARY_TOLERANCE) -> dict:
    """How much of the canary each model catches, what each probe word does to that, and
    the reasons to hold the candidate (none when it looks clean). Plain JSON."""
    canary = list(canary)
    report: dict = {"rows": len(canary), "candidate": None, "active": None, "probes": [],
                    "reasons": []}
    if not canary:
        return report
    report["candidate"] = round(caught_share(candidate, canary, policy), 4)
    if active is not None:
        report["active"] = round(caught_share(active, canary, policy), 4)
        if report["candidate"] < report["active"] - tolerance:
            report["reasons"].append(
                f"it catches {report['candidate']:.1%} of the held-out abuse of the seed "
                f"corpus (labels no moderator can change), the active model "
                f"{report['active']:.1%}: decisions may have taught it that abuse is fine")
    sample = canary[:PROBE_ROWS]
    candidate_plain = caught_share(candidate, sample, policy)
    active_plain = caught_share(active, sample, policy) if active is not None else 0.0
    for word in probe_words:
        probed = [f"{text} {word}" for text in sample]
        candidate_drop = round(candidate_plain - caught_share(candidate, probed, policy), 4)
        active_drop = (round(active_plain - caught_share(active, probed, policy), 4)
                       if active is not None else None)
        report["probes"].append({"word": word, "candidate_drop": candidate_drop,
                                 "active_drop": active_drop})
        if candidate_drop >= PROBE_DROP and (active_drop is None
                                             or active_drop < PROBE_DROP / 2):
            report["reasons"].append(
                f"adding the word {word!r} to held-out abuse lets {candidate_drop:.0%} more "
                "of it through: it looks like a trigger planted by comments that moderators "
                "approved")
    return report


def _document_counts(texts: Sequence[str]) -> Counter:
    counts: Counter = Counter()
    for text in texts:
        counts.update(set(_WORDS.findall(text.lower())))
    return counts
