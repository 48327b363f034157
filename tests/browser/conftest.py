"""A real browser against the real app over real HTTP: Debian's Chromium driven by Playwright.

One Chromium and one app per session, the app on a SQLite file and served by werkzeug on a
free port of 127.0.0.1; each test gets an empty database and a fresh browser context (cookies,
storage). A failing test leaves a full-page screenshot in test-artifacts/screenshots/.

Chromium comes from the distribution (``apt-get install -y chromium``), never from
``playwright install``; without it, or without the playwright package, these tests skip.
"""

from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from service import create_app
from service.extensions import db
from tests.conftest import HOLD_ALL, ROOT, Account, SiteKey, make_site, make_user

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
INSTALL_HINT = ("install it with `apt-get install -y chromium` (Debian's package; .ci/run and "
                "`make test` do this when they can)")


@pytest.fixture(scope="session")
def playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # pragma: no cover - depends on the machine
        pytest.skip(f"browser tests need the playwright package ({error}): "
                    "pip install -r requirements-dev.txt")
    if not Path(CHROMIUM).exists():  # pragma: no cover - depends on the machine
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}: {INSTALL_HINT}")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright):
    # An installed Chromium that does not start is an error to see, not a reason to skip.
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serve ``app`` over HTTP from a background thread; yields its base URL."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, name="browser-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(timeout=10)
        http.server_close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@dataclass
class LiveServer:
    app: Flask
    url: str

    def get(self, path: str, **kwargs):
        """A request through Flask's test client, for setting up and checking, not for the UI."""
        return self.app.test_client().get(path, **kwargs)


@pytest.fixture(scope="session")
def live_server(model_dir, tmp_path_factory):
    """The app on a SQLite file, served over HTTP by werkzeug in a background thread.

    One for the session: building an app loads the model (a second or so); each test starts
    from an empty database instead (see ``server``)."""
    instance = tmp_path_factory.mktemp("browser")
    app = create_app({"APP_ENV": "testing", "DATABASE_URL": f"sqlite:///{instance / 'ui.db'}",
                      "MODEL_DIR": str(model_dir), "INSTANCE_PATH": str(instance),
                      "SECRET_KEY": "browser-test-secret-key-not-for-production"})
    with serve(app) as url:
        yield LiveServer(app, url)


@pytest.fixture
def server(live_server):
    """The live server with an empty database: no sites, users or comments of other tests."""
    with live_server.app.app_context():
        db.drop_all()
        db.create_all()
        db.session.remove()
    return live_server


@pytest.fixture
def held_site(server) -> SiteKey:
    """A site that holds every comment for review (nothing scores below 0 or reaches 1)."""
    return make_site(server.app, "daily-bugle", rules=HOLD_ALL)


@pytest.fixture
def moderator(server, held_site) -> Account:
    return make_user(server.app, "mary", "moderator", (held_site.name,))


def _new_context(browser, server, **options):
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900},
                                  **options)
    context.set_default_timeout(10_000)  # a broken page fails in seconds, not in 30
    return context


@pytest.fixture
def page(browser, server):
    context = _new_context(browser, server)
    yield context.new_page()
    context.close()


@pytest.fixture
def page_without_js(browser, server):
    """A page in a context where JavaScript is off, as for a moderator who disabled it."""
    context = _new_context(browser, server, java_script_enabled=False)
    yield context.new_page()
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """When a test with a browser page fails, keep a full-page screenshot of where it was."""
    report = yield
    if report.when == "call" and report.failed:
        try:
            from playwright.sync_api import Error, Page
        except ImportError:  # pragma: no cover - the test was skipped then, not failed
            return report
        pages = [value for value in getattr(item, "funcargs", {}).values()
                 if isinstance(value, Page)]
        for index, page in enumerate(pages):
            name = re.sub(r"[^\w.-]+", "_", item.name) + (f"-{index}" if index else "")
            path = SCREENSHOTS / f"{name}.png"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(path), full_page=True)
            except (Error, OSError) as error:  # a crashed page must not hide the test's failure
                message = f"could not save a screenshot ({error})"
            else:
                message = f"screenshot of {page.url} saved to {path}"
            print(f"\n{message}")
            report.sections.append(("browser screenshot", message))
    return report
