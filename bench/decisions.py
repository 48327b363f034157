"""What each decision policy does to real comments, and how far the scores can be trusted.

    python -m bench.decisions           (make bench-quality runs it after bench.quality)

For the default model (training_data/ only, what `make run` serves) and for the one trained
with the public sets too (+public), under each preset (classifier/policy.py):

- the share of comments published, held and rejected, the share of rejected ones that were
  harmless and of published ones that were harmful, on Jigsaw test.c (never trained on),
  on a random draw of real comments (Jigsaw train.5k: held out for the default model only),
  on YouTube spam held out by video (07), and on ETHOS (for the default model: never seen);
- the newsroom set (bench/newsroom.csv, our own writing): civil criticism and mild swearing
  that must be published, rudeness to readers that may be held, abuse that must not be
  published;
- bias_madlibs (civil and abusive sentences naming identity groups): civil ones published
  and rejected, abusive ones published, and the false-alarm rate of the worst identity terms;
- calibration per label on Jigsaw test.c: expected calibration error (10 equal-width bins)
  as the set is (half of it harmful) and reweighted to live traffic's rates (the rates the
  model's probabilities are shifted to, ``TRAFFIC_PREVALENCE``), and a reliability chart
  per label written to bench/out/reliability.png (not committed).

Needs ../shared/datasets; the newsroom set alone runs without it.
"""

from __future__ import annotations

import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from bench.common import ROOT, SHARED
from bench.quality import ours, public_sets
from classifier import LABELS, Corpus, normalize, seed_corpus
from classifier.model import TRAFFIC_PREVALENCE, harmful_truth
from classifier.policy import PRESETS, preset

NEWSROOM = ROOT / "bench" / "newsroom.csv"
OUT = ROOT / "bench" / "out"
HEADS = [*LABELS, "any"]
BINS = 10
MADLIBS_SAMPLE = 6000


def read_newsroom(path: Path = NEWSROOM) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def rates(actions: np.ndarray, harmful: np.ndarray) -> dict[str, float]:
    """Shares published, held and rejected; harmful among published; harmless among
    rejected."""
    published, held, rejected = actions == 0, actions == 1, actions == 2
    share = lambda part, whole: float(part.sum()) / whole.sum() if whole.sum() else float("nan")
    return {"published": published.mean(), "held": held.mean(), "rejected": rejected.mean(),
            "harmful_published": share(published & harmful, published),
            "harmless_rejected": share(rejected & ~harmful, rejected), "n": len(actions)}


def ece(probability: np.ndarray, truth: np.ndarray, weights: np.ndarray) -> float:
    index = np.minimum((probability * BINS).astype(int), BINS - 1)
    total, error = weights.sum(), 0.0
    for b in range(BINS):
        inside = index == b
        if inside.any():
            w = weights[inside]
            error += w.sum() / total * abs(np.average(probability[inside], weights=w)
                                           - np.average(truth[inside], weights=w))
    return error


def live_weights(truth: np.ndarray, label: str) -> np.ndarray:
    """Row weights that give ``label`` its live-traffic rate in this set."""
    rate, live = truth.mean(), TRAFFIC_PREVALENCE[label]
    return np.where(truth == 1, live / rate, (1 - live) / (1 - rate))


def calibration(name: str, proba: np.ndarray, corpus: Corpus, charts: dict) -> None:
    truth_all = np.column_stack([corpus.y, harmful_truth(corpus.y)])
    print(f"\n#### Calibration on Jigsaw test.c: {name}\n")
    print("| label | positives | ECE as the set is | ECE at live rates | "
          "share of scores >= 0.99 |")
    print("|---|---|---|---|---|")
    for j, label in enumerate(HEADS):
        known = truth_all[:, j] >= 0
        truth, p = truth_all[known, j], proba[known, j]
        if not 0 < truth.sum() < len(truth):
            continue
        print(f"| {label} | {int(truth.sum())} | {ece(p, truth, np.ones(len(p))):.3f} | "
              f"{ece(p, truth, live_weights(truth, label)):.3f} | {(p >= 0.99).mean():.1%} |")
        charts.setdefault(label, []).append((name, p, truth, live_weights(truth, label)))


def reliability_chart(charts: dict) -> Path:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 6.5), dpi=100, layout="constrained")
    axes = figure.subplots(2, 4).ravel()
    for ax, (label, series) in zip(axes, charts.items()):
        ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        for name, p, truth, weights in series:
            index = np.minimum((p * BINS).astype(int), BINS - 1)
            xs, ys = [], []
            for b in range(BINS):
                inside = index == b
                if inside.sum() >= 3:
                    xs.append(np.average(p[inside], weights=weights[inside]))
                    ys.append(np.average(truth[inside], weights=weights[inside]))
            ax.plot(xs, ys, marker="o", label=name)
        ax.set_title(label)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("harmful share (live rates)")
    axes[0].legend(fontsize=8)
    for ax in axes[len(charts):]:
        ax.set_visible(False)
    OUT.mkdir(exist_ok=True)
    path = OUT / "reliability.png"
    figure.savefig(path)
    return path


def policy_table(name: str, scorer, sets: dict[str, Corpus]) -> None:
    print(f"\n#### Decisions: {name}\n")
    print("| preset | set | published | held | rejected | harmful among published | "
          "harmless among rejected |")
    print("|---|---|---|---|---|---|---|")
    scored = {title: scorer(corpus.texts) for title, corpus in sets.items()}
    for preset_name in PRESETS:
        policy = preset(preset_name)
        for title, corpus in sets.items():
            # Harmful: a harmful label the set marks (obscene alone is house style, which
            # the presets publish). A set that labels only spam (YouTube) counts its other
            # comments as fine, as its annotators did.
            r = rates(policy.actions(scored[title]), harmful_truth(corpus.y) == 1)
            print(f"| {preset_name} | {title} ({r['n']:,}) | {r['published']:.1%} | "
                  f"{r['held']:.1%} | {r['rejected']:.1%} | {r['harmful_published']:.1%} | "
                  f"{r['harmless_rejected']:.1%} |")


def newsroom_table(name: str, scorer) -> None:
    rows = read_newsroom()
    proba = scorer([row["text"] for row in rows])
    print(f"\n#### Newsroom set (bench/newsroom.csv): {name}\n")
    print("| preset | expected | n | published | held | rejected | wrong |")
    print("|---|---|---|---|---|---|---|")
    for preset_name in PRESETS:
        actions = preset(preset_name).actions(proba)
        for expect in ("publish", "hold_ok", "block"):
            mine = np.array([row["expect"] == expect for row in rows])
            a = actions[mine]
            wrong = {"publish": a == 2, "hold_ok": a == 2, "block": a == 0}[expect]
            print(f"| {preset_name} | {expect} | {mine.sum()} | {(a == 0).mean():.0%} | "
                  f"{(a == 1).mean():.0%} | {(a == 2).mean():.0%} | {int(wrong.sum())} |")
    actions = preset("standard").actions(proba)
    misses = [(row["expect"], ["published", "held", "rejected"][a], row["text"])
              for row, a in zip(rows, actions)
              if (row["expect"] in ("publish", "hold_ok") and a == 2)
              or (row["expect"] == "publish" and a == 1) or (row["expect"] == "block" and a == 0)]
    if misses:
        print(f"\nUnder standard, not as expected ({len(misses)}):\n")
        for expect, action, text in misses:
            print(f"- expected {expect}, {action}: {text[:100]!r}")


def madlibs_table(name: str, scorer) -> None:
    path = SHARED / "bias_madlibs" / "bias_madlibs_77k.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rng = np.random.default_rng(0)
    rows = [rows[i] for i in rng.choice(len(rows), MADLIBS_SAMPLE, replace=False)]
    texts = [row["Text"] for row in rows]
    bad = np.array([row["Label"] == "BAD" for row in rows])
    proba = scorer(texts)
    print(f"\n#### bias_madlibs ({MADLIBS_SAMPLE:,} drawn at random): {name}\n")
    print("| preset | civil published | civil rejected | abusive published | "
          "abusive rejected |")
    print("|---|---|---|---|---|")
    for preset_name in PRESETS:
        a = preset(preset_name).actions(proba)
        print(f"| {preset_name} | {(a[~bad] == 0).mean():.1%} | {(a[~bad] == 2).mean():.1%} | "
              f"{(a[bad] == 0).mean():.1%} | {(a[bad] == 2).mean():.1%} |")
    a = preset("standard").actions(proba)
    alarms: dict[str, list[int]] = defaultdict(list)
    terms = _identity_terms()
    for text, is_bad, action in zip(texts, bad, a):
        if is_bad:
            continue
        words = set(normalize(text).split())
        for term in terms & words:
            alarms[term].append(int(action != 0))
    worst = sorted(((np.mean(v), term, len(v)) for term, v in alarms.items() if len(v) >= 20),
                   reverse=True)[:12]
    print("\nFalse alarms (held or rejected) on civil sentences under standard, by identity "
          "term, worst first: " + ", ".join(f"{term} {share:.0%} of {n}"
                                              for share, term, n in worst))


def _identity_terms() -> set[str]:
    """The identity words bias_madlibs fills its templates with."""
    return {"lesbian", "gay", "bisexual", "transgender", "trans", "queer", "lgbt", "lgbtq",
            "homosexual", "straight", "heterosexual", "male", "female", "nonbinary",
            "african", "black", "white", "european", "hispanic", "latino", "latina", "latinx",
            "mexican", "canadian", "american", "asian", "indian", "chinese", "japanese",
            "christian", "muslim", "jewish", "buddhist", "catholic", "protestant", "sikh",
            "taoist", "old", "older", "young", "younger", "teenage", "millenial", "elderly",
            "blind", "deaf", "paralyzed"}


def main() -> None:
    started = time.perf_counter()
    seed = seed_corpus(ROOT / "training_data")
    default = ours(seed)
    print(f"trained the default model in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    newsroom_table("default", default)
    if not SHARED.exists():
        print("\n../shared/datasets is absent: only the newsroom set was measured.")
        return
    sets = public_sets()
    jigsaw_train, jigsaw_test = sets.jigsaw_train, sets.jigsaw_test
    ethos, video_07 = sets.ethos, sets.video_07
    # +public leaves video 07 out, so YouTube is held out by video for both models.
    public = sets.no_video
    with_public = ours(seed + public, len(seed))
    print(f"trained both models in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    charts: dict = {}
    for name, scorer, sets in (
            ("default", default, {"Jigsaw test.c": jigsaw_test,
                                  "Jigsaw train.5k, a random draw": jigsaw_train,
                                  "YouTube video 07": video_07, "ETHOS": ethos}),
            ("+public", with_public, {"Jigsaw test.c": jigsaw_test,
                                      "YouTube video 07": video_07})):
        policy_table(name, scorer, sets)
        calibration(name, scorer(jigsaw_test.texts), jigsaw_test, charts)
        if name == "+public":
            newsroom_table(name, scorer)
        madlibs_table(name, scorer)
    print(f"\nReliability chart: {reliability_chart(charts).relative_to(ROOT)}")
    print(f"\n(run took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
