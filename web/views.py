"""Shared view helpers: who is signed in, tokens, form parsing, template filters, error pages."""

from __future__ import annotations

import functools
import hmac
import math
from collections.abc import Callable
from typing import Any

from flask import Flask, abort, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from crmsim.web.db import get_db
from crmsim.web.models import Game, Setting, Team

PASSWORD_KEY = "instructor_password_hash"
STANDING_FIELDS = ("price", "service_level", "care_budget", "advertising_budget")
ONE_OFF_FIELDS = ("hire_sales", "fire_sales", "hire_service", "fire_service", "borrow", "repay")
MIN_PASSWORD = 8


# -- the instructor's password ------------------------------------------------


def password_is_set() -> bool:
    return bool(current_app.config.get("INSTRUCTOR_PASSWORD")) or get_db().get(Setting, PASSWORD_KEY) is not None


def set_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(_("password: must have at least %(n)d characters", n=MIN_PASSWORD))
    db = get_db()
    db.merge(Setting(key=PASSWORD_KEY, value=generate_password_hash(password)))
    db.commit()


def check_password(password: str) -> bool:
    configured = current_app.config.get("INSTRUCTOR_PASSWORD")
    if configured:
        return hmac.compare_digest(password.encode(), configured.encode())
    row = get_db().get(Setting, PASSWORD_KEY)
    return row is not None and check_password_hash(row.value, password)


# -- tokens for the JSON API ----------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="crmsim-api")


def make_token(kind: str, ident: int = 0) -> str:
    return _serializer().dumps({"k": kind, "i": ident})


def read_token() -> dict[str, Any] | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    try:
        return _serializer().loads(header.removeprefix("Bearer ").strip())
    except BadSignature:
        return None


# -- who is signed in -----------------------------------------------------------


def is_instructor() -> bool:
    if session.get("instructor") and request.blueprint != "api":  # the CSRF-exempt API takes tokens only
        return True
    tok = read_token()
    return bool(tok and tok.get("k") == "instructor")


def current_team() -> Team | None:
    if "team" in g:
        return g.team
    team_id = session.get("team_id") if request.blueprint != "api" else None  # the API takes tokens only
    tok = read_token()
    if tok and tok.get("k") == "team":
        team_id = tok["i"]
    g.team = get_db().get(Team, team_id) if team_id else None
    return g.team


def instructor_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not is_instructor():
            if request.blueprint == "api":
                return jsonify(error={"field": "auth", "rule": "instructor sign-in required", "value": None}), 401
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


def team_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_team() is None:
            if request.blueprint == "api":
                return jsonify(error={"field": "auth", "rule": "team sign-in required (join with your code)", "value": None}), 401
            return redirect(url_for("auth.join"))
        return view(*args, **kwargs)

    return wrapped


def game_or_404(game_id: int) -> Game:
    game = get_db().get(Game, game_id)
    if game is None:
        abort(404)
    return game


def list_games() -> list[Game]:
    return list(get_db().scalars(select(Game).order_by(Game.id.desc())).all())


# -- the decision form ------------------------------------------------------------


def form_to_raw(form: Any, standing: dict[str, Any] | None = None) -> dict[str, Any]:
    """Turn the decision form's fields into a raw decision for the engine's validation.

    Blank standing fields keep the standing decision; blank one-off fields are zero;
    a tender's bid counts only when its price is filled in. Values stay as typed
    (strings): the engine's validation converts and reports them.
    """
    raw: dict[str, Any] = {}
    for f in STANDING_FIELDS + ONE_OFF_FIELDS:
        v = (form.get(f) or "").strip()
        if v:
            raw[f] = v
    cult = {}
    bids: dict[str, dict[str, Any]] = {}
    for key, value in form.items():
        value = (value or "").strip()
        if key.startswith("cultivation.") and value:
            cult[key.removeprefix("cultivation.")] = value
        elif key.startswith("bids.") and key.endswith(".price") and value:
            tid = key.removeprefix("bids.").removesuffix(".price")
            bids[tid] = {"price": value, "promised_service": (form.get(f"bids.{tid}.promised_service") or "").strip() or None}
    raw["cultivation"] = cult
    raw["bids"] = bids
    return raw


# -- templates ------------------------------------------------------------------------


def money(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"-¥{-v:,.0f}" if v < 0 else f"¥{v:,.0f}"


def pct(v: Any, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{100 * v:.{digits}f}%"


def num(v: Any, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:,.{digits}f}"


def register_template_helpers(app: Flask) -> None:
    from crmsim.web import LANGUAGES
    from crmsim.web.i18n import client_name, current_lang, void_reason_text

    app.jinja_env.filters.update(money=money, pct=pct, num=num)
    app.jinja_env.globals.update(
        is_instructor=is_instructor,
        current_team=current_team,
        languages=LANGUAGES,
        current_lang=current_lang,
        client_name=client_name,
        void_reason_text=void_reason_text,
    )

    @app.errorhandler(404)
    def not_found(_e):
        if request.path.startswith("/api/"):
            return jsonify(error={"field": "path", "rule": "not found", "value": request.path}), 404
        return render_template("error.html", code=404, message=_("Not found")), 404

    @app.errorhandler(403)
    def forbidden(_e):
        if request.path.startswith("/api/"):
            return jsonify(error={"field": "auth", "rule": "not allowed", "value": request.path}), 403
        return render_template("error.html", code=403, message=_("Not allowed: this page is not yours to see yet.")), 403

    @app.errorhandler(429)
    def too_many(e):
        if request.path.startswith("/api/"):
            return jsonify(error={"field": "rate", "rule": f"too many requests: {e.description}", "value": None}), 429
        return render_template("error.html", code=429, message=_("Too many attempts; wait a minute and try again.")), 429
