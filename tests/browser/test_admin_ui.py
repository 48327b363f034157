"""The admins' retraining pages in a real browser: start a training from the Models page,
watch it end without touching the page, and read the new model's report with its charts."""

from __future__ import annotations

import re

import pytest

from service.container import services

pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package: "
                    "pip install -r requirements-dev.txt (and apt-get install -y chromium)")
from playwright.sync_api import Page, expect

from service import create_app
from service.extensions import db
from tests.browser.conftest import serve
from tests.browser.test_moderation_ui import csp_directives, record_policy_violations, sign_in
from tests.conftest import make_user, write_small_corpus


@pytest.fixture
def training_server(tmp_path):
    """The app with an empty model registry and a small seed corpus (training takes a second),
    served over HTTP like ``live_server``, but its own: training here must not change the
    model that the other browser tests score with."""
    corpus = write_small_corpus(tmp_path / "training")
    app = create_app({"APP_ENV": "testing", "DATABASE_URL": f"sqlite:///{tmp_path / 'ui.db'}",
                      "MODEL_DIR": str(tmp_path / "models"), "TRAINING_DATA_DIR": str(corpus),
                      "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "browser-test-secret-key-not-for-production"})
    with app.app_context():
        db.create_all()
    with serve(app) as url:
        yield app, url


@pytest.fixture
def admin_page(browser, training_server):
    _, url = training_server
    context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def run_the_queued_job(app) -> None:
    """What the worker does with a queued job (in its child process), done here."""
    with app.app_context():
        job = services(app).jobs.claim_next("browser-test")
        assert job is not None, "the page queued no job"
        done = services(app).job_executor.execute(job.id)
        assert done.status == "succeeded", done.error
        db.session.remove()


def test_train_a_model_and_read_its_report(admin_page: Page, training_server):
    app, _ = training_server
    page = admin_page
    make_user(app, "ada", "admin")
    console = []
    # The browser asks for /favicon.ico, which the app does not have: not the page's error.
    page.on("console", lambda message: console.append(
        f"{message.type}: {message.text} ({message.location.get('url', '')})"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    record_policy_violations(page)

    sign_in(page, "ada")
    page.get_by_role("link", name="Models").click()
    expect(page.get_by_role("heading", name="Models", exact=True)).to_be_visible()
    expect(page.get_by_text("No model has been trained yet.")).to_be_visible()
    expect(page.get_by_label("Promote it if it passes the gate")).to_be_checked()
    page.get_by_role("button", name="Train a new model").click()
    expect(page.locator(".flash.info")).to_contain_text("is queued")
    expect(page.locator("tr.job-queued .stage")).to_have_text("waiting for the worker")

    run_the_queued_job(app)
    # No click: the page reloads itself every 3 seconds while a job is under way.
    active = page.locator("tr.version.active")
    expect(active).to_be_visible(timeout=15_000)
    expect(active).to_contain_text("serving")
    expect(page.locator("tr.job-succeeded .stage")).to_contain_text("trained and promoted")
    version = active.locator("a").first.inner_text()

    response_of = {}
    page.on("response", lambda response: response_of.setdefault(response.url, response))
    active.get_by_role("link", name=version).click()
    expect(page.get_by_role("heading", name=re.compile(f"Model {version}"))).to_be_visible()
    expect(page.locator(".gate.passed").first).to_be_visible()
    images = page.locator("img.report-chart")
    expect(images).to_have_count(3)
    page.wait_for_function("() => [...document.querySelectorAll('img.report-chart')]"
                           ".every(img => img.complete && img.naturalWidth > 0)")
    for src in images.evaluate_all("imgs => imgs.map(img => img.src)"):
        assert response_of[src].header_value("content-type") == "image/png"
    policy = csp_directives(response_of[page.url].header_value("content-security-policy"))
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]

    assert page.evaluate("window.__violations") == []
    assert page.locator("script:not([src]), style, [style]").count() == 0
    assert not [line for line in console if line.startswith(("error", "pageerror"))
                and not line.endswith("/favicon.ico)")], console
