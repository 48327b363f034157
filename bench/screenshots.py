"""Screenshots of every page of the moderators' and admins' UI at 1366x768.

    python -m bench.screenshots          (make screenshots)

Serves the demo of bench.moderation (the default model, 100 held comments) and saves a PNG of
each page to docs/screenshots/ (not committed: images are build output here), to look at
after a change to the UI.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench.common import ROOT
from bench.moderation import CHROMIUM, browser_page, demo_server

OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        sys.exit("needs Debian's chromium: apt-get install -y chromium")
    OUT.mkdir(parents=True, exist_ok=True)
    with demo_server(Path(tempfile.mkdtemp(prefix="screenshots-"))) as (base, app, intended), \
            sync_playwright() as driver:
        first = min(intended)
        browser, page = browser_page(driver, base, "mod")
        shots = {"queue": "/moderation/", "item": f"/moderation/comments/{first}",
                 "articles": "/moderation/articles", "author": "/moderation/authors/1",
                 "dashboard": "/moderation/dashboard"}
        for name, path in shots.items():
            page.goto(path)
            page.screenshot(path=str(OUT / f"{name}.png"))
        page.goto("/moderation/")
        page.keyboard.press("h")
        page.wait_for_selector("#drawer:not([hidden])")
        page.screenshot(path=str(OUT / "queue-author-drawer.png"))
        page.keyboard.press("Escape")
        page.keyboard.press("?")
        page.screenshot(path=str(OUT / "keys.png"))
        browser.close()
        browser, page = browser_page(driver, base, "ada")
        for name, path in {"admin-models": "/moderation/admin/models",
                           "admin-examples": "/moderation/admin/examples",
                           "admin-thresholds": "/moderation/admin/thresholds",
                           "admin-policy": "/moderation/admin/sites/bench/policy",
                           "deliveries": "/moderation/deliveries"}.items():
            page.goto(path)
            page.screenshot(path=str(OUT / f"{name}.png"))
        page.goto("/logout")
        browser.close()
        login = driver.chromium.launch(executable_path=str(CHROMIUM),
                                       args=["--headless", "--no-sandbox", "--disable-gpu"])
        fresh = login.new_context(base_url=base, viewport={"width": 1366, "height": 768}).new_page()
        fresh.goto("/login")
        fresh.screenshot(path=str(OUT / "login.png"))
        login.close()
    print("\n".join(sorted(str(p.relative_to(ROOT)) for p in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
