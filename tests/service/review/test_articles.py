"""Story queues: each article's counts per queue and latest activity; closing an article to
new comments (by hand, or after the site's auto_close_days) and opening it again."""

from datetime import timedelta

from service.comments.models import Article
from service.container import services
from service.extensions import db, utcnow
from tests.conftest import HOLD_ALL, make_site, make_user, sign_in, submit


def decide(client, account, comment_id, action, **extra):
    response = client.post(f"/v1/moderation/comments/{comment_id}/decision",
                           json={"action": action, **extra}, headers=account.headers)
    assert response.status_code == 200, response.json


def articles(client, account, **query) -> list[dict]:
    response = client.get("/v1/moderation/articles", headers=account.headers,
                          query_string=query)
    assert response.status_code == 200, response.json
    return response.json["items"]


def closed(client, account, article_id: int, value: bool) -> dict:
    response = client.put(f"/v1/moderation/articles/{article_id}/closed",
                          json={"closed": value}, headers=account.headers)
    assert response.status_code == 200, response.json
    return response.json


def test_articles_list_their_queues_latest_activity_first(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL)
    make_site(app, "planet")
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    budget = [submit(client, site, f"On the budget, point {n}.", article="budget")["id"]
              for n in range(3)]
    submit(client, site, "On the harbour.", article="harbour")
    decide(client, moderator, budget[0], "approve")
    decide(client, moderator, budget[1], "reject", reason="spam")
    rows = articles(client, moderator)
    assert [row["article_id"] for row in rows] == ["budget", "harbour"]  # decided last
    assert rows[0]["counts"] == {"pending": 1, "reported": 0, "rejected": 1, "approved": 1}
    assert rows[1]["counts"]["pending"] == 1 and rows[0]["closed_since"] is None
    assert rows[0]["site"] == "bugle" and rows[0]["title"] == "Article budget"


def test_a_closed_article_refuses_new_comments_until_reopened(app, client):
    site = make_site(app, "bugle")
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    submit(client, site, "First!", article="budget")
    article_id = articles(client, moderator)[0]["id"]
    assert closed(client, moderator, article_id, True)["closed_since"] is not None
    refused = client.post("/v1/comments", headers=site.headers, json={
        "article_id": "budget", "author": {"id": "r2"}, "text": "Too late?"})
    assert refused.status_code == 409
    assert "article 'budget' is closed to new comments" in refused.json["message"]
    assert closed(client, moderator, article_id, False)["closed_since"] is None
    submit(client, site, "Open again.", article="budget")


def test_articles_close_by_themselves_after_the_sites_days(app, client):
    site = make_site(app, "bugle")
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    submit(client, site, "First!", article="old")
    with app.app_context():
        services(app).sites.update("bugle", auto_close_days=2)
        db.session.query(Article).update({"created_at": utcnow() - timedelta(days=3)})
        db.session.commit()
    refused = client.post("/v1/comments", headers=site.headers, json={
        "article_id": "old", "author": {"id": "r2"}, "text": "Still here?"})
    assert refused.status_code == 409 and "closed to new comments" in refused.json["message"]
    submit(client, site, "A new article is open.", article="new")
    row = next(r for r in articles(client, moderator) if r["article_id"] == "old")
    assert row["closed_since"] is not None
    closed(client, moderator, row["id"], False)  # two more days from now
    submit(client, site, "Reopened.", article="old")


def test_another_sites_moderator_sees_no_article(app, client):
    site = make_site(app, "bugle")
    make_site(app, "planet")
    make_user(app, "mary", "moderator", ("bugle",))
    stranger = make_user(app, "pete", "moderator", ("planet",))
    submit(client, site, "First!", article="budget")
    assert articles(client, stranger) == []
    with app.app_context():
        article_id = db.session.query(Article.id).scalar()
    assert client.put(f"/v1/moderation/articles/{article_id}/closed", json={"closed": True},
                      headers=stranger.headers).status_code == 404


def test_the_articles_page_closes_and_links_each_articles_queue(app, client):
    site = make_site(app, "bugle", rules=HOLD_ALL)
    moderator = make_user(app, "mary", "moderator", ("bugle",))
    submit(client, site, "<b>On</b> the budget.", article="budget")
    token = sign_in(client, moderator)
    html = client.get("/moderation/articles").get_data(as_text=True)
    assert "Article budget" in html
    assert "/moderation/?queue=pending&amp;site=bugle&amp;article=budget" in html
    with app.app_context():
        article_id = db.session.query(Article.id).scalar()
    done = client.post(f"/moderation/articles/{article_id}/closed", follow_redirects=True,
                       data={"closed": "1", "csrf_token": token}).get_data(as_text=True)
    assert "Article budget: closed to new comments." in done and "Reopen" in done
