"""`flask --app wsgi users ...` as an operator uses it."""

from sqlalchemy import select

from service.accounts.models import User
from service.container import services
from service.extensions import db
from tests.conftest import PASSWORD, make_site


def test_create_with_password_on_stdin_and_sites(app, runner):
    make_site(app, "bugle")
    result = runner.invoke(args=["users", "create", "mary", "--role", "moderator", "--site",
                                 "bugle", "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "Created moderator 'mary' (bugle)" in result.output
    with app.app_context():
        user = db.session.scalar(select(User))
        assert [site.name for site in user.sites] == ["bugle"]
        # Stored with a current KDF, never in clear.
        assert user.password_hash.startswith("scrypt:") and PASSWORD not in user.password_hash


def test_create_prompts_for_the_password_twice(runner):
    result = runner.invoke(args=["users", "create", "ada", "--role", "admin"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Created admin 'ada' (every site)" in result.output


def test_bad_input_is_refused_with_a_reason(app, runner):
    short = runner.invoke(args=["users", "create", "mary", "--role", "moderator",
                                "--password-stdin"], input="short\n")
    assert short.exit_code != 0 and "password" in short.output
    unknown_site = runner.invoke(args=["users", "create", "mary", "--role", "moderator",
                                       "--site", "nowhere", "--password-stdin"],
                                 input=PASSWORD + "\n")
    assert unknown_site.exit_code != 0 and "no site named 'nowhere'" in unknown_site.output
    bad_role = runner.invoke(args=["users", "create", "mary", "--role", "owner",
                                   "--password-stdin"], input=PASSWORD + "\n")
    assert bad_role.exit_code != 0
    runner.invoke(args=["users", "create", "mary", "--role", "admin", "--password-stdin"],
                  input=PASSWORD + "\n")
    again = runner.invoke(args=["users", "create", "mary", "--role", "admin",
                                "--password-stdin"], input=PASSWORD + "\n")
    assert again.exit_code != 0 and "already exists" in again.output


def test_token_is_printed_once_stored_hashed_and_replaces_the_old_one(app, runner, client):
    runner.invoke(args=["users", "create", "ada", "--role", "admin", "--password-stdin"],
                  input=PASSWORD + "\n")
    first = runner.invoke(args=["users", "token", "ada"]).output.strip()
    second = runner.invoke(args=["users", "token", "ada"]).output.strip()
    assert first.startswith("mt_") and second.startswith("mt_") and first != second
    with app.app_context():
        user = db.session.scalar(select(User))
        assert second not in (user.token_hash, user.token_prefix)

    def status(token):
        return client.get("/v1/moderation/queue",
                          headers={"Authorization": f"Bearer {token}"}).status_code

    assert (status(first), status(second)) == (401, 200)


def test_sites_and_password_can_be_changed(app, runner):
    make_site(app, "bugle")
    make_site(app, "planet")
    runner.invoke(args=["users", "create", "mary", "--role", "moderator", "--password-stdin"],
                  input=PASSWORD + "\n")
    result = runner.invoke(args=["users", "sites", "mary", "--site", "planet", "--site", "bugle"])
    assert result.output.strip() == "mary: bugle, planet"
    changed = runner.invoke(args=["users", "password", "mary", "--password-stdin"],
                            input="another long password\n")
    assert changed.exit_code == 0
    listed = runner.invoke(args=["users", "list"]).output
    assert "mary\tmoderator\tbugle, planet" in listed


def test_a_generated_password_is_printed_once_and_if_missing_keeps_the_user(app, runner, client):
    first = runner.invoke(args=["users", "create", "admin", "--role", "admin",
                                "--generate-password", "--if-missing"])
    assert first.exit_code == 0, first.output
    password = first.output.split("keep it safe): ")[1].strip()
    again = runner.invoke(args=["users", "create", "admin", "--role", "admin",
                                "--generate-password", "--if-missing"])
    assert again.exit_code == 0 and "exists already" in again.output
    assert password not in again.output
    with app.app_context():
        assert services(app).accounts.login("admin", password).user is not None
