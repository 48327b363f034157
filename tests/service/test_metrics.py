"""/metrics: what a Prometheus scrape sees after real traffic, who may scrape, and the sums
over gunicorn's workers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from classifier import ModelRegistry
from service import create_app
from service.config import ConfigError
from tests.conftest import make_site, make_user, submit
from tests.test_e2e_http import served_model_dir, server  # noqa: F401 (fixtures)

CLEAN = "Thoughts with everyone in the flooded villages tonight."
ABUSIVE = "Shut up you pathetic moron, I know where you live and I will hurt you."
BORDERLINE = "You are a pathetic idiot and a disgrace, shut up."  # an insult: held under standard
TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
def sqlite_config(model_dir, tmp_path) -> dict[str, str]:
    """Settings on SQLite alone, for what does not depend on the database."""
    return {"APP_ENV": "testing", "DATABASE_URL": f"sqlite:///{tmp_path / 'metrics.db'}",
            "MODEL_DIR": str(model_dir), "SECRET_KEY": "test-secret-key-not-for-production",
            "INSTANCE_PATH": str(tmp_path)}


@pytest.fixture
def sqlite_only(database_url) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("gunicorn's workers sum their counts the same on any database")


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape by (name, sorted labels)."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_scrape_reports_latency_decisions_queues_lag_and_model(app, client, model_dir):
    site = make_site(app, "bugle", webhook_url="https://bugle.example/hooks")
    decided = [submit(client, site, text, author=f"r{i}")
               for i, text in enumerate([CLEAN, ABUSIVE, BORDERLINE, CLEAN])]
    assert [c["status"] for c in decided] == ["approved", "rejected", "pending_review",
                                              "approved"]
    # Hostile paths: the latency is labelled by the route, never by the path sent.
    client.get("/v1/comments/999999", headers=site.headers)
    client.get("/wp-admin/%3Cscript%3E/../../etc/passwd")
    admin = make_user(app, "root", role="admin")
    counts = client.get("/v1/moderation/queue", headers=admin.headers).json["counts"]

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples = scrape(response.get_data(as_text=True))

    active = ModelRegistry(model_dir).active_version()
    assert {c["model_version"] for c in decided} == {active}
    assert value(samples, "moderation_model_info", version=active) == 1
    for outcome, expected in {"approved": 2, "rejected": 1, "pending_review": 1}.items():
        assert value(samples, "moderation_decisions_total",
                     outcome=outcome, model_version=active) == expected
    assert value(samples, "moderation_http_request_duration_seconds_count",
                 endpoint="/v1/comments", method="POST", status_class="2xx") == 4
    assert value(samples, "moderation_http_request_duration_seconds_count",
                 endpoint="/v1/comments/<int:comment_id>", method="GET",
                 status_class="4xx") == 1
    assert value(samples, "moderation_http_request_duration_seconds_count",
                 endpoint="<unmatched>", method="GET", status_class="4xx") == 1
    endpoints = {dict(labels).get("endpoint") for name, labels in samples
                 if name.startswith("moderation_http_request_duration_seconds")}
    assert not any("999999" in e or "passwd" in e for e in endpoints)

    assert counts == {"pending": 1, "reported": 0, "rejected": 1, "approved": 2}
    for queue, count in counts.items():
        assert value(samples, "moderation_queue_comments", queue=queue) == count
    assert value(samples, "moderation_metrics_database_up") == 1
    # Nothing was delivered: every decision's event waits, the oldest since the first one.
    assert value(samples, "moderation_webhook_pending_events") == 4
    assert 0 < value(samples, "moderation_webhook_oldest_pending_age_seconds") < 3600


def test_an_idle_service_reports_empty_queues_and_no_lag(client):
    samples = scrape(client.get("/metrics").get_data(as_text=True))
    assert value(samples, "moderation_queue_comments", queue="pending") == 0
    assert value(samples, "moderation_webhook_pending_events") == 0
    assert value(samples, "moderation_webhook_oldest_pending_age_seconds") == 0


def test_a_database_that_is_down_does_not_fail_the_scrape(sqlite_config):
    # Nothing listens on port 1: every connection is refused at once.
    app = create_app({**sqlite_config,
                      "DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:1/none"})
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    samples = scrape(response.get_data(as_text=True))
    assert value(samples, "moderation_metrics_database_up") == 0
    assert any(name == "moderation_model_info" for name, _ in samples)
    assert not any(name.startswith(("moderation_queue", "moderation_webhook"))
                   for name, _ in samples)


@pytest.mark.parametrize("remote, headers, allowed", [
    ("127.0.0.1", {}, True),
    ("::1", {}, True),
    ("10.0.0.7", {}, False),
    ("203.0.113.9", {}, False),
    # A proxy on this machine makes every caller local: what it forwards is refused.
    ("127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}, False),
    ("127.0.0.1", {"Forwarded": "for=203.0.113.9"}, False),
    ("127.0.0.1", {"X-Real-IP": "203.0.113.9"}, False),
])
def test_without_a_token_only_direct_loopback_callers_may_scrape(sqlite_config, remote,
                                                                 headers, allowed):
    client = create_app(sqlite_config).test_client()
    response = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": remote})
    assert response.status_code == (200 if allowed else 404)
    if not allowed:
        assert "moderation_" not in response.get_data(as_text=True)


@pytest.mark.parametrize("remote, authorization, allowed", [
    ("203.0.113.9", f"Bearer {TOKEN}", True),
    ("127.0.0.1", f"bearer {TOKEN}", True),
    ("127.0.0.1", None, False),  # with a token set, loopback alone is not enough
    ("203.0.113.9", f"Bearer {TOKEN}x", False),
    ("203.0.113.9", f"Basic {TOKEN}", False),
])
def test_with_a_token_only_its_holders_may_scrape(sqlite_config, remote, authorization, allowed):
    client = create_app({**sqlite_config, "METRICS_TOKEN": TOKEN}).test_client()
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": remote})
    assert response.status_code == (200 if allowed else 404)


def test_a_short_metrics_token_stops_start_up(sqlite_config):
    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        create_app({**sqlite_config, "METRICS_TOKEN": "short"})


def test_gunicorn_workers_counts_are_summed(sqlite_only, server, tmp_path):  # noqa: F811
    """Two workers each decide some of the comments; every scrape, whichever worker answers
    it, reports them all."""
    base, auth, _ = server
    folder = tmp_path / "metrics"  # gunicorn.conf.py's default: INSTANCE_PATH/metrics

    def post(i: int) -> str:
        response = requests.post(f"{base}/v1/comments", headers=auth, timeout=30, json={
            "article_id": "sums", "author": {"id": f"r{i}"}, "text": f"{CLEAN} ({i})"})
        assert response.status_code == 201, response.text
        return response.json()["status"]

    def per_worker() -> list[float]:
        """Each worker's own count of decisions, read from its file alone."""
        return [sum(s.value for m in MultiProcessCollector.merge([str(path)])
                    if m.name == "moderation_decisions" for s in m.samples
                    if s.name == "moderation_decisions_total")
                for path in sorted(folder.glob("counter_*.db"))]

    sent = 0
    with ThreadPoolExecutor(8) as pool:
        for _ in range(5):  # concurrent requests reach both workers, almost always at once
            assert set(pool.map(post, range(sent, sent + 16))) == {"approved"}
            sent += 16
            if sum(1 for count in per_worker() if count) >= 2:
                break
    parts = [count for count in per_worker() if count]
    assert len(parts) == 2 and sum(parts) == sent

    for _ in range(6):  # scrapes land on either worker
        samples = scrape(requests.get(f"{base}/metrics", timeout=10).text)
        decided = sum(v for (name, _), v in samples.items()
                      if name == "moderation_decisions_total")
        assert decided == sent
        assert value(samples, "moderation_http_request_duration_seconds_count",
                     endpoint="/v1/comments", method="POST", status_class="2xx") == sent
    assert requests.get(f"{base}/metrics", timeout=10,
                        headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
