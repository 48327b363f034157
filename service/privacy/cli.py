"""`flask --app wsgi privacy purge`: erase refused comments' text after the retention period."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from service.container import services

privacy_cli = AppGroup("privacy", help="Retention of readers' data.")


@privacy_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be erased; change nothing.")
def purge_command(dry_run: bool) -> None:
    """Erase the text of comments rejected or removed more than RETAIN_REJECTED_DAYS ago,
    with the events, notes and training examples that held it. The worker does this hourly.
    """
    service = services().privacy
    if not service.retain_rejected_days:
        click.echo("RETAIN_REJECTED_DAYS is 0: refused comments are kept; nothing to purge.")
        return
    report = service.purge(dry_run=dry_run)
    verb = "would be" if dry_run else "were"
    click.echo(f"{report.comments_erased} comment(s) {verb} erased "
               f"(rejected or removed more than {service.retain_rejected_days} days ago); "
               f"{report.events_scrubbed} event(s) {verb} scrubbed, "
               f"{report.examples_removed} training example(s) {verb} removed, "
               f"{report.parent_texts_erased} example parent text(s) {verb} blanked, "
               f"{report.notes_erased} note(s) {verb} blanked.")
