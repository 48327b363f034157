"""The moderators' web UI in a real browser: sign in, work a queue by keyboard, decide in bulk,
everything without JavaScript too, and comment text that never runs as script."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package: "
                    "pip install -r requirements-dev.txt (and apt-get install -y chromium)")
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, submit

MILD = ["The council should publish the budget figures before the vote.",
        "I disagree with the columnist about the new tram line.",
        "Who pays for the bridge repairs, the city or the county?",
        "Good reporting, but the chart on page two has the years swapped.",
        "This is the third closure of the library this year.",
        "The photo caption names the wrong bridge."]


def item_url(comment_id: int) -> re.Pattern:
    return re.compile(rf"/moderation/comments/{comment_id}(\?|$)")


def count(page: Page, queue: str):
    """The count next to a queue's name in the header, as the moderator sees it."""
    return page.locator(f"#count-{queue} .count")


def expect_counts(page: Page, **expected: int) -> None:
    for queue, value in expected.items():
        expect(count(page, queue)).to_have_text(str(value))


def sign_in(page: Page, username: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/moderation/(\?|$)"))


def queue_ids(page: Page) -> list[int]:
    return [int(i) for i in page.locator("tr.item").evaluate_all(
        "rows => rows.map(row => row.dataset.id)")]


def status_of(server, site, comment_id: int) -> str:
    """What the host site is told about a comment, through its own API."""
    response = server.get(f"/v1/comments/{comment_id}", headers=site.headers)
    assert response.status_code == 200, response.json
    return response.json["status"]


def held(server, site, texts=MILD) -> list[int]:
    client = server.app.test_client()
    ids = []
    for n, text in enumerate(texts):
        comment = submit(client, site, text, author=f"reader-{n}")
        assert comment["status"] == "pending_review", comment
        ids.append(comment["id"])
    return ids


def test_sign_in_see_the_pending_queue_and_sign_out(page, server, held_site, moderator):
    ids = held(server, held_site, MILD[:4])

    page.goto("/moderation/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.locator(".flash")).to_contain_text("Sign in to see the review queues.")

    page.get_by_label("Username").fill(moderator.username)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".flash.error")).to_have_text("Wrong username or password.")

    page.get_by_label("Password").fill(moderator.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/moderation/$"))
    expect(page.locator("header.top .who")).to_contain_text("mary (moderator)")
    expect(page.locator("#count-pending")).to_have_class(re.compile(r"\bcurrent\b"))
    expect_counts(page, pending=4, reported=0, rejected=0, approved=0)
    expect(page.locator("tr.item")).to_have_count(4)
    assert sorted(queue_ids(page)) == sorted(ids)
    for text in MILD[:4]:
        expect(page.locator("table.items")).to_contain_text(text)

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login$"))
    expect(page.locator(".flash")).to_have_text("Signed out.")
    page.goto("/moderation/")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_work_the_queue_by_keyboard(page, server, held_site, moderator):
    held(server, held_site, MILD[:4] + ["Buy cheap watches at bestdeals dot biz, call 555 010 2233"])
    sign_in(page, moderator.username)
    order = queue_ids(page)
    spam = next(i for i in order if status_of(server, held_site, i) and
                "watches" in page.locator(f'tr.item[data-id="{i}"]').inner_text())
    first, second, third, fourth = [i for i in order if i != spam]

    # The queue: the first row starts selected; j and k move the selection.
    rows = page.locator("tr.item")
    selected = page.locator("tr.item.selected")
    expect(selected).to_have_count(1)
    expect(rows.nth(0)).to_have_class(re.compile(r"\bselected\b"))
    keybar = page.locator("#keybar")
    expect(keybar).to_contain_text("1 spam")
    expect(keybar).to_contain_text("6 off-topic")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class(re.compile(r"\bselected\b"))
    page.keyboard.press("k")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bselected\b"))

    # Each row says why it waits (the site holds everything: its rules fired).
    expect(page.locator(f'tr.item[data-id="{spam}"] td.why')).to_contain_text("spam")
    # The spam row suggests its reason: one key rejects it, in place.
    while page.locator("tr.item.selected").get_attribute("data-id") != str(spam):
        page.keyboard.press("j")
    expect(page.locator("#suggested")).to_have_text("spam")
    page.keyboard.press("r")
    expect(page.locator(f'tr.item[data-id="{spam}"]')).to_have_count(0)
    expect(page.locator("#live")).to_have_text(f"Rejected comment {spam}.")
    expect_counts(page, pending=4, rejected=1, approved=0)

    # a approves the selected row in place; the selection moves on to the next one.
    page.keyboard.press("g")  # not a key: nothing happens
    while page.locator("tr.item.selected").get_attribute("data-id") != str(first):
        page.keyboard.press("k")
    page.keyboard.press("a")
    expect(page.locator(f'tr.item[data-id="{first}"]')).to_have_count(0)
    expect_counts(page, pending=3, approved=1, rejected=1)
    expect(page.locator("tr.item.selected")).to_have_attribute("data-id", str(second))

    # A civil comment suggests no reason: r says so and does nothing; a number chooses one.
    expect(page.locator("#suggested")).to_have_text("(choose a number)")
    page.keyboard.press("r")
    expect(page.locator("#live")).to_contain_text("No reason is suggested for this comment")
    expect_counts(page, pending=3)
    page.keyboard.press("6")
    expect(page.locator(f'tr.item[data-id="{second}"]')).to_have_count(0)
    expect_counts(page, pending=2, approved=1, rejected=2)

    # Enter opens the selected comment; there too a number rejects with that reason and
    # moves on, and r without a suggested reason only puts the focus on the reasons.
    expect(page.locator("tr.item.selected")).to_have_attribute("data-id", str(third))
    page.keyboard.press("Enter")
    page.wait_for_url(item_url(third))
    reason = page.locator("#reject-reason")
    expect(reason).to_have_value("")
    page.keyboard.press("r")
    expect(reason).to_be_focused()
    expect(page).to_have_url(item_url(third))
    page.keyboard.press("Escape")
    page.keyboard.press("2")
    page.wait_for_url(item_url(fourth))
    expect(page.locator(".flash.info")).to_have_text(f"Rejected comment {third}.")

    # ? shows the list of keys, ? again hides it.
    keys = page.locator("#keys")
    expect(keys).to_be_hidden()
    page.keyboard.press("?")
    expect(keys).to_be_visible()
    expect(keys).to_contain_text("approve")
    expect(keys).to_contain_text("reject with the suggested reason")
    page.keyboard.press("?")
    expect(keys).to_be_hidden()
    # The ? link in the header opens it too; Escape closes it whichever way it was opened.
    page.get_by_title("Keyboard shortcuts").click()
    expect(keys).to_be_visible()
    page.keyboard.press("Escape")
    expect(keys).to_be_hidden()
    page.goto(f"/moderation/comments/{fourth}#keys")  # as bookmarked without JavaScript
    expect(keys).to_be_visible()
    page.keyboard.press("?")
    expect(keys).to_be_hidden()

    # The last one: deciding it goes back to the queue when nothing follows.
    expect(page.locator("#next")).to_have_count(0)
    page.keyboard.press("a")
    page.wait_for_url(re.compile(r"/moderation/\?"))
    expect_counts(page, pending=0, approved=2, rejected=3)

    assert [status_of(server, held_site, i) for i in (spam, first, second, third, fourth)] == \
        ["rejected", "approved", "rejected", "rejected", "approved"]
    page.goto(f"/moderation/comments/{second}")
    history = page.locator("table.audit tbody")
    expect(history).to_contain_text("mary")
    expect(history).to_contain_text("off-topic")


def test_bulk_decisions_from_the_queue(page, server, held_site, moderator):
    ids = held(server, held_site)
    sign_in(page, moderator.username)
    expect_counts(page, pending=6, approved=0)
    order = queue_ids(page)

    # Tick two, press Approve: both leave the pending queue.
    chosen = order[1:3]
    for comment_id in chosen:
        page.get_by_label(f"Tick comment {comment_id}").check()
    page.locator(".bulk-actions").get_by_role("button", name="Approve").click()
    expect(page.locator(".flash.info")).to_have_text("Approved 2 comment(s).")
    expect_counts(page, pending=4, approved=2, rejected=0)
    remaining = queue_ids(page)
    assert remaining == [i for i in order if i not in chosen]

    # By keyboard: x ticks the selected row, r rejects the ticked ones with the chosen reason.
    page.locator(".bulk-actions select").select_option("off-topic")
    page.keyboard.press("Escape")
    page.keyboard.press("x")  # the first row starts selected
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect(page.locator("input[name=ids]:checked")).to_have_count(2)
    page.keyboard.press("r")
    expect(page.locator(".flash.info")).to_have_text("Rejected 2 comment(s).")
    expect_counts(page, pending=2, approved=2, rejected=2)
    assert queue_ids(page) == remaining[2:]

    # Nothing ticked: a approves the selected row alone, in place.
    page.keyboard.press("a")
    expect(page.locator("#live")).to_have_text(f"Approved comment {remaining[2]}.")
    expect_counts(page, pending=1, approved=3, rejected=2)
    assert queue_ids(page) == remaining[3:]

    # A bulk reject needs a reason chosen: none is preselected.
    page.get_by_label(f"Tick comment {remaining[3]}").check()
    page.locator(".bulk-actions").get_by_role("button", name="Reject").click()
    expect(page.locator(".flash.error")).to_contain_text("must be one of")
    expect_counts(page, pending=1)

    # Enter on a focused button is the button's, not "open the selected row".
    page.locator(".bulk-actions").get_by_role("button", name="Approve").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".flash.error")).to_have_text("Select at least one comment.")
    expect(page).to_have_url(re.compile(r"/moderation/\?"))

    statuses = {i: status_of(server, held_site, i) for i in ids}
    assert statuses == {**{i: "approved" for i in chosen}, remaining[0]: "rejected",
                        remaining[1]: "rejected", remaining[2]: "approved",
                        remaining[3]: "pending_review"}
    page.goto(f"/moderation/comments/{remaining[0]}")
    expect(page.locator("table.audit tbody")).to_contain_text("off-topic")


def test_everything_works_without_javascript(page_without_js, server, held_site, moderator):
    page = page_without_js
    held(server, held_site, MILD[:4])
    sign_in(page, moderator.username)
    first, second, third, fourth = queue_ids(page)

    page.locator("tr.item").first.locator("a.open").click()
    page.wait_for_url(item_url(first))
    page.get_by_role("button", name="Approve (a)").click()
    page.wait_for_url(item_url(second))
    expect_counts(page, pending=3, approved=1)

    page.get_by_label("Reason").select_option("abuse")
    page.get_by_role("button", name="Reject (r)").click()
    page.wait_for_url(item_url(third))
    expect_counts(page, pending=2, approved=1, rejected=1)
    page.get_by_role("link", name="Next (j) →").click()
    page.wait_for_url(item_url(fourth))
    page.get_by_role("link", name="← Previous (k)").click()
    page.wait_for_url(item_url(third))

    # The ? link opens the list of keys (CSS :target), Close hides it again.
    keys = page.locator("#keys")
    expect(keys).to_be_hidden()
    page.get_by_title("Keyboard shortcuts").click()
    expect(page).to_have_url(re.compile(r"#keys$"))
    expect(keys).to_be_visible()
    keys.get_by_role("link", name="Close").click()
    expect(keys).to_be_hidden()

    assert status_of(server, held_site, first) == "approved"
    assert status_of(server, held_site, second) == "rejected"


# Each payload, if it ever ran, would record itself in window.__pwned (or open a dialog).
PAYLOADS = ["<script>window.__pwned=1</script>",
            '<img src=x onerror="window.__pwned=1">',
            '<a href="javascript:window.__pwned=1">click</a>',
            '"><svg onload=window.__pwned=1>',
            "<script>alert(document.cookie)</script>"]


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name.lower()] = values
    return directives


def record_policy_violations(page: Page) -> None:
    """Keep every Content-Security-Policy violation a page sees in window.__violations (this
    script comes in through the DevTools protocol, so the policy does not stop it)."""
    page.add_init_script("window.__violations = [];"
                         "document.addEventListener('securitypolicyviolation', "
                         "event => window.__violations.push(event.violatedDirective));")


def assert_nothing_ran(page: Page, dialogs: list) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("document.cookie") == ""  # the session cookie is HttpOnly anyway
    # Nothing was even blocked: the markup never reached the DOM as markup.
    assert page.evaluate("window.__violations") == []
    assert dialogs == []
    assert page.locator("script:not([src])").count() == 0
    # The dashboard's charts are our own images, served from our own routes.
    assert page.locator("main img:not([src^='/moderation/dashboard/']), main svg, "
                        "main [onerror], main [onload], main a[href^='javascript']").count() == 0
    header = page.evaluate("document.head.innerHTML")
    assert "pwned" not in header


def test_comment_text_never_runs_as_script(page, server, held_site, moderator):
    client = server.app.test_client()
    refused = client.post("/v1/comments", headers=held_site.headers, json={
        "article_id": "x", "article_url": "javascript:alert(1)", "author": {"id": "eve"},
        "text": "A comment on an article whose link would run script."})
    assert refused.status_code == 422, refused.json
    assert "article_url" in refused.json["errors"]["json"]

    ids = []
    for n, payload in enumerate(PAYLOADS):
        comment = submit(client, held_site, f"Quoting {payload} here", article="xss",
                         author=f"eve-{n}", article_title=f"Title {payload}",
                         article_url="https://news.example/xss?a=1&b=<script>",
                         **({"parent_id": ids[0]} if ids else {}))
        ids.append(comment["id"])
    # The author's own name carries a payload too.
    named = client.post("/v1/comments", headers=held_site.headers, json={
        "article_id": "xss", "article_title": "<script>window.__pwned=1</script>",
        "author": {"id": "eve-name", "name": '<img src=x onerror="window.__pwned=1">'},
        "text": "A mild remark about the weather report."})
    assert named.status_code == 201, named.json
    ids.append(named.json["id"])

    dialogs, console = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: console.append(message.text))
    record_policy_violations(page)

    sign_in(page, moderator.username)
    pages = ["/moderation/", "/moderation/?queue=pending&order=oldest", "/moderation/dashboard",
             *[f"/moderation/comments/{i}" for i in ids]]
    for path in pages:
        response = page.goto(path)
        assert response.status == 200, path
        policy = csp_directives(response.headers["content-security-policy"])
        assert policy["script-src"] == ["'self'"], policy
        assert "'unsafe-inline'" not in policy.get("default-src", [])
        assert_nothing_ran(page, dialogs)

        if path == "/moderation/":
            text = page.locator("table.items").inner_text()
            for payload in PAYLOADS:
                assert payload in text  # shown as the literal characters the author typed
            author = page.locator(f'tr.item[data-id="{ids[-1]}"] td').nth(5)
            expect(author).to_have_text('<img src=x onerror="window.__pwned=1">')
        elif "/comments/" in path:
            # No link the page offers runs script when followed.
            for link in page.locator("article.comment a").all():
                assert not (link.get_attribute("href") or "").lower().startswith("javascript")
    for comment_id, payload in zip(ids, PAYLOADS):
        page.goto(f"/moderation/comments/{comment_id}")
        expect(page.locator("#comment-text")).to_have_text(f"Quoting {payload} here")
        # The article's title is the one sent last, itself a payload.
        expect(page.locator("article.comment header")).to_contain_text(PAYLOADS[0])
        if comment_id != ids[0]:  # a reply, quoting the comment it answers
            expect(page.locator("blockquote.parent")).to_contain_text(f"Quoting {PAYLOADS[0]}")
    assert not [text for text in console if "Content Security Policy" in text], console


# Injected into a real page of the app to stand in for a template that forgot to escape.
INJECTED = ("<script>(window.__ran = window.__ran || []).push('inline script')</script>"
            "<img src=x onerror=\"(window.__ran = window.__ran || []).push('onerror')\">"
            "<a id=injected-link href=\"javascript:void (window.__ran = window.__ran || [])"
            ".push('javascript: url')\">injected</a>")


def test_the_content_security_policy_blocks_inline_script(page, server, held_site, moderator):
    """Even markup that reached the page unescaped could not run.

    The proof uses the app's own response: Playwright intercepts the request for the queue
    page, fetches the real response from the server and hands the browser that response with
    its real headers (Content-Security-Policy included), only with an inline script, an
    onerror handler and a javascript: link spliced into its body. The page keeps its own
    origin, so the browser applies the policy exactly as it would to the app's pages. The
    control run serves the same spliced body without the policy header, and there all three
    run: so it is the policy that stops them, not the way they were injected.
    (page.set_content would not do: it carries no header of the app's; nor would adding a
    script with page.evaluate: it comes through the DevTools protocol, which no page's policy
    governs.)
    """
    held(server, held_site, MILD[:1])
    sign_in(page, moderator.username)

    def splice(keep_policy: bool):
        def handle(route):
            response = route.fetch()
            headers = {name: value for name, value in response.headers.items()
                       if name.lower() != "content-length"
                       and (keep_policy or name.lower() != "content-security-policy")}
            body = response.text().replace("<main>", "<main>" + INJECTED, 1)
            assert INJECTED in body
            route.fulfill(status=response.status, headers=headers, body=body)
        return handle

    record_policy_violations(page)

    def visit(keep_policy: bool) -> tuple[list[str] | None, list[str]]:
        page.unroute("**/moderation/")
        page.route("**/moderation/", splice(keep_policy))
        response = page.goto("/moderation/")
        assert ("content-security-policy" in response.headers) is keep_policy
        expect(page.locator("#injected-link")).to_be_visible()
        page.locator("#injected-link").click()
        expect(page.locator("tr.item")).to_have_count(1)  # the real page, still there
        # A javascript: URL runs (or is refused) in a later task: wait for all three.
        page.wait_for_function("(window.__violations.length || (window.__ran || []).length) >= 3")
        return page.evaluate("window.__ran"), page.evaluate("window.__violations")

    # The control: without the policy each injected piece runs.
    ran, violations = visit(keep_policy=False)
    assert sorted(ran or []) == ["inline script", "javascript: url", "onerror"], ran
    assert violations == []

    # With the app's policy none does, and the browser reports each one it refused.
    ran, violations = visit(keep_policy=True)
    assert ran is None
    # The inline element and the javascript: URL count as script elements, the handler as
    # a script attribute.
    assert sorted(violations) == ["script-src-attr", "script-src-elem", "script-src-elem"]
    # The page's own script, from 'self', still runs: the keys work.
    page.keyboard.press("j")
    expect(page.locator("tr.item.selected")).to_have_count(1)
