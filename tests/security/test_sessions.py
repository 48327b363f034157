"""Sessions and tokens that end when they should: sign-out ends every session of the user, a
new password too, a disabled account can do nothing, a revoked token nothing; a stolen
session cookie is not made good again by a forged X-Forwarded-For."""

from tests.conftest import csrf_token_of, make_user, sign_in


def signed_in_client(app, account, address="10.0.0.1"):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    sign_in(client, account)
    return client


def can_see_queue(client) -> bool:
    return client.get("/moderation/").status_code == 200


def test_signing_out_ends_every_session_of_the_user(app):
    mary = make_user(app, "mary")
    laptop, phone = signed_in_client(app, mary), signed_in_client(app, mary)
    assert can_see_queue(laptop) and can_see_queue(phone)
    token = csrf_token_of(laptop.get("/moderation/").get_data(as_text=True))
    laptop.post("/logout", data={"csrf_token": token})
    assert not can_see_queue(phone)  # a saved cookie no longer works either
    assert can_see_queue(signed_in_client(app, mary))


def test_a_new_password_ends_every_session(app, runner):
    mary = make_user(app, "mary")
    browser = signed_in_client(app, mary)
    result = runner.invoke(args=["users", "password", "mary", "--password-stdin"],
                           input="a-brand-new-password\n")
    assert result.exit_code == 0, result.output
    assert not can_see_queue(browser)


def test_a_disabled_account_can_do_nothing_until_enabled(app, runner, client):
    mary = make_user(app, "mary")
    browser = signed_in_client(app, mary)
    assert client.get("/v1/moderation/queue", headers=mary.headers).status_code == 200
    assert runner.invoke(args=["users", "disable", "mary"]).exit_code == 0
    assert not can_see_queue(browser)
    assert client.get("/v1/moderation/queue", headers=mary.headers).status_code == 401
    fresh = app.test_client()
    token = csrf_token_of(fresh.get("/login").get_data(as_text=True))
    refused = fresh.post("/login", data={"username": "mary", "password": mary.password,
                                         "csrf_token": token})
    assert refused.status_code == 401
    assert runner.invoke(args=["users", "enable", "mary"]).exit_code == 0
    assert can_see_queue(signed_in_client(app, mary))
    # The old token stays revoked: a new one is issued with users token.
    assert client.get("/v1/moderation/queue", headers=mary.headers).status_code == 401


def test_a_revoked_token_is_refused(app, runner, client):
    mary = make_user(app, "mary")
    assert client.get("/v1/moderation/queue", headers=mary.headers).status_code == 200
    assert runner.invoke(args=["users", "revoke-token", "mary"]).exit_code == 0
    assert client.get("/v1/moderation/queue", headers=mary.headers).status_code == 401


def test_a_forged_x_forwarded_for_does_not_carry_a_stolen_session(app):
    mary = make_user(app, "mary")
    victim = signed_in_client(app, mary, address="10.0.0.1")
    assert can_see_queue(victim)
    thief = app.test_client()
    thief.environ_base["REMOTE_ADDR"] = "192.0.2.66"
    cookie = victim.get_cookie("session")
    thief.set_cookie("session", cookie.value)
    stolen = thief.get("/moderation/", headers={"X-Forwarded-For": "10.0.0.1"})
    assert stolen.status_code == 302 and "/login" in stolen.headers["Location"]


def test_a_strangers_wrong_passwords_do_not_lock_a_moderator_out(app):
    mary = make_user(app, "mary")
    stranger = app.test_client()
    stranger.environ_base["REMOTE_ADDR"] = "192.0.2.66"
    for _ in range(8):
        token = csrf_token_of(stranger.get("/login").get_data(as_text=True))
        stranger.post("/login", data={"username": "mary", "password": "a wrong guess!",
                                      "csrf_token": token})
    token = csrf_token_of(stranger.get("/login").get_data(as_text=True))
    locked = stranger.post("/login", data={"username": "mary", "password": mary.password,
                                           "csrf_token": token})
    assert locked.status_code == 429  # the guesser's own address backs off
    assert can_see_queue(signed_in_client(app, mary, address="10.0.0.1"))  # mary is not
