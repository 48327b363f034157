"""Training at scale: time and peak memory of a training job from 10,000 to 200,000 comments.

    python -m bench.training [--sizes 10000,50000] [--repeat 2]     (make bench-training)

Target (training-scale issue): 100,000 examples trained in under 3 minutes on 2 cores, with
peak memory under 4 GB. A training job is measured as the service runs one:
``CommentClassifier().fit(texts, y)`` on the training rows, ``predict_proba`` on a held-out
evaluation set of 20% as many rows, then ``joblib.dump(model, path, compress=3)``. Each size
runs in a fresh process, so its peak RSS (``ru_maxrss``) is its own: Python, the libraries,
the data and the job. Also printed: the fit broken down by step (from ``on_step``), the
model file's size, and the held-out ROC-AUC of the combined score (a sanity check, not a
quality benchmark: see bench.quality).

Data: the public sets in ../shared/datasets (Jigsaw train.5k, Davidson, OLID, ETHOS, YouTube
spam), de-duplicated: about 45,000 distinct real comments. They are shuffled once and cut
into a training pool and an evaluation pool (one in six), so no evaluation text is trained
on. A size needing more rows than its pool holds takes every real row of the pool, then new
distinct texts made by joining two random comments of the same pool, labelled with the
elementwise maximum of the known labels (-1 where either is unknown and neither is 1).
Joined texts are twice as long as real ones on average, so the largest sizes are, if
anything, harder than that many real comments would be.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from bench.common import ROOT, SHARED

SIZES = (10_000, 25_000, 50_000, 100_000, 200_000)
EVAL_SHARE = 0.2
TARGET_ROWS, TARGET_SECONDS, TARGET_GB = 100_000, 180.0, 4.0
SEED = 0
SOURCES = [
    ("jigsaw/train.5k.csv", "jigsaw"),
    ("davidson/labeled_data.csv", "davidson"),
    ("olid/olid-training-v1.0.tsv", "olid"),
    ("ethos/Ethos_Dataset_Binary.csv", "ethos"),
    ("youtube_spam/01-9bZkp7q19f0.csv", "youtube"),
    ("youtube_spam/04-CevxZvSJLk8.csv", "youtube"),
    ("youtube_spam/07-KQ6zr6kCPj8.csv", "youtube"),
]


# -- data (in the child) ------------------------------------------------------------------------

def real_pools():
    """The distinct real comments, shuffled, cut into (training pool, evaluation pool)."""
    import numpy as np

    from bench.quality import load
    from classifier import Corpus

    corpus = Corpus()
    for relative, fmt in SOURCES:
        corpus = corpus + load(relative, fmt)  # `+` drops repeated (normalised) texts
    order = np.random.default_rng(SEED).permutation(len(corpus))
    cut = len(corpus) // 6
    pick = lambda index: Corpus(texts=[corpus.texts[i] for i in index], y=corpus.y[index])
    return pick(order[cut:]), pick(order[:cut])


def joined_labels(a, b):
    """Labels of two comments joined: 1 where either is 1, 0 where both are 0, else -1."""
    import numpy as np

    return np.where((a == 1) | (b == 1), 1, np.where((a == 0) & (b == 0), 0, -1)).astype(np.int8)


def grow(pool, n: int, seed: int):
    """``n`` rows: the pool's real rows first, then distinct joins of two of its comments.
    Returns (texts, y, number of joined rows)."""
    import numpy as np

    if n <= len(pool):
        return pool.texts[:n], pool.y[:n], 0
    rng = np.random.default_rng(seed)
    texts, labels = list(pool.texts), [pool.y]
    seen_texts, seen_pairs = set(texts), set()
    needed = n - len(pool)
    while needed:
        a, b = rng.integers(0, len(pool), size=(2, 2 * needed))
        keep = []
        for i, j in zip(a.tolist(), b.tolist()):
            if i == j or (i, j) in seen_pairs:
                continue
            text = f"{pool.texts[i]}\n{pool.texts[j]}"
            if text in seen_texts:
                continue
            seen_pairs.add((i, j))
            seen_texts.add(text)
            texts.append(text)
            keep.append((i, j))
            if len(keep) == needed:
                break
        if keep:
            first, second = np.array(keep).T
            labels.append(joined_labels(pool.y[first], pool.y[second]))
        needed -= len(keep)
    return texts, np.vstack(labels), n - len(pool)


# -- one size (the child) ----------------------------------------------------------------------

def run_one(n: int) -> dict:
    import joblib
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from classifier.model import CommentClassifier
    from classifier.normalize import clear_word_cache

    started = time.perf_counter()
    train_pool, eval_pool = real_pools()
    texts, y, joined = grow(train_pool, n, seed=SEED + 1)
    n_eval = int(round(n * EVAL_SHARE))
    eval_texts, eval_y, eval_joined = grow(eval_pool, n_eval, seed=SEED + 2)
    data_seconds = time.perf_counter() - started
    clear_word_cache()  # reading the data normalised every text: a job starts cold
    data_gb = _peak_gb()
    print(f"  {n:,} rows: data ready in {data_seconds:.0f} s ({joined:,} joined; evaluation "
          f"{n_eval:,}, {eval_joined:,} joined)", file=sys.stderr, flush=True)

    steps: list[tuple[str, float]] = []
    load_before = os.getloadavg()[0]
    cpu_before = _cpu_seconds()
    fit_started = time.perf_counter()

    def on_step(name: str, done: float) -> None:
        steps.append((name, time.perf_counter() - fit_started))

    model = CommentClassifier().fit(texts, np.asarray(y, dtype=np.int8), on_step=on_step)
    fit_seconds = time.perf_counter() - fit_started
    started = time.perf_counter()
    proba = model.predict_proba(eval_texts)
    eval_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.joblib")
        started = time.perf_counter()
        joblib.dump(model, path, compress=3)
        save_seconds = time.perf_counter() - started
        model_mb = os.path.getsize(path) / 1e6
    cpu_seconds = _cpu_seconds() - cpu_before
    load_after = os.getloadavg()[0]

    # Fit broken down: normalising, vocabulary, features, then the heads together.
    marks = dict(steps)
    heads_start = next((t for name, t in steps if name.startswith("fitting")), fit_seconds)
    phases = {"normalise": marks["building the vocabulary"],
              "vocabulary": marks["computing features"] - marks["building the vocabulary"],
              "features": heads_start - marks["computing features"],
              "heads": fit_seconds - heads_start}
    any_truth = np.where((eval_y == 1).any(axis=1), 1, np.where((eval_y == 0).all(axis=1), 0, -1))
    known = any_truth >= 0
    return {
        "rows": n, "joined": joined, "eval_rows": n_eval, "eval_joined": eval_joined,
        "features": int(model.coef_.shape[1]), "data_s": data_seconds, "data_gb": data_gb,
        "fit_s": fit_seconds, "eval_s": eval_seconds, "save_s": save_seconds,
        "total_s": fit_seconds + eval_seconds + save_seconds, "peak_gb": _peak_gb(),
        "model_mb": model_mb, "phases": phases, "cpu_s": cpu_seconds,
        "load": (load_before, load_after),
        "eval_auc_any": float(roc_auc_score(any_truth[known], proba[known, -1])),
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_gb() -> float:
    """Peak resident memory of this process so far, in GB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


# -- the parent: one fresh process a size, then the table -------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="comma-separated training sizes (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each size, each in a fresh process; the fastest run's "
                             "times and the largest peak are reported (default %(default)s)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child)))
        return
    if not SHARED.exists():
        print(f"{SHARED} is absent: the training benchmark needs the public data sets "
              f"(../shared/datasets beside the project). Nothing measured.")
        sys.exit(0)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"cores: {cores} usable ({os.cpu_count()} on the machine); python {sys.version.split()[0]}")
    print(f"data: distinct real comments from {len(SOURCES)} public files; sizes beyond the real "
          f"pool are filled with new distinct texts joining two random real comments "
          f"(labels: elementwise max of the known labels, -1 where either is unknown and "
          f"neither is 1). Evaluation: {EVAL_SHARE:.0%} as many rows, from a separate pool.")
    results = []
    for n in sizes:
        runs = []
        for _attempt in range(max(1, args.repeat)):
            print(f"running {n:,} rows in a fresh process ...", file=sys.stderr, flush=True)
            done = subprocess.run([sys.executable, "-m", "bench.training", "--child", str(n)],
                                  cwd=ROOT, stdout=subprocess.PIPE, text=True)
            if done.returncode != 0:
                print(f"  {n:,} rows: the child process failed (exit {done.returncode})",
                      file=sys.stderr)
                runs.append({"rows": n, "failed": done.returncode})
                break
            result = json.loads(done.stdout.strip().splitlines()[-1])
            runs.append(result)
            print(f"  {n:,} rows: total {result['total_s']:.0f} s (CPU {result['cpu_s']:.0f} s, "
                  f"load {result['load'][0]:.1f}-{result['load'][1]:.1f}), peak "
                  f"{result['peak_gb']:.2f} GB", file=sys.stderr, flush=True)
        ok = [r for r in runs if "failed" not in r]
        if ok:  # times of the fastest run; memory, the largest peak of any
            results.append(dict(min(ok, key=lambda r: r["total_s"]),
                                peak_gb=max(r["peak_gb"] for r in ok)))
        else:
            results.append(runs[-1])
    if args.repeat > 1:
        print(f"{args.repeat} runs a size: times of the fastest, the largest peak RSS")
    report(results)


def report(results: list[dict]) -> None:
    ok = [r for r in results if "failed" not in r]
    base = ok[0] if ok else None
    base_name = f"{base['rows'] // 1000}k" if base else "-"
    print(f"\n| rows | of which joined | fit s | eval s | save s | total s | CPU s | peak RSS GB | "
          f"time vs {base_name} | RSS vs {base_name} | rows vs {base_name} | load 1-min |")
    print("|" + "---|" * 12)
    for r in results:
        if "failed" in r:
            print(f"| {r['rows']:,} | failed (exit {r['failed']}) |" + " |" * 10)
            continue
        print(f"| {r['rows']:,} | {r['joined']:,} | {r['fit_s']:.1f} | {r['eval_s']:.1f} | "
              f"{r['save_s']:.1f} | {r['total_s']:.1f} | {r['cpu_s']:.0f} | {r['peak_gb']:.2f} | "
              f"{r['total_s'] / base['total_s']:.1f}x | {r['peak_gb'] / base['peak_gb']:.1f}x | "
              f"{r['rows'] / base['rows']:.1f}x | {r['load'][0]:.1f}-{r['load'][1]:.1f} |")
    print("\n(CPU s: user + system time of the job, all threads; load 1-min: the machine's "
          "load average as the job started and ended. Both cores busy with other work can "
          "double a wall time: compare CPU s.)")
    if ok:
        print("\nFit broken down (s), and the rest:\n")
        print("| rows | normalise | vocabulary | features | heads (8, 3 folds + final) | "
              "features (columns) | model file MB | RSS after loading data GB | "
              "held-out ROC-AUC (any) |")
        print("|" + "---|" * 9)
        for r in ok:
            p = r["phases"]
            print(f"| {r['rows']:,} | {p['normalise']:.1f} | {p['vocabulary']:.1f} | "
                  f"{p['features']:.1f} | {p['heads']:.1f} | {r['features']:,} | "
                  f"{r['model_mb']:.1f} | {r['data_gb']:.2f} | {r['eval_auc_any']:.3f} |")
    target = next((r for r in ok if r["rows"] == TARGET_ROWS), None)
    if target is None:
        print(f"\ntarget ({TARGET_ROWS:,} rows < {TARGET_SECONDS:.0f} s, < {TARGET_GB:.0f} GB): "
              f"not measured in this run")
        return
    fast = target["total_s"] < TARGET_SECONDS
    lean = target["peak_gb"] < TARGET_GB
    print(f"\n{TARGET_ROWS:,} rows: total {target['total_s']:.0f} s (target < "
          f"{TARGET_SECONDS:.0f} s) {'PASS' if fast else 'FAIL'}; peak RSS "
          f"{target['peak_gb']:.2f} GB (target < {TARGET_GB:.0f} GB) "
          f"{'PASS' if lean else 'FAIL'}")


if __name__ == "__main__":
    main()
