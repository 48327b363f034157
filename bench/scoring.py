"""In-process scoring speed: our classifier against alt-profanity-check on the same texts.

    python -m bench.scoring            (make bench runs it)

Trains the default model from training_data/ into a temporary registry, then measures
batch throughput (texts per second) and single-comment latency (p50, p99) for both, after
one warm-up pass (a serving worker scores the same words over and over), on the first pass
of a freshly loaded model (cold), and after it has served 5,000 other real comments. Also reports the
model file's size and the peak memory of a fresh process that loads the model and scores
the texts, which is what one gunicorn worker holds.
"""

from __future__ import annotations

import csv
import os
import pickle
import subprocess
import sys
import tempfile
import time

from bench.common import ROOT, SHARED, percentile, sample_texts
from classifier import ModelRegistry, seed_corpus, train_and_save
from classifier.normalize import clear_word_cache

BATCH_ROUNDS = 5
SINGLE_TEXTS = 400


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


def scoring_memory_mb(registry_root: str) -> float:
    """Peak RSS of a new process that imports the service's scorer, loads and scores."""
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child forked from this
    # process (which has just trained a model) would report the parent's size.
    code = (
        "import sys\n"
        "from bench.common import sample_texts\n"
        "from classifier import ModelRegistry\n"
        f"model = ModelRegistry({registry_root!r}).load_active().model\n"
        "texts, _ = sample_texts()\n"
        "for _ in range(3): model.predict_proba(texts)\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
        "print(int(status.split()[0]) / 1024)\n")
    output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    return float(output.strip())


def first_pass_rates(model, peer, texts: list[str], *, served: list[str]) -> tuple[float, float]:
    """Texts per second of a fresh copy of ``model`` (its caches cleared, then filled from
    its vocabulary and from scoring ``served``) and of ``peer``, on their first pass over
    ``texts``."""
    clear_word_cache()
    fresh = pickle.loads(pickle.dumps(model)).warm_up()
    rates = []
    for score in (fresh.predict_proba, peer):
        if served:
            score(served)
        started = time.perf_counter()
        score(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    return rates[0], rates[1]


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

    # Cold: a freshly loaded model, its caches pre-filled with its vocabulary as a gunicorn
    # worker does at start, scoring texts it has never seen. Warm: the same texts again.
    # Steady: a worker that has served other real comments first (Jigsaw train.5k), then
    # meets these: most words seen, the rare ones new, as in a day of traffic.
    cold_rate, peer_cold_rate = first_pass_rates(loaded.model, predict_prob, texts, served=[])
    loaded.model.warm_up()
    served = other_real_comments()
    steady_rate, peer_steady_rate = (
        first_pass_rates(loaded.model, predict_prob, texts, served=served) if served
        else (None, None))

    peers = {"this service (7 labels + combined score)": loaded.model.predict_proba,
             "alt-profanity-check 1.9.1 (1 label)": predict_prob}
    results = {}
    for name, score in peers.items():
        single = latencies_ms(score, texts)
        results[name] = (throughput(score, texts), percentile(single, 50), percentile(single, 99))

    print(f"In-process scoring on {described}; {os.cpu_count()} cores")
    print("| scorer | texts/s, first pass (cold) | texts/s (warm) | p50 ms (one text) | p99 ms (one text) |")
    print("|---|---|---|---|---|")
    for (name, (rate, p50, p99)), cold in zip(results.items(), (cold_rate, peer_cold_rate)):
        print(f"| {name} | {cold:,.0f} | {rate:,.0f} | {p50:.2f} | {p99:.2f} |")
    (our_rate, _, our_p99), (peer_rate, _, peer_p99) = results.values()
    print(f"\nthroughput ratio (ours / alt-profanity-check): warm {our_rate / peer_rate:.2f}, "
          f"cold {cold_rate / peer_cold_rate:.2f}")
    if steady_rate is not None:
        print(f"after serving {len(served):,} other real comments: ours {steady_rate:,.0f} "
              f"texts/s, alt-profanity-check {peer_steady_rate:,.0f} texts/s, ratio "
              f"{steady_rate / peer_steady_rate:.2f}")
    print(f"p99 ratio (ours / alt-profanity-check): {our_p99 / peer_p99:.2f}")
    print(f"model artifact: {model_bytes / 1e6:.1f} MB; peak memory of a process that loads "
          f"it and scores: {memory_mb:.0f} MB")


if __name__ == "__main__":
    main()
