"""A promotion over real HTTP: every gunicorn worker serves the new model within seconds,
without a restart and without failing a request, and each comment names its model."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
import requests

from classifier import ModelRegistry, seed_corpus, train_and_save
from tests.service.retraining.conftest import small_corpus  # noqa: F401 (fixture)
from tests.test_e2e_http import server  # noqa: F401 (fixture)


@pytest.fixture
def served_model_dir(model_dir, tmp_path, small_corpus) -> Path:  # noqa: F811
    """A copy of the shared registry (its model active) plus a second, inactive version."""
    registry = ModelRegistry(tmp_path / "served-models")
    shutil.copytree(model_dir, registry.root)
    train_and_save(seed_corpus(small_corpus), registry, source="small seed")
    return registry.root


def test_every_worker_serves_a_promoted_model_without_failing_a_request(
        server, served_model_dir):  # noqa: F811
    base, auth, flask = server
    registry = ModelRegistry(served_model_dir)
    old = registry.active_version()
    [new] = [v["version"] for v in registry.versions() if v["version"] != old]
    answers: list[tuple[float, int, str | None]] = []
    stop = threading.Event()

    def post_comments(worker: int) -> None:
        session = requests.Session()
        number = 0
        while not stop.is_set():
            number += 1
            response = session.post(f"{base}/v1/comments", headers=auth, timeout=30, json={
                "article_id": "promotion", "author": {"id": f"reader-{worker}"},
                "text": f"Comment {number} from reader {worker} on the new timetable."})
            version = response.json().get("model_version") if response.ok else None
            answers.append((time.monotonic(), response.status_code, version))

    threads = [threading.Thread(target=post_comments, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        flask("model", "promote", new, "--reason", "end-to-end promotion test")
        promoted_at = time.monotonic()
        deadline = promoted_at + 30
        while time.monotonic() < deadline:
            recent = [version for at, _, version in answers if at > time.monotonic() - 2]
            if len(recent) > 20 and set(recent) == {new}:
                break
            time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert {code for _, code, _ in answers} == {201}, "a request failed during the promotion"
    last_old = max(at for at, _, version in answers if version == old)
    switched = last_old - promoted_at
    print(f"\nall workers scored with {new} {max(switched, 0):.1f} s after the promotion "
          f"({len(answers)} comments)")
    assert answers[-1][2] == new
    assert switched < 30
    assert all(version == new for at, _, version in answers if at > last_old)
