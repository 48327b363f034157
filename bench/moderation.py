"""Moderating by keyboard: keystrokes and UI time per decision, in a real browser.

    python -m bench.moderation          (make bench-moderation)

Trains the default model into a temporary registry, serves the app (werkzeug, threaded, on
a SQLite file) and holds 100 mixed comments of our own writing for review. Debian's chromium,
driven by Playwright, then clears them by keyboard alone as a moderator would: `a` to
approve, `r` when the suggested reason is the right one, else the reason's number. Prints the
keystrokes per decision, each action's latency (key pressed to row gone, the decision stored)
and the queue page's load time, against the goal of under 150 ms per action.
"""

from __future__ import annotations

import random
import re
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bench.common import ROOT, percentile
from service.container import services

GOAL_MS = 150
PASSWORD = "bench-password-1"
PLACES = ["Harrowfield", "Dunmore Vale", "Kestrel Bay", "Ashby Cross", "Millbrook"]
TOPICS = ["the bus depot", "the library hours", "the school run", "the new cycle lane",
          "the market square", "the flood barrier"]


def mixed_comments(n: int = 100) -> list[tuple[str, str, str | None]]:
    """(text, action, reason) of our own writing: what a moderator would decide."""
    rng = random.Random(7)
    kinds = (["civil"] * 40 + ["abuse"] * 25 + ["spam"] * 15 + ["threat"] * 10
             + ["off-topic"] * 10)[:n]
    rng.shuffle(kinds)
    out = []
    for i, kind in enumerate(kinds):
        place, topic = PLACES[i % len(PLACES)], TOPICS[(i // 5) % len(TOPICS)]
        if kind == "civil":
            out.append((f"The plan for {topic} in {place} needs a clearer budget ({i}).",
                        "approve", None))
        elif kind == "abuse":
            out.append((f"You are a pathetic idiot and a liar, comment {i} proves it.",
                        "reject", "abuse"))
        elif kind == "spam":
            out.append((f"Earn 5000 a week from home, visit quickcash{i} dot biz now",
                        "reject", "spam"))
        elif kind == "threat":
            out.append((f"I know where you live and I will hurt you, number {i}.",
                        "reject", "threat"))
        else:
            out.append((f"Does anyone know a good plumber in {place}? Asking for the {i}th "
                        f"time.", "reject", "off-topic"))
    return out


CHROMIUM = Path("/usr/bin/chromium")


@contextmanager
def demo_server(work: Path) -> Iterator[tuple[str, "object", dict[int, tuple[str, str | None]]]]:
    """The app on a SQLite file in ``work``, served by werkzeug on a free port, with the
    default model trained, a site that holds everything, a moderator ``mod`` and an admin
    ``ada`` (password ``bench-password-1``), and the 100 comments of :func:`mixed_comments`
    held for review. Yields the base URL, the app and each comment's intended decision."""
    from werkzeug.serving import make_server

    from classifier import ModelRegistry, seed_corpus
    from classifier.model import CommentClassifier
    from classifier.policy import POLICY_KEYS, Rule
    from service import create_app
    from service.extensions import db

    registry = ModelRegistry(work / "models")
    corpus = seed_corpus(ROOT / "training_data")
    started = time.perf_counter()
    version = registry.save(CommentClassifier().fit(corpus.texts, corpus.y,
                                                    groups=corpus.row_groups()),
                            {"training_data": {"source": "seed", "rows": len(corpus)}})
    registry.activate(version)
    print(f"trained the default model in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    app = create_app({"APP_ENV": "testing", "DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
                      "MODEL_DIR": str(work / "models"), "INSTANCE_PATH": str(work),
                      "SECRET_KEY": "bench-moderation-secret-key"})
    with app.app_context():
        db.create_all()
        issued = services(app).sites.create(
            "bench", rules={key: Rule(0.0, None) for key in POLICY_KEYS})  # hold everything
        services(app).accounts.create("mod", PASSWORD, "moderator", ["bench"])
        services(app).accounts.create("ada", PASSWORD, "admin")
    client = app.test_client()
    intended = {}
    for n, (text, action, reason) in enumerate(mixed_comments()):
        response = client.post("/v1/comments",
                               headers={"Authorization": f"Bearer {issued.api_key}"},
                               json={"article_id": f"story-{n % 4}",
                                     "article_title": f"Council budget, part {n % 4 + 1}",
                                     "author": {"id": f"r{n % 30}", "name": f"Reader {n % 30}"},
                                     "text": text})
        intended[response.json["id"]] = (action, reason)
    http = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{http.server_port}", app, intended
    finally:
        http.shutdown()


def browser_page(driver, base: str, username: str):
    """A signed-in page at 1366x768 in Debian's chromium."""
    browser = driver.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
    page = browser.new_context(base_url=base, viewport={"width": 1366, "height": 768}
                               ).new_page()
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/moderation/"))
    return browser, page


def main() -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sys.exit("needs the playwright package (pip install -r requirements-dev.txt)")
    if not CHROMIUM.exists():
        sys.exit("needs Debian's chromium: apt-get install -y chromium")
    actions, loads, keys = [], [], 0
    with demo_server(Path(tempfile.mkdtemp(prefix="bench-moderation-"))) as (base, _, intended), \
            sync_playwright() as driver:
        browser, page = browser_page(driver, base, "mod")
        for _ in range(5):  # the queue page, loaded as a moderator opens it
            t = time.perf_counter()
            page.goto("/moderation/")
            page.wait_for_selector("tr.item.selected")
            loads.append((time.perf_counter() - t) * 1000)
        whole = time.perf_counter()
        for _ in range(len(intended)):
            row = page.wait_for_selector("tr.item.selected")
            comment_id = int(row.get_attribute("data-id"))
            action, reason = intended[comment_id]
            if action == "approve":
                key = "a"
            elif page.inner_text("#suggested") == reason:
                key = "r"
            else:
                key = str(row.get_attribute("data-reasons").split("|").index(reason) + 1)
            t = time.perf_counter()
            page.keyboard.press(key)
            page.wait_for_selector(f'tr.item[data-id="{comment_id}"]', state="detached")
            page.wait_for_function("() => !document.querySelector('tr.item.deciding')")
            actions.append((time.perf_counter() - t) * 1000)
            keys += 1
        elapsed = time.perf_counter() - whole
        browser.close()

    n = len(intended)
    print(f"\n{n} held comments cleared by keyboard in a real browser (chromium, werkzeug on "
          f"SQLite, one machine)\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| keystrokes per decision | {keys / n:.2f} |")
    print(f"| action latency p50 / p95 / max (key to row gone, stored) | "
          f"{percentile(actions, 50):.0f} / {percentile(actions, 95):.0f} / {max(actions):.0f} ms "
          f"(goal < {GOAL_MS} ms) |")
    print(f"| queue page load p50 / max (50 rows, why and highlights) | "
          f"{percentile(loads, 50):.0f} / {max(loads):.0f} ms |")
    print(f"| {n} decisions, the browser waiting for each | {elapsed:.1f} s |")


if __name__ == "__main__":
    main()
