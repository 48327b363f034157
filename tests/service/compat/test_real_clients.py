"""The real clients of the APIs this service imitates, against gunicorn as `make run` serves:
Google's client library through the discovery document, Coral Talk's exact requests, and
OpenAI's Python SDK. Loopback only.

(The npm package ``perspective-api-client`` cannot be pointed at another endpoint: its URL is
a constant in its source, so it is not tested here; see docs/SWITCHING_FROM_PERSPECTIVE.md.)
"""

from __future__ import annotations

import json
import posixpath
from types import SimpleNamespace
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest
import requests
from sqlalchemy import select

from service import create_app
from service.extensions import db
from service.retraining.models import TrainingExample
from tests.conftest import make_site
from tests.reliability.conftest import Gunicorn, service_env

ABUSE = "You are a pathetic idiot and everyone here hates you."
CIVIL = "The council should publish the tender documents for the bridge."


@pytest.fixture(scope="module")
def served(tmp_path_factory, model_dir):
    folder = tmp_path_factory.mktemp("compat")
    env = {**service_env(f"sqlite:///{folder / 'compat.db'}", model_dir, folder),
           "LOG_LEVEL": "INFO"}
    app = create_app(env)
    with app.app_context():
        db.create_all()
    site = make_site(app, "bugle")
    server = Gunicorn(env, folder / "gunicorn.log", access_log=True)
    server.start()
    try:
        yield SimpleNamespace(app=app, base=server.base, server=server,
                              key=site.headers["Authorization"].split()[1])
    finally:
        server.stop()


def examples(app, token: str) -> list[tuple[str, int | None, str]]:
    with app.app_context():
        db.session.remove()
        return [tuple(row) for row in db.session.execute(
            select(TrainingExample.text, TrainingExample.toxicity, TrainingExample.source)
            .where(TrainingExample.client_token == token))]


def test_googles_client_library_works_through_the_discovery_document(served):
    from googleapiclient import discovery
    from googleapiclient.errors import HttpError

    client = discovery.build(
        "commentanalyzer", "v1alpha1", developerKey=served.key,
        discoveryServiceUrl=f"{served.base}/$discovery/rest?version={{apiVersion}}",
        static_discovery=False, cache_discovery=False)
    answer = client.comments().analyze(body={
        "comment": {"text": ABUSE}, "requestedAttributes": {"TOXICITY": {}, "INSULT": {}},
        "languages": ["en"], "doNotStore": True}).execute()
    assert answer["attributeScores"]["TOXICITY"]["summaryScore"]["value"] > 0.8
    assert answer["attributeScores"]["INSULT"]["summaryScore"]["type"] == "PROBABILITY"

    suggested = client.comments().suggestscore(body={
        "comment": {"text": "A reader's remark the desk approved."}, "clientToken": "gapi:1",
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}}}).execute()
    assert suggested["clientToken"] == "gapi:1"
    ((text, toxicity, source),) = examples(served.app, "gapi:1")
    assert (text, toxicity) == ("A reader's remark the desk approved.", 0)
    assert source.startswith("perspective:site")

    with pytest.raises(HttpError) as refused:
        client.comments().analyze(body={"comment": {"text": CIVIL},
                                        "requestedAttributes": {"FLIRTATION": {}}}).execute()
    assert refused.value.status_code == 400
    assert "Unknown requested attribute: FLIRTATION" in refused.value.reason


def coral_url(endpoint: str, operation: str, key: str) -> str:
    """What Coral Talk's perspective.ts does: ``url.pathname = path.join(url.pathname,
    "/" + operation)`` (Node's join normalises slashes), then ``searchParams.set("key")``."""
    parts = urlsplit(endpoint.strip())
    path = posixpath.normpath(posixpath.join(parts.path or "/", operation))
    query = "&".join(filter(None, [parts.query, urlencode({"key": key})]))
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


@pytest.mark.parametrize("suffix", ["/v1alpha1", "/v1alpha1/"])
def test_coral_talks_requests_and_its_reading_of_the_answer(served, suffix):
    endpoint = served.base + suffix  # the admin's "Custom endpoint"
    headers = {"Content-Type": "application/json", "User-Agent": "Coral Perspective/9.8.0"}
    model, threshold = "TOXICITY", 0.8  # Talk's defaults

    def toxic(text: str) -> bool:
        response = requests.post(coral_url(endpoint, "comments:analyze", served.key),
                                 data=json.dumps({"comment": {"text": text}, "doNotStore": True,
                                                  "requestedAttributes": {model: {}},
                                                  "languages": ["en"]}),
                                 headers=headers, timeout=5, allow_redirects=False)
        assert response.status_code == 200, response.text
        score = response.json()["attributeScores"][model]["summaryScore"]["value"]
        return score > threshold  # toxic.ts: isToxic = score > threshold

    assert toxic(ABUSE) and not toxic(CIVIL)

    # events/listeners/perspective.ts: a moderator rejected comment 5f1c (value 1).
    comment_id = f"5f1c{len(suffix)}"
    feedback = requests.post(
        coral_url(endpoint, "comments:suggestscore", served.key), headers=headers, timeout=5,
        allow_redirects=False, data=json.dumps({
            "comment": {"text": ABUSE},
            "context": {"entries": [{"text": json.dumps({
                "url": f"https://news.example/story?commentID={comment_id}",
                "reply_to_id_Coral_comment_id": None, "Coral_comment_id": comment_id})}]},
            "attributeScores": {model: {"summaryScore": {"value": 1}}},
            "languages": ["en"], "communityId": "Coral:https://news.example",
            "clientToken": f"comment:{comment_id}"}))
    assert 200 <= feedback.status_code < 300, feedback.text
    ((text, toxicity, _),) = examples(served.app, f"comment:{comment_id}")
    assert (text, toxicity) == (ABUSE, 1)


def test_openais_sdk_moderates_through_the_base_url(served):
    import openai

    client = openai.OpenAI(base_url=f"{served.base}/v1", api_key=served.key, max_retries=0)
    answer = client.moderations.create(input=[ABUSE, CIVIL])
    abusive, civil = answer.results
    assert abusive.flagged and abusive.categories.harassment
    assert abusive.category_scores.harassment > 0.5 > civil.category_scores.harassment
    assert not civil.flagged and civil.category_scores.self_harm == 0
    dumped = civil.model_dump(by_alias=True)
    assert "harassment/threatening" in dumped["category_scores"]
    assert answer.model.startswith("comment-moderation-")

    wrong = openai.OpenAI(base_url=f"{served.base}/v1", api_key="mk_nope_nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as refused:
        wrong.moderations.create(input=CIVIL)
    assert refused.value.code == "invalid_api_key"


def test_the_key_in_the_query_string_is_never_logged(served):
    requests.post(f"{served.base}/v1alpha1/comments:analyze?key={served.key}",
                  json={"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {}}},
                  timeout=5)
    requests.post(f"{served.base}/v1alpha1/comments:analyze?key={served.key}x",
                  json={"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {}}},
                  timeout=5)
    log = served.server.log.read_text(errors="replace")
    assert "/v1alpha1/comments:analyze" in log  # the access lines are there ...
    assert served.key not in log and served.key[:16] not in log  # ... without the key
