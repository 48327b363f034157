"""`flask --app wsgi sites ...` as an operator uses it."""

import json

from sqlalchemy import select

from service.extensions import db
from service.sites.models import Site


def create(runner, *args):
    result = runner.invoke(args=["sites", "create", *args])
    assert result.exit_code == 0, result.output
    return result


def test_create_json_prints_the_key_and_secret_once(app, runner, client):
    data = json.loads(create(runner, "bugle", "--webhook-url", "https://bugle.example/hook",
                             "--json").output)
    assert {"id", "name", "api_key", "webhook_secret"} <= set(data)
    assert data["webhook_secret"].startswith("whsec_")
    assert data["webhook_url"] == "https://bugle.example/hook"
    with app.app_context():
        site = db.session.scalar(select(Site))
        assert data["api_key"] not in (site.key_hash, site.key_prefix)
    response = client.post("/v1/score", json={"text": "hi"},
                           headers={"Authorization": f"Bearer {data['api_key']}"})
    assert response.status_code == 200


def test_create_plain_output_shows_the_key(runner):
    output = create(runner, "bugle").output
    assert "API key (shown once" in output and "mk_" in output


def test_a_duplicate_name_is_refused(runner):
    create(runner, "bugle")
    result = runner.invoke(args=["sites", "create", "bugle"])
    assert result.exit_code != 0
    assert "already exists" in result.output


def test_if_missing_leaves_an_existing_site_alone(runner):
    create(runner, "demo")
    result = create(runner, "demo", "--if-missing")
    assert "exists already" in result.output and "mk_" not in result.output


def test_invalid_options_are_refused_with_the_field(runner):
    result = runner.invoke(args=["sites", "create", "x", "--approve-below", "0.95",
                                 "--reject-at", "0.5"])
    assert result.exit_code != 0 and "approve_below" in result.output
    result = runner.invoke(args=["sites", "create", "x", "--webhook-url", "ftp://nope"])
    assert result.exit_code != 0 and "webhook_url" in result.output


def test_list_json_never_shows_keys(runner):
    key = json.loads(create(runner, "bugle", "--json").output)["api_key"]
    output = runner.invoke(args=["sites", "list", "--json"]).output
    sites = json.loads(output)
    assert [s["name"] for s in sites] == ["bugle"]
    assert key not in output and "api_key" not in output


def test_rotate_key_replaces_the_old_key(runner, client):
    old = json.loads(create(runner, "bugle", "--json").output)["api_key"]
    new = json.loads(runner.invoke(args=["sites", "rotate-key", "bugle", "--json"]).output)["api_key"]
    assert new != old
    def status(key):
        return client.post("/v1/score", json={"text": "hi"},
                           headers={"Authorization": f"Bearer {key}"}).status_code
    assert (status(old), status(new)) == (401, 200)


def test_update_changes_thresholds(runner):
    create(runner, "bugle")
    result = runner.invoke(args=["sites", "update", "bugle", "--approve-below", "0.2"])
    assert json.loads(result.output)["approve_below"] == 0.2


def test_update_sets_flags_to_review_and_reject_reasons(runner):
    create(runner, "bugle")
    result = runner.invoke(args=["sites", "update", "bugle", "--flags-to-review", "5",
                                 "--reject-reasons", "spam, abuse ,libel"])
    assert result.exit_code == 0, result.output
    site = json.loads(result.output)
    assert site["flags_to_review"] == 5
    assert site["reject_reasons"] == ["spam", "abuse", "libel"]
    bad = runner.invoke(args=["sites", "update", "bugle", "--reject-reasons", "<b>"])
    assert bad.exit_code != 0 and "reject_reasons" in bad.output
