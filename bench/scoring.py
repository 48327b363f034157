"""In-process scoring speed: our classifier against alt-profanity-check on the same texts.

    python -m bench.scoring            (make bench runs it)

Trains the default model from training_data/ into a temporary registry, then measures
batch throughput (texts per second) and single-comment latency (p50, p99) for both.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, percentile, sample_texts
from classifier import ModelRegistry, seed_corpus, train_and_save

BATCH_ROUNDS = 5
SINGLE_TEXTS = 400


def throughput(score, texts: list[str]) -> float:
    score(texts[:50])  # warm up
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


def main() -> None:
    from profanity_check import predict_prob

    texts, described = sample_texts()
    with tempfile.TemporaryDirectory() as directory:
        registry = ModelRegistry(directory)
        metadata = train_and_save(seed_corpus(ROOT / "training_data"), registry, source="seed")
        loaded = registry.load(metadata["version"])
        model_bytes = metadata["artifact_bytes"]

    ours = loaded.model.predict_proba
    peers = {"this service (7 labels + combined score)": ours,
             "alt-profanity-check 1.9.1 (1 label)": predict_prob}
    results = {}
    for name, score in peers.items():
        single = latencies_ms(score, texts)
        results[name] = (throughput(score, texts), percentile(single, 50), percentile(single, 99))

    print(f"In-process scoring on {described}; {os.cpu_count()} cores")
    print("| scorer | texts/s (batch) | p50 ms (one text) | p99 ms (one text) |")
    print("|---|---|---|---|")
    for name, (rate, p50, p99) in results.items():
        print(f"| {name} | {rate:,.0f} | {p50:.2f} | {p99:.2f} |")
    (our_rate, our_p50, our_p99), (peer_rate, peer_p50, peer_p99) = results.values()
    print(f"\nthroughput ratio (ours / alt-profanity-check): {our_rate / peer_rate:.2f}")
    print(f"p99 ratio (ours / alt-profanity-check): {our_p99 / peer_p99:.2f}")
    print(f"model artifact: {model_bytes / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
