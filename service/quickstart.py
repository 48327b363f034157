"""`flask --app wsgi quickstart`: what `make run` ends its set-up with.

Creates the `demo` site and the `admin` account when they are missing, then prints one short
block: where the service is, who signs in, and (on the first run only, since they are stored
as hashes) the password and API key, with the commands that make new ones.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import click

from service.container import services

SITE, ADMIN = "demo", "admin"


def flask_command() -> str:
    """How to call this CLI from the project's directory in a new shell: through the
    virtual environment when it runs from one (``make`` builds ``.venv``)."""
    here = Path(sys.prefix)
    if here == Path(sys.base_prefix):
        return "flask --app wsgi"
    if Path(".venv").exists() and Path(".venv").resolve() == here.resolve():
        return ".venv/bin/flask --app wsgi"
    relative = os.path.relpath(here / "bin" / "flask")
    return f"{relative} --app wsgi" if not relative.startswith("..") else "flask --app wsgi"


@click.command("quickstart")
@click.option("--port", default=lambda: os.environ.get("PORT", "8000"), show_default="8000",
              help="The port the service will listen on (for the printed address).")
def quickstart_command(port: str) -> None:
    """Create the demo site and the admin account if missing; print how to start."""
    sites = services().sites
    accounts = services().accounts
    api_key = password = None
    if sites.find(SITE) is None:
        api_key = sites.create(SITE).api_key
    if accounts.find(ADMIN) is None:
        password = secrets.token_urlsafe(12)
        accounts.create(ADMIN, password, "admin")
    flask = flask_command()
    url = f"http://127.0.0.1:{port}"
    lines = [f"The service: {url}   (API documentation: {url}/docs)",
             f"Sign in at {url}/login as {ADMIN}" + (f" with the password {password}"
                                                        if password else "")]
    if api_key:
        lines.append(f"API key of the site {SITE!r}: {api_key}")
    lines.append("These are shown once." if api_key or password else
                 "The password and API key were shown on the first run.")
    lines += [f"  new password:  {flask} users password {ADMIN}",
              f"  new API key:   {flask} sites rotate-key {SITE}"]
    width = max(map(len, lines))
    rule = "-" * min(width, 100)
    click.echo("\n".join(["", rule, *lines, rule, ""]))
