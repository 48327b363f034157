"""Signing in to the web UI: sessions, CSRF, cookie flags, back-off, safe redirects."""

from datetime import timedelta

from service import create_app
from service.container import services
from service.extensions import utcnow
from tests.conftest import csrf_token_of, make_user, sign_in


def login(client, username, password, token=None, **query):
    token = token or csrf_token_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", query_string=query,
                       data={"username": username, "password": password, "csrf_token": token})


def test_pages_ask_to_sign_in_first(client):
    response = client.get("/moderation/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_sign_in_and_out(app, client):
    account = make_user(app, "mary")
    response = login(client, "mary", account.password)
    assert response.status_code == 302 and response.headers["Location"] == "/moderation/"
    assert "mary (moderator)" in client.get("/moderation/").get_data(as_text=True)
    token = csrf_token_of(client.get("/moderation/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/moderation/").status_code == 302


def test_wrong_password_or_unknown_user_is_one_answer(app, client):
    make_user(app, "mary")
    wrong = login(client, "mary", "not the password")
    unknown = login(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong username or password." in wrong.get_data(as_text=True)
    assert "Wrong username or password." in unknown.get_data(as_text=True)


def test_a_login_without_its_csrf_token_is_refused(app, client):
    account = make_user(app, "mary")
    client.get("/login")
    response = client.post("/login", data={"username": "mary", "password": account.password})
    assert response.status_code == 400
    assert client.get("/moderation/").status_code == 302


def test_forms_after_sign_in_need_the_csrf_token(app, client):
    account = make_user(app, "mary")
    sign_in(client, account)
    assert client.post("/logout").status_code == 400
    assert client.post("/moderation/bulk", data={"ids": "1", "action": "approve"}
                       ).status_code == 400


def test_repeated_failures_back_off_even_for_the_right_password(app, client):
    account = make_user(app, "mary")
    for _ in range(5):
        assert login(client, "mary", "wrong password!").status_code == 401
    locked = login(client, "mary", account.password)
    assert locked.status_code == 429
    assert "try again in 30 seconds" in locked.get_data(as_text=True)
    with app.app_context():
        accounts = services(app).accounts
        later = utcnow() + timedelta(seconds=31)
        here = "127.0.0.1"  # the test client's address: the back-off is counted per address
        assert accounts.login("mary", "wrong again!!", address=here, now=later).user is None
        # The next failure doubles the wait.
        assert accounts.login("mary", account.password, address=here,
                              now=later).retry_after > 30
        assert accounts.login("mary", account.password, address=here,
                              now=later + timedelta(seconds=61)).user is not None


def test_the_session_cookie_is_httponly_and_samesite(app, client):
    account = make_user(app, "mary")
    cookies = login(client, "mary", account.password).headers.getlist("Set-Cookie")
    cookie = next(value for value in cookies if value.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # tests and development run over plain http


def test_the_session_cookie_is_secure_in_production(app_config):
    app = create_app({**app_config, "APP_ENV": "production"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_next_only_leads_to_this_site(app, client):
    account = make_user(app, "mary")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = login(client, "mary", account.password, next=target)
        assert response.headers["Location"] == "/moderation/", target
        client.post("/logout", data={"csrf_token": csrf_token_of(
            client.get("/moderation/").get_data(as_text=True))})
    kept = login(client, "mary", account.password, next="/moderation/dashboard")
    assert kept.headers["Location"] == "/moderation/dashboard"


def test_unknown_usernames_back_off_too(client):
    answers = [login(client, "nobody", "wrong password!").status_code for _ in range(6)]
    assert answers == [401] * 5 + [429]


def test_parallel_guesses_get_no_more_checks_than_sequential_ones(app):
    from concurrent.futures import ThreadPoolExecutor

    make_user(app, "mary")

    def guess(_):
        with app.app_context():
            return services(app).accounts.login("mary", "a wrong guess").retry_after

    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(guess, range(24)))
    assert waits.count(0) == 5  # checked; every other guess was refused unchecked


def test_nul_in_the_login_form_is_refused(client):
    response = login(client, "ma\x00ry", "wrong password!")
    assert response.status_code == 400
