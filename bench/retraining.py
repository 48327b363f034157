"""When retraining pays off: how many moderators' decisions a retrained model needs before it
beats the default model on real comments it never saw.

    python -m bench.retraining          (make bench-retraining)

Stands in real decisions with Jigsaw train.5k (a random draw of real comments, labelled by
people), shuffled once: the first N of them are "decisions", weighted as the service weighs
them beside the seed corpus (which then counts a fifth, ``example_weights``), for N from 0 (the
default model) up. Each model is measured on Jigsaw test.c, never trained on: ROC-AUC of the
combined score against the harmful labels, and what the standard policy does (published,
held, harmful among published). The service trains the same way (``CommentClassifier`` over
the example store, calibration folds by seed file); only the data stand in.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from sklearn.metrics import roc_auc_score

from bench.common import ROOT, SHARED
from bench.decisions import rates
from bench.quality import public_sets, subset
from classifier import CommentClassifier, example_weights, seed_corpus
from classifier.policy import preset
from classifier.shared import harmful_truth

SIZES = (0, 100, 250, 500, 1000, 2000, 4000)
SEED = 0


def main() -> None:
    if not SHARED.exists():
        sys.exit("../shared/datasets is absent: this benchmark needs real comments")
    started = time.perf_counter()
    seed = seed_corpus(ROOT / "training_data")
    sets = public_sets()
    order = np.random.default_rng(SEED).permutation(len(sets.jigsaw_train))
    test = sets.jigsaw_test
    truth = harmful_truth(test.y)
    known = truth >= 0
    policy = preset("standard")
    print(f"Retrained on the seed corpus ({len(seed):,}) plus N real decisions (Jigsaw "
          f"train.5k, shuffled); measured on Jigsaw test.c ({int(known.sum())} comments, "
          f"{int(truth[known].sum())} harmful), standard policy\n")
    print("| decisions N | ROC-AUC (score) | published | held | harmful among published |")
    print("|---|---|---|---|---|")
    for n in SIZES:
        corpus = seed + subset(sets.jigsaw_train, order[:n]) if n else seed
        written = np.arange(len(corpus)) < len(seed)
        model = CommentClassifier().fit(corpus.texts, corpus.y,
                                        sample_weight=example_weights(written),
                                        groups=corpus.row_groups())
        proba = model.predict_proba(test.texts)
        r = rates(policy.actions(proba[known]), truth[known] == 1)
        auc = roc_auc_score(truth[known], proba[known, -1])
        print(f"| {n:,}{' (the default model)' if n == 0 else ''} | {auc:.3f} | "
              f"{r['published']:.1%} | {r['held']:.1%} | {r['harmful_published']:.1%} |",
              flush=True)
    print(f"\n(run took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
