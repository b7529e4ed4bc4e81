"""Sign-in: the instructor's password (set at first run with the terminal's one-time token, or by environment),
teams' join codes, sign-out.

Failed guesses (a wrong password, an unknown join code, a wrong setup token)
are counted per client address across these pages and the API (web/guesses.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from crmsim.web import grants
from crmsim.web.db import get_db
from crmsim.web.guesses import JOIN_CODE, PASSWORD, guesses
from crmsim.web.i18n import refusal_text
from crmsim.web.service import ServiceError, team_by_code
from crmsim.web.views import (
    check_password,
    password_is_set,
    set_password,
    setup_token,
    setup_token_matches,
    sign_in,
    sign_out,
)

bp = Blueprint("auth", __name__)


def announce_first_run(app: Flask) -> None:
    """With no instructor password yet, print the one-time setup link in the server's terminal (as Jupyter does)."""
    with app.app_context():
        if password_is_set():
            return
        app.logger.warning(
            "No instructor password is set. To choose one, open /setup?token=%s on this server "
            "(or set CRMSIM_INSTRUCTOR_PASSWORD and restart). Anyone with this token can become the instructor.",
            setup_token(),
        )


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """First run: whoever holds the token printed in the server's terminal chooses the instructor's password."""
    if password_is_set():
        return redirect(url_for("auth.login"))
    token = request.values.get("token", "")
    if request.method == "GET":
        return render_template("setup.html", token=token, error=None)
    guesses().allow(PASSWORD)
    if not setup_token_matches(token):
        guesses().failed(PASSWORD)
        return render_template("setup.html", token="", error=_("token: not the one printed in the server's terminal")), 403
    pw, again = request.form.get("password", ""), request.form.get("again", "")
    if pw != again:
        return render_template("setup.html", token=token, error=_("password: the two entries differ")), 400
    try:
        set_password(pw)
    except ValueError as exc:
        return render_template("setup.html", token=token, error=str(exc)), 400
    sign_in(grants.INSTRUCTOR)
    return redirect(url_for("instructor.index"))


def local_path(target: str) -> str | None:
    """`target` if it is a path on this site, else None.

    Browsers drop tabs and newlines from a URL and read a backslash as a slash,
    so ``/\\t/evil.example`` or ``/\\evil.example`` would leave the site: any
    control character, space or backslash refuses the target."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if not password_is_set():
        return redirect(url_for("auth.setup"))
    if request.method == "GET":
        return render_template("login.html", error=None)
    guesses().allow(PASSWORD)
    if not check_password(request.form.get("password", "")):
        guesses().failed(PASSWORD)
        return render_template("login.html", error=_("password: not correct")), 401
    sign_in(grants.INSTRUCTOR)
    return redirect(local_path(request.args.get("next", "")) or url_for("instructor.index"))


@bp.route("/logout", methods=["POST"])
def logout():
    sign_out()
    return redirect(url_for("scoreboard.home"))


@bp.route("/join", methods=["GET", "POST"])
def join():
    code = request.values.get("code", "")
    if request.method == "GET":
        return render_template("join.html", code=code, error=None)
    guesses().allow(JOIN_CODE)
    try:
        team = team_by_code(get_db(), code)
    except ServiceError as exc:
        if exc.status == 404:
            guesses().failed(JOIN_CODE)
        return render_template("join.html", code=code, error=refusal_text(exc.problem.field, exc.problem.rule, exc.problem.value)), exc.status
    sign_in(grants.TEAM, team.id)
    flash(_("Welcome, %(team)s!", team=team.name))
    return redirect(url_for("team.dashboard"))
