"""Where a sign-in leads: a path on this site only, and never a header broken by a line
break (which used to answer 500)."""

from tests.conftest import csrf_token_of, make_user


def test_a_line_break_in_next_leads_to_the_queue_not_a_crash(app, client):
    account = make_user(app, "mary")
    for target in ("/moderation/\r\nSet-Cookie: evil=1", "/moderation/\nx", "/a\x00b", "/\tx"):
        token = csrf_token_of(client.get("/login").get_data(as_text=True))
        response = client.post("/login", query_string={"next": target}, data={
            "username": "mary", "password": account.password, "csrf_token": token})
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/moderation/"
        assert "evil" not in response.headers.get("Set-Cookie", "")
        client.post("/logout", data={"csrf_token": csrf_token_of(
            client.get("/moderation/").get_data(as_text=True))})


def test_a_model_version_with_a_trailing_newline_is_no_version_and_no_path_is_shown(
        app, client, tmp_path):
    admin = make_user(app, "ada", "admin")
    active = client.get("/v1/admin/models", headers=admin.headers).json["items"][0]["version"]
    for asked in (f"{active}%0A", "20990101T000000Z-abcdef"):
        response = client.get(f"/v1/admin/models/{asked}", headers=admin.headers)
        assert response.status_code == 404, asked
        assert str(tmp_path) not in response.get_data(as_text=True)
        assert "/models" not in response.json["message"]
