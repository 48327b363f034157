"""Signatures as the Standard Webhooks specification defines them, checked against its
reference library."""

import json
import time

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.publishing.signing import verify, webhook_headers
from service.sites.services import new_webhook_secret

BODY = json.dumps({"type": "comment.approved", "data": {"id": 7}}).encode()


def test_the_reference_library_accepts_our_signature():
    secret = new_webhook_secret()
    headers = webhook_headers([secret], "msg_1", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_during_a_rotation_either_secret_verifies():
    old, new = new_webhook_secret(), new_webhook_secret()
    headers = webhook_headers([new, old], "msg_2", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert Webhook(secret).verify(BODY, headers)
    try:
        Webhook(new_webhook_secret()).verify(BODY, headers)
    except WebhookVerificationError:
        pass
    else:
        raise AssertionError("a stranger's secret verified")


def test_verify_checks_body_id_and_timestamp_tolerance():
    secret = new_webhook_secret()
    now = int(time.time())
    headers = webhook_headers([secret], "msg_3", now, BODY)
    assert verify(secret, headers, BODY, now=now)
    assert not verify(secret, headers, BODY + b" ", now=now)
    assert not verify(secret, {**headers, "webhook-id": "msg_4"}, BODY, now=now)
    assert not verify(secret, headers, BODY, now=now + 301)
    assert not verify(secret, {}, BODY, now=now)
