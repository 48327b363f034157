"""`flask --app wsgi users ...`: create moderators and admins, issue their API tokens."""

from __future__ import annotations

import secrets
import sys

import click
from flask.cli import AppGroup

from service.accounts.services import AccountService
from service.container import services
from service.errors import DomainError
from service.quickstart import flask_command

users_cli = AppGroup("users", help="Manage moderator and admin accounts.")


def _service() -> AccountService:
    return services().accounts


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["moderator", "admin"]), required=True)
@click.option("--site", "sites", multiple=True, help="A site the moderator works (repeatable).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line "
              "of standard input instead of prompting.")
@click.option("--generate-password", is_flag=True,
              help="Make up a strong password and print it (once).")
@click.option("--if-missing", is_flag=True, help="Do nothing if the user exists.")
def create_user(username: str, role: str, sites: tuple[str, ...], password_stdin: bool,
                generate_password: bool, if_missing: bool) -> None:
    """Create an account (a moderator sees only the sites given with --site)."""
    if if_missing and _service().find(username) is not None:
        click.echo(f"User {username!r} exists already (new password: "
                   f"{flask_command()} users password {username}).")
        return
    password = secrets.token_urlsafe(12) if generate_password else _read_password(password_stdin)
    try:
        user = _service().create(username, password, role, sites)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    where = "every site" if user.is_admin else (
        ", ".join(s.name for s in user.sites) or "no site yet")
    click.echo(f"Created {user.role} {user.username!r} ({where}).")
    if generate_password:
        click.echo(f"Password (shown once, keep it safe): {password}")


@users_cli.command("sites")
@click.argument("username")
@click.option("--site", "sites", multiple=True, help="A site the moderator works (repeatable).")
def assign_sites(username: str, sites: tuple[str, ...]) -> None:
    """Set the sites a moderator works (replacing the earlier list)."""
    try:
        user = _service().assign_sites(username, sites)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{user.username}: {', '.join(s.name for s in user.sites) or 'no site'}")


@users_cli.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
def set_password(username: str, password_stdin: bool) -> None:
    """Set a new password (and lift any back-off after failed logins)."""
    try:
        _service().set_password(username, _read_password(password_stdin))
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Password of {username!r} changed.")


@users_cli.command("token")
@click.argument("username")
def issue_token(username: str) -> None:
    """Print a new API token for the moderation API (shown once; the old one stops working)."""
    try:
        token = _service().issue_token(username)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    click.echo(token)


def _or_fail(action, *args) -> None:
    """Run a service call; a domain error becomes one line and a non-zero exit."""
    try:
        action(*args)
    except DomainError as error:
        raise click.ClickException(str(error)) from None


@users_cli.command("disable")
@click.argument("username")
def disable_user(username: str) -> None:
    """Disable an account: no sign-in; every session and its API token end at once."""
    _or_fail(_service().set_disabled, username, True)
    click.echo(f"{username!r} is disabled: signed out everywhere, its API token revoked.")


@users_cli.command("enable")
@click.argument("username")
def enable_user(username: str) -> None:
    """Let a disabled account sign in again (it needs a new API token: users token)."""
    _or_fail(_service().set_disabled, username, False)
    click.echo(f"{username!r} may sign in again.")


@users_cli.command("revoke-token")
@click.argument("username")
def revoke_token(username: str) -> None:
    """Revoke the user's API token (no new one is issued)."""
    _or_fail(_service().revoke_token, username)
    click.echo(f"The API token of {username!r} no longer works.")


@users_cli.command("list")
def list_users() -> None:
    """List the accounts, their roles and sites."""
    for user in _service().list():
        where = "all sites" if user.is_admin else ", ".join(s.name for s in user.sites) or "-"
        click.echo(f"{user.username}\t{user.role}\t{where}")
