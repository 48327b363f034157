"""`flask --app wsgi sites ...` as an operator uses it."""

import json

from sqlalchemy import select

from service.extensions import db
from service.sites.models import Site
from tests.conftest import make_user


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
    result = runner.invoke(args=["sites", "create", "x", "--label", "insult=hold:0.9,reject:0.5"])
    assert result.exit_code != 0 and "hold_at (0.9) must not exceed" in result.output
    result = runner.invoke(args=["sites", "create", "x", "--label", "hate=publish"])
    assert result.exit_code != 0 and "'hate' is not a label" in result.output
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


def test_update_sets_the_policy_preset_and_single_rules(runner):
    create(runner, "bugle")
    result = runner.invoke(args=["sites", "update", "bugle", "--label", "obscene=hold:0.8",
                                 "--label", "spam=hold:0.4,reject:0.9"])
    policy = json.loads(result.output)["policy"]
    assert policy["preset"] == "standard" and policy["overrides"] == ["obscene", "spam"]
    assert policy["rules"]["obscene"] == {"hold_at": 0.8, "reject_at": None}
    assert policy["rules"]["spam"] == {"hold_at": 0.4, "reject_at": 0.9}
    result = runner.invoke(args=["sites", "update", "bugle", "--label", "spam=default"])
    assert json.loads(result.output)["policy"]["overrides"] == ["obscene"]
    result = runner.invoke(args=["sites", "update", "bugle", "--policy", "strict"])
    policy = json.loads(result.output)["policy"]
    assert (policy["preset"], policy["overrides"]) == ("strict", [])
    assert "strict" in runner.invoke(args=["sites", "list"]).output


def test_the_admin_api_reads_and_changes_a_sites_policy(app, client, runner):
    create(runner, "bugle")
    admin = make_user(app, "root", "admin")
    headers = {"Authorization": f"Bearer {admin.token}"}
    assert client.get("/v1/admin/sites/bugle/policy", headers=headers).json["preset"] == "standard"
    changed = client.put("/v1/admin/sites/bugle/policy", headers=headers,
                         json={"preset": "permissive", "rules": {"insult": {"hold_at": 0.6}}})
    assert changed.status_code == 200, changed.json
    assert changed.json["preset"] == "permissive" and changed.json["overrides"] == ["insult"]
    bad = client.put("/v1/admin/sites/bugle/policy", headers=headers,
                     json={"rules": {"insult": {"hold_at": 0.9, "reject_at": 0.2}}})
    assert bad.status_code == 422 and "hold_at" in str(bad.json["errors"])


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
