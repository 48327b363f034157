"""The admins' deliveries pages: each site's webhook endpoint and its recent deliveries,
with retry, pause, resume and replay."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from service.api import clean_field, domain_error_page, refuse_impossible_path_values
from service.container import services
from service.errors import DomainError, Forbidden, InvalidInput, NotFound
from service.extensions import csrf
from service.publishing.models import DeliveryStatus

bp = Blueprint("deliveries", __name__, url_prefix="/moderation")


@bp.before_request
@login_required
def _admins_only() -> None:
    """Every page is for admins; every form post needs a valid CSRF token."""
    if not current_user.is_admin:
        raise Forbidden("Only admins manage deliveries.")
    if request.method == "POST":
        csrf.protect()
    refuse_impossible_path_values()
    g.counts = services().review.counts(current_user)


bp.register_error_handler(DomainError, domain_error_page)


@bp.get("/deliveries")
def index() -> str:
    """Each site's webhook endpoint and its recent deliveries."""
    publishing = services().publishing
    site_name = clean_field("site", request.args.get("site"), 100)
    status = clean_field("status", request.args.get("status"), 20)
    sites = services().review.visible_sites(current_user)
    chosen = next((site for site in sites if site.name == site_name), None)
    return render_template(
        "deliveries.html", sites=sites, counts=publishing.delivery_counts(),
        events=publishing.deliveries(site_id=chosen.id if chosen else None, status=status),
        site_names={site.id: site.name for site in sites}, chosen=chosen, status=status,
        statuses=[s.value for s in DeliveryStatus])


@bp.post("/deliveries/<int:event_id>/retry")
def retry(event_id: int) -> Response:
    services().publishing.retry(event_id)
    flash(f"Delivery {event_id} will be attempted again now.", "info")
    return redirect(url_for(".index"))


@bp.post("/sites/<int:site_id>/webhook")
def site_webhook(site_id: int) -> Response:
    """Pause, resume, or replay everything since a time."""
    site = next((s for s in services().review.visible_sites(current_user) if s.id == site_id),
                None)
    if site is None:
        raise NotFound(f"no site {site_id}")
    publishing = services().publishing
    action = clean_field("action", request.form.get("action"), 20)
    if action == "pause":
        publishing.pause(site)
        flash(f"Deliveries to {site.name} paused.", "info")
    elif action == "resume":
        publishing.resume(site)
        flash(f"Deliveries to {site.name} resumed.", "info")
    elif action == "replay":
        since = clean_field("since", request.form.get("since"), 40) or ""
        try:
            moment = datetime.fromisoformat(since).replace(tzinfo=timezone.utc)
        except ValueError:
            raise InvalidInput({"since": ["a date and time, such as 2026-11-27T09:00"]}) from None
        count = publishing.replay(site, moment)
        flash(f"{count} event(s) of {site.name} since {moment:%Y-%m-%d %H:%M} UTC queued "
              "again.", "info")
    else:
        raise InvalidInput({"action": ["must be pause, resume or replay"]})
    return redirect(url_for(".index", site=site.name))
