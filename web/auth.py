"""Sign-in: the instructor's password (set at first run or by environment), teams' join codes, language."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from crmsim.web import limiter
from crmsim.web.db import get_db
from crmsim.web.service import ServiceError, team_by_code
from crmsim.web.views import check_password, password_is_set, set_password

bp = Blueprint("auth", __name__)


def _auth_limit() -> str:
    return current_app.config["RATELIMIT_AUTH"]


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    """First run: the instructor chooses a password (no default password exists)."""
    if password_is_set():
        return redirect(url_for("auth.login"))
    error = None
    if request.method == "POST":
        pw, again = request.form.get("password", ""), request.form.get("again", "")
        if pw != again:
            error = _("password: the two entries differ")
        else:
            try:
                set_password(pw)
                _fresh_session()
                session["instructor"] = True
                return redirect(url_for("instructor.index"))
            except ValueError as exc:
                error = str(exc)
    return render_template("setup.html", error=error)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def login():
    if not password_is_set():
        return redirect(url_for("auth.setup"))
    error = None
    if request.method == "POST":
        if check_password(request.form.get("password", "")):
            _fresh_session()
            session["instructor"] = True
            nxt = request.args.get("next", "")
            return redirect(nxt if nxt.startswith("/") and not nxt.startswith("//") else url_for("instructor.index"))
        error = _("password: not correct")
    return render_template("login.html", error=error)


def _fresh_session() -> None:
    """A new session on every sign-in or sign-out (no fixation), keeping the language choice."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


@bp.route("/logout", methods=["POST"])
def logout():
    _fresh_session()
    return redirect(url_for("scoreboard.home"))


@bp.route("/join", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"])
def join():
    code = request.values.get("code", "")
    error = None
    if request.method == "POST":
        try:
            team = team_by_code(get_db(), code)
            _fresh_session()
            session["team_id"] = team.id
            flash(_("Welcome, %(team)s!", team=team.name))
            return redirect(url_for("team.dashboard"))
        except ServiceError as exc:
            error = f"{exc.problem.field}: {_(exc.problem.rule)}"
    return render_template("join.html", code=code, error=error)
