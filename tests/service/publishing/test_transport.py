"""Webhook URLs: https only unless allowed, and never a private address unless allowed."""

import pytest

from service.webhook_urls import UnsafeUrl, UrlPolicy, check_url

STRICT = UrlPolicy()


@pytest.mark.parametrize("url", [
    "http://example.com/hook",                     # plain http
    "https://127.0.0.1/hook", "https://localhost/hook", "https://[::1]/hook",
    "https://10.0.0.5/hook", "https://192.168.1.2/hook", "https://172.16.0.1/hook",
    "https://169.254.169.254/latest/meta-data",    # cloud metadata
    "https://100.64.0.1/hook",                     # shared address space
    "https://0.0.0.0/hook", "https://[::ffff:127.0.0.1]/hook", "https://[fd00::1]/hook",
    "ftp://example.com/hook",
])
def test_unsafe_urls_are_refused(url):
    with pytest.raises(UnsafeUrl):
        check_url(url, STRICT)


def test_public_addresses_pass():
    assert check_url("https://93.184.215.14/hook", STRICT) == ("93.184.215.14", 443,
                                                               "93.184.215.14")


def test_settings_allow_http_and_private_addresses_for_development():
    policy = UrlPolicy(allow_http=True, allow_private=True)
    assert check_url("http://127.0.0.1:5001/hook", policy)[2] == "127.0.0.1"


def test_a_site_cannot_be_configured_with_a_private_webhook(app, app_config):
    from service import create_app

    strict = create_app({**app_config, "WEBHOOK_ALLOW_HTTP": "0", "WEBHOOK_ALLOW_PRIVATE": "0"})
    runner = strict.test_cli_runner()
    result = runner.invoke(args=["sites", "create", "bugle", "--webhook-url",
                                 "https://169.254.169.254/"])
    assert result.exit_code != 0 and "metadata address" in result.output
    insecure = runner.invoke(args=["sites", "create", "bugle", "--webhook-url",
                                   "http://bugle.example/hook"])
    assert insecure.exit_code != 0 and "https" in insecure.output
