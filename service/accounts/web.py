"""Signing in and out of the moderators' web UI."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from service.accounts.services import AccountService
from service.api import text_fault
from service.container import services
from service.extensions import csrf

bp = Blueprint("accounts", __name__)


def _plain_text(form: FlaskForm, field) -> None:
    if text_fault(field.data or "") is not None:
        raise ValidationError("Must not contain NUL characters or lone surrogates.")


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80), _plain_text])
    password = PasswordField("Password",
                             validators=[DataRequired(), Length(max=1024), _plain_text])


def accounts() -> AccountService:
    return services().accounts


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    if current_user.is_authenticated:
        return redirect(url_for("moderation.queue"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        result = accounts().login(form.username.data, form.password.data,
                                  address=request.remote_addr or "")
        if result.user is not None:
            login_user(result.user)
            return redirect(_safe_next(request.args.get("next")))
        if result.retry_after:
            flash(f"Too many failed attempts: try again in {result.retry_after} seconds.", "error")
            status = 429
        else:
            flash("Wrong username or password.", "error")
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form), status


@bp.post("/logout")
@login_required
def logout() -> Response:
    csrf.protect()
    accounts().end_sessions(current_user)  # this browser's session, and every other
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("accounts.login"))


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host, nor a header
    broken by a line break or another control character."""
    if target and target.isprintable():
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//") and "\\" not in target:
            return target
    return url_for("moderation.queue")
