"""In-process scoring speed: our classifier against alt-profanity-check on the same texts.

    python -m bench.scoring            (make bench runs it)

Trains the default model from training_data/ into a temporary registry, then measures
batch throughput (texts per second) and single-comment latency (p50, p99) for both in three
states of our caches: first sight (a freshly loaded model, its vocabulary's words cached,
meeting the texts for the first time), after serving 5,000 other real comments first, and
warm (the texts seen before). On a first pass the throughput ratio is the median of several
rounds' ratios, each of a fresh copy and the peer measured in turn. The peer keeps no
cache: its three are the same work. Also reports the model file's size and the peak memory
of a fresh process that loads the model and scores the texts, which is what one gunicorn
worker holds.
"""

from __future__ import annotations

import csv
import operator
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from bench.common import ROOT, SHARED, percentile, sample_texts
from classifier import ModelRegistry, seed_corpus, train_and_save
from classifier.normalize import clear_word_cache

BATCH_ROUNDS = 5
SINGLE_TEXTS = 400
FIRST_PASS_ROUNDS = 7
SINGLE_ROUNDS = 3


def throughput(score, texts: list[str]) -> float:
    score(texts)  # warm up
    started = time.perf_counter()
    for _ in range(BATCH_ROUNDS):
        score(texts)
    return BATCH_ROUNDS * len(texts) / (time.perf_counter() - started)


def latencies_ms(score, texts: list[str]) -> list[float]:
    timings = []
    for text in texts[:SINGLE_TEXTS]:
        started = time.perf_counter()
        score([text])
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def peak_memory_mb(script: str) -> float:
    """Peak RSS of a new Python process that runs ``script`` from the project's root.

    VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child forked from this
    process (which has just trained a model) would report the parent's size."""
    code = (script + "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
            "print(int(status.split()[0]) / 1024)\n")
    output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    return float(output.strip())


def scoring_memory_mb(registry_root: str) -> float:
    """What one worker holds: a process that imports the scorer, loads the model and
    scores the texts."""
    return peak_memory_mb(
        "from bench.common import sample_texts\n"
        "from classifier import ModelRegistry\n"
        f"model = ModelRegistry({registry_root!r}).load_active().model\n"
        "texts, _ = sample_texts()\n"
        "for _ in range(3): model.predict_proba(texts)\n")


def full_tables_memory_mb(registry_root: str) -> float:
    """The most a worker's scoring can hold: its word tables filled with made-up words (as
    hostile input could send) until they start over."""
    return peak_memory_mb(
        "import random, string\n"
        "from classifier import ModelRegistry\n"
        "from classifier.features import _CACHE_LIMIT\n"
        f"model = ModelRegistry({registry_root!r}).load_active().model.warm_up()\n"
        "rng = random.Random(0)\n"
        "def word(): return ''.join(rng.choice(string.ascii_lowercase) for _ in range(9))\n"
        "for _ in range(_CACHE_LIMIT // 4000 + 10):\n"
        "    model.predict_proba([' '.join(word() for _ in range(100)) for _ in range(40)])\n")


@dataclass
class Regime:
    """One scorer's figures in one state of its caches."""
    rate: float  # texts per second, the batch at once
    p50: float  # ms, one text at a time
    p99: float


def first_pass(model, peer, texts: list[str], *, served: list[str]
               ) -> tuple[Regime, Regime, float]:
    """``model`` (fresh copies, their caches cleared, then filled from the vocabulary and
    from scoring ``served``) and ``peer`` on their first pass over ``texts``: as a batch
    (the median of ``FIRST_PASS_ROUNDS`` fresh starts, the two scorers in turn, as the
    machine is shared and noisy) and one text at a time (``SINGLE_ROUNDS`` starts pooled);
    and the median of each round's throughput ratio (ours / peer), the two measured moments
    apart, which the machine's changing speed disturbs least."""
    def fresh():
        clear_word_cache()
        scorer = pickle.loads(pickle.dumps(model)).warm_up().predict_proba
        if served:
            scorer(served)
        return scorer

    rates: dict[str, list[float]] = {"ours": [], "peer": []}
    singles: dict[str, list[float]] = {"ours": [], "peer": []}
    for round_number in range(FIRST_PASS_ROUNDS):
        for name in ("ours", "peer"):
            score = fresh() if name == "ours" else peer
            if name == "peer" and served:
                score(served)  # the same work before, though the peer keeps nothing
            started = time.perf_counter()
            score(texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
            if round_number < SINGLE_ROUNDS:
                singles[name] += latencies_ms(fresh() if name == "ours" else peer, texts)
    ours, theirs = (Regime(statistics.median(rates[name]), percentile(singles[name], 50),
                           percentile(singles[name], 99)) for name in ("ours", "peer"))
    return ours, theirs, statistics.median(map(operator.truediv, rates["ours"], rates["peer"]))


def warm(score, texts: list[str]) -> Regime:
    """Figures of a scorer that has seen ``texts`` before."""
    rate = throughput(score, texts)
    single = latencies_ms(score, texts)
    return Regime(rate, percentile(single, 50), percentile(single, 99))


def other_real_comments() -> list[str]:
    """Jigsaw train.5k's texts (none of them in test.c), or nothing without ../shared."""
    path = SHARED / "jigsaw" / "train.5k.csv"
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return [row["comment_text"] for row in csv.DictReader(handle)]


def main() -> None:
    from profanity_check import predict_prob

    texts, described = sample_texts()
    with tempfile.TemporaryDirectory() as directory:
        registry = ModelRegistry(directory)
        metadata = train_and_save(seed_corpus(ROOT / "training_data"), registry, source="seed")
        registry.activate(metadata["version"])
        loaded = registry.load(metadata["version"])
        model_bytes = metadata["artifact_bytes"]
        memory_mb = scoring_memory_mb(directory)
        full_memory_mb = full_tables_memory_mb(directory)

    # First sight: a freshly loaded model, its caches pre-filled with its vocabulary as a
    # gunicorn worker does at start, scoring texts it has never seen. After serving others:
    # a worker that has served other real comments first (Jigsaw train.5k), then meets
    # these: most words seen, the rare ones new, as in a day of traffic. Warm: the same
    # texts again.
    served = other_real_comments()
    regimes = {"first sight": first_pass(loaded.model, predict_prob, texts, served=[])}
    if served:
        regimes[f"after serving {len(served):,} others"] = first_pass(
            loaded.model, predict_prob, texts, served=served)
    loaded.model.warm_up()
    ours, theirs = warm(loaded.model.predict_proba, texts), warm(predict_prob, texts)
    regimes["warm (texts seen)"] = (ours, theirs, ours.rate / theirs.rate)

    print(f"In-process scoring on {described}; {os.cpu_count()} cores")
    print("| state of the caches | scorer | texts/s (batch) | p50 ms (one text) "
          "| p99 ms (one text) |")
    print("|---|---|---|---|---|")
    names = ("this service (7 labels + combined score)", "alt-profanity-check 1.9.1 (1 label)")
    for state, (*pair, _) in regimes.items():
        for name, regime in zip(names, pair):
            print(f"| {state} | {name} | {regime.rate:,.0f} | {regime.p50:.2f} "
                  f"| {regime.p99:.2f} |")
    print()
    for state, (ours, peer, ratio) in regimes.items():
        print(f"{state}: throughput ratio (ours / alt-profanity-check) {ratio:.2f}; "
              f"p99 ours {ours.p99:.2f} ms, alt-profanity-check's {peer.p99:.2f} ms")
    print(f"model artifact: {model_bytes / 1e6:.1f} MB; peak memory of a process that loads "
          f"it and scores: {memory_mb:.0f} MB; with its word tables filled to their bound by "
          f"made-up words: {full_memory_mb:.0f} MB")


if __name__ == "__main__":
    main()
