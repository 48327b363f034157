"""Webhook URLs outside ASCII, and URLs the HTTP client cannot send: encoded when set, and a
broken one stays its own site's problem (paused, with the error on its event) while every
other site's events are delivered. Loopback only."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, update

from service.extensions import db
from service.publishing.models import DeliveryStatus, Event
from service.publishing.worker import DeliveryWorker
from service.sites.models import Site
from service.webhook_urls import UnsafeUrl, normalize_url
from tests.conftest import make_site, submit


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WEBHOOK_ALLOW_HTTP": "1", "WEBHOOK_ALLOW_PRIVATE": "1"}


@pytest.fixture
def receiver():
    paths = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            paths.append(self.path)
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", paths
    server.shutdown()
    server.server_close()


def test_urls_are_encoded_as_they_will_be_sent():
    assert normalize_url("http://127.0.0.1:9001/hook/bestätigung") == \
        "http://127.0.0.1:9001/hook/best%C3%A4tigung"
    assert normalize_url("https://Bücher.example/ein weg?q=grün#frag") == \
        "https://xn--bcher-kva.example/ein%20weg?q=gr%C3%BCn"
    assert normalize_url("https://a.example/already%20encoded") == \
        "https://a.example/already%20encoded"
    for bad in ("http://127.0.0.1:99999/x", "http://127.0.0.1:0/x", "https://a..b\u200b.example/"):
        with pytest.raises(UnsafeUrl):
            normalize_url(bad)


def test_the_cli_stores_the_encoded_url_and_refuses_a_bad_port_in_one_line(app, runner,
                                                                           receiver):
    base, paths = receiver
    make_site(app, "bugle")
    done = runner.invoke(args=["sites", "update", "bugle", "--webhook-url",
                               f"{base}/hook/bestätigung"])
    assert done.exit_code == 0, done.output
    assert f'"webhook_url": "{base}/hook/best%C3%A4tigung"' in done.output
    refused = runner.invoke(args=["sites", "update", "bugle", "--webhook-url",
                                  "http://127.0.0.1:99999/x"])
    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert "port must be a number from 1 to 65535" in refused.output


def test_a_url_that_cannot_be_sent_pauses_its_site_and_no_other(app, client, receiver):
    base, paths = receiver
    broken = make_site(app, "broken", webhook_url=f"{base}/ok")
    fine = make_site(app, "fine", webhook_url=f"{base}/fine")
    with app.app_context():  # stored raw, as before URLs were encoded when set
        db.session.execute(update(Site).where(Site.id == broken.id)
                           .values(webhook_url=f"{base}/hook/bestätigung"))
        db.session.commit()
    first = submit(client, broken, "A comment on the broken site.")["id"]
    for n in range(3):
        submit(client, fine, f"A comment on the fine site, number {n}.")
    with app.app_context():
        DeliveryWorker(db.session, app.config["MODERATION_SETTINGS"].webhook_policy,
                       batch_size=10).run_once()
        events = {e.comment_id: e for e in db.session.scalars(select(Event))}
        site = db.session.get(Site, broken.id)
        assert site.webhook_paused_at is not None
        assert "cannot be sent to" in site.webhook_pause_reason
        assert events[first].status == DeliveryStatus.PENDING.value
        assert "not sent" in events[first].last_error
        delivered = [e for e in events.values() if e.site_id == fine.id]
        assert [e.status for e in delivered] == [DeliveryStatus.DELIVERED.value] * 3
    assert paths == ["/fine"] * 3


@pytest.mark.parametrize("address", [
    "::127.0.0.1", "::a00:1",                 # IPv4-compatible (deprecated)
    "64:ff9b::7f00:1", "64:ff9b:1::a00:1",    # NAT64
    "2002:7f00:1::", "2002:a00:1::1",         # 6to4
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",   # Teredo
])
def test_ipv6_forms_that_carry_an_ipv4_address_are_not_public(address):
    # The policy's own check only: no connection is ever opened to such an address.
    from service.webhook_urls import _public
    assert not _public(address)
    assert _public("2606:4700:4700::1111")  # an ordinary global IPv6 address still is
