"""`flask --app wsgi sites ...`: create sites, list them, rotate their keys."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from classifier.policy import DEFAULT_PRESET, POLICY_KEYS, PRESETS, Rule, parse_rule
from service.container import services
from service.errors import DomainError
from service.quickstart import flask_command
from service.sites.models import Site
from service.sites.services import DEFAULT_REJECT_REASONS, SiteService

sites_cli = AppGroup("sites", help="Manage the news sites (tenants) and their API keys.")


def _service() -> SiteService:
    return services().sites


def _describe(site: Site) -> dict:
    return {"id": site.id, "name": site.name, "webhook_url": site.webhook_url,
            "policy": _service().policy(site).as_json(),
            "flags_to_review": site.flags_to_review,
            "reject_reasons": site.reject_reasons or list(DEFAULT_REJECT_REASONS),
            "auto_close_days": site.auto_close_days,
            "created_at": site.created_at.isoformat()}


class LabelRule(click.ParamType):
    """``LABEL=RULE`` on the command line: ``obscene=publish``, ``insult=hold:0.6``,
    ``spam=hold:0.4,reject:0.9``, or ``threat=default`` (back to the preset's rule)."""

    name = "LABEL=RULE"

    def convert(self, value, param, ctx) -> tuple[str, Rule | None]:
        if isinstance(value, tuple):
            return value
        label, _, spec = value.partition("=")
        label = label.strip().lower()
        if label not in POLICY_KEYS:
            self.fail(f"{label!r} is not a label ({', '.join(POLICY_KEYS)})", param, ctx)
        if spec.strip().lower() == "default":
            return label, None
        try:
            return label, parse_rule(spec)
        except ValueError as error:
            self.fail(str(error), param, ctx)


_LABEL_OPTION = click.option(
    "--label", multiple=True, type=LabelRule(),
    help="A label's rule, repeatable: LABEL=publish, LABEL=hold:0.6, LABEL=reject:0.95, "
         "LABEL=hold:0.4,reject:0.95 or LABEL=default. LABEL is one of "
         f"{', '.join(POLICY_KEYS)} (any: the combined score).")


def _fail(error: DomainError) -> None:
    raise click.ClickException(str(error))


@sites_cli.command("create")
@click.argument("name")
@click.option("--webhook-url", help="Where decisions are delivered.")
@click.option("--policy", type=click.Choice(list(PRESETS)),
              help=f"Decision preset (default: the service's, {DEFAULT_PRESET}).")
@_LABEL_OPTION
@click.option("--if-missing", is_flag=True, help="Do nothing if a site with this name exists.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def create_site(name: str, webhook_url: str | None, policy: str | None,
                label: tuple[tuple[str, Rule | None], ...], if_missing: bool,
                as_json: bool) -> None:
    """Create a site and print its API key (shown only this once)."""
    service = _service()
    if if_missing and service.find(name) is not None:
        click.echo(f"Site {name!r} exists already; its API key was printed when it was created "
                   f"(a new one: {flask_command()} sites rotate-key {name}).", err=as_json)
        return
    try:
        issued = service.create(name, webhook_url=webhook_url, policy=policy,
                                rules=dict(label))
    except DomainError as error:
        _fail(error)
    if as_json:
        click.echo(json.dumps({**_describe(issued.site), "api_key": issued.api_key,
                               "webhook_secret": issued.site.webhook_secret}))
        return
    click.echo(f"Created site {issued.site.name!r} (id {issued.site.id}).")
    click.echo(f"API key (shown once, keep it safe): {issued.api_key}")
    click.echo(f"Webhook signing secret: {issued.site.webhook_secret}")


@sites_cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
def list_sites(as_json: bool) -> None:
    """List the sites (never their keys)."""
    sites = [_describe(site) for site in _service().list()]
    if as_json:
        click.echo(json.dumps(sites))
        return
    for site in sites:
        policy = site["policy"]
        changed = f" (own rules: {', '.join(policy['overrides'])})" if policy["overrides"] else ""
        click.echo(f"{site['id']:>4}  {site['name']:<30} {policy['preset']}{changed}  "
                   f"{site['webhook_url'] or '-'}")


@sites_cli.command("rotate-key")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def rotate_key(name: str, as_json: bool) -> None:
    """Issue a new API key; the old one stops working at once."""
    try:
        issued = _service().rotate_key(name)
    except DomainError as error:
        _fail(error)
    if as_json:
        click.echo(json.dumps({"id": issued.site.id, "name": issued.site.name,
                               "api_key": issued.api_key}))
    else:
        click.echo(f"New API key for {name!r} (shown once): {issued.api_key}")


@sites_cli.command("update")
@click.argument("name")
@click.option("--webhook-url", help="Where decisions are delivered.")
@click.option("--policy", type=click.Choice(list(PRESETS)),
              help="Start over from this decision preset (drops the site's own rules).")
@_LABEL_OPTION
@click.option("--flags-to-review", type=int,
              help="Reader flags that send a published comment back to review.")
@click.option("--reject-reasons", help="Comma-separated reasons moderators pick from when "
              "rejecting (default: spam,abuse,hate,threat,obscene,off-topic,other).")
@click.option("--auto-close-days", type=int, help="Close an article to new comments this "
              "many days after its first comment (0: never, the default).")
def update_site(name: str, webhook_url: str | None, policy: str | None,
                label: tuple[tuple[str, Rule | None], ...], flags_to_review: int | None,
                reject_reasons: str | None, auto_close_days: int | None) -> None:
    """Change a site's webhook URL, decision policy, flags to review, reject reasons or
    auto-closing of articles.

    \b
    Examples:
      sites update demo --policy strict
      sites update demo --label obscene=publish --label insult=hold:0.6
      sites update demo --label spam=hold:0.4,reject:0.9 --label threat=default
    """
    reasons = None
    if reject_reasons is not None:
        reasons = [reason.strip() for reason in reject_reasons.split(",") if reason.strip()]
    try:
        site = _service().update(name, webhook_url=webhook_url, policy=policy,
                                 rules=dict(label), flags_to_review=flags_to_review,
                                 reject_reasons=reasons, auto_close_days=auto_close_days)
    except DomainError as error:
        _fail(error)
    click.echo(json.dumps(_describe(site)))


@sites_cli.command("rotate-secret")
@click.argument("name")
@click.option("--grace-hours", default=24, show_default=True, type=int,
              help="How long the old secret also signs deliveries.")
def rotate_secret(name: str, grace_hours: int) -> None:
    """Issue a new webhook signing secret (printed once); the old one signs too for a while."""
    try:
        site = _service().rotate_webhook_secret(name, grace_hours=grace_hours)
    except DomainError as error:
        _fail(error)
    click.echo(f"New webhook signing secret for {name!r}: {site.webhook_secret}")
    if grace_hours:
        until = site.previous_secret_expires_at.strftime("%Y-%m-%d %H:%M")
        click.echo(f"The old secret also signs until {until} UTC.")
