"""Shared view helpers: who is signed in, tokens, form parsing, template filters, error pages."""

from __future__ import annotations

import functools
import hmac
import math
import numbers
import secrets
from collections.abc import Callable
from typing import Any

from flask import Flask, abort, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from crmsim.web import grants
from crmsim.web.db import get_db
from crmsim.web.models import Game, Setting, Team

PASSWORD_KEY = "instructor_password_hash"
SETUP_TOKEN_KEY = "setup_token"  # until the first password is set: the one-time token printed in the server's terminal
STANDING_FIELDS = ("price", "service_level", "care_budget", "advertising_budget")
ONE_OFF_FIELDS = ("hire_sales", "fire_sales", "hire_service", "fire_service", "borrow", "repay")
MIN_PASSWORD = 8


# -- the instructor's password ------------------------------------------------


def password_is_set() -> bool:
    return bool(current_app.config.get("INSTRUCTOR_PASSWORD")) or get_db().get(Setting, PASSWORD_KEY) is not None


def set_password(password: str) -> None:
    """Set the first password; the setup token is used up with it."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(_("password: must have at least %(n)d characters", n=MIN_PASSWORD))
    db = get_db()
    db.merge(Setting(key=PASSWORD_KEY, value=generate_password_hash(password)))
    db.execute(delete(Setting).where(Setting.key == SETUP_TOKEN_KEY))
    db.commit()


def check_password(password: str) -> bool:
    configured = current_app.config.get("INSTRUCTOR_PASSWORD")
    if configured:
        return hmac.compare_digest(password.encode(), configured.encode())
    row = get_db().get(Setting, PASSWORD_KEY)
    return row is not None and check_password_hash(row.value, password)


def setup_token() -> str:
    """The one-time token that first-run setup asks for: made once and kept in the database, so that every
    server process on it prints, and accepts, the same one."""
    db = get_db()
    row = db.get(Setting, SETUP_TOKEN_KEY)
    if row is None:
        db.add(Setting(key=SETUP_TOKEN_KEY, value=secrets.token_urlsafe(24)))
        try:
            db.commit()
        except IntegrityError:  # another process made it first
            db.rollback()
        row = db.get(Setting, SETUP_TOKEN_KEY)
    return row.value


def setup_token_matches(given: str) -> bool:
    row = get_db().get(Setting, SETUP_TOKEN_KEY)
    return row is not None and bool(given) and hmac.compare_digest(given.encode(), row.value.encode())


# -- sign-in: browser sessions and API tokens (web/grants.py) -------------------------------


def token_hours() -> float:
    return float(current_app.config["TOKEN_HOURS"])


def sign_in(kind: str, team_id: int | None = None) -> None:
    """Start a fresh browser session for the instructor or a team (no fixation), keeping the language choice.

    A team's session also carries the API token its pages use (drafts, cost preview),
    issued under the session so that signing out revokes both."""
    db = get_db()
    fresh_session()
    session["grant"] = grants.issue(db, kind, token_hours(), team_id)
    if kind == grants.TEAM:
        session["page_token"] = grants.issue(db, kind, token_hours(), team_id, parent=session["grant"])


def sign_out() -> None:
    """End the browser session everywhere: its token (and a copy of the cookie) stops working."""
    if isinstance(session.get("grant"), str):
        grants.revoke(get_db(), session["grant"])
    fresh_session()


def fresh_session() -> None:
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def make_token(kind: str, team_id: int | None = None) -> str:
    """A new API token (``POST /api/login``, ``/api/join``)."""
    return grants.issue(get_db(), kind, token_hours(), team_id)


def bearer_token() -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header, if the request has one."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    return header.removeprefix("Bearer ").strip() or None


def _holder(token: str | None) -> grants.Holder | None:
    """Who `token` signs in, or None; the reason a token was refused is kept for the API's 401."""
    if not token or not isinstance(token, str):
        return None
    try:
        return grants.holder(get_db(), token)
    except grants.TokenRefused as exc:
        g.token_refused = str(exc)
        return None


def signed_in() -> tuple[grants.Holder | None, grants.Holder | None]:
    """(who the browser session signs in, who the bearer token signs in), once per request.

    The CSRF-exempt API takes tokens only, never the session cookie."""
    if "signed_in" not in g:
        from_session = _holder(session.get("grant")) if request.blueprint != "api" else None
        g.signed_in = (from_session, _holder(bearer_token()))
    return g.signed_in


def is_instructor() -> bool:
    return any(h is not None and h.kind == grants.INSTRUCTOR for h in signed_in())


def current_team() -> Team | None:
    """The team signed in by the bearer token, else by the browser session."""
    if "team" in g:
        return g.team
    from_session, from_token = signed_in()
    holder = next((h for h in (from_token, from_session) if h is not None and h.kind == grants.TEAM), None)
    g.team = get_db().get(Team, holder.team_id) if holder else None
    return g.team


def page_token() -> str | None:
    """The API token a team's page uses: the bearer token it came with, else its session's page token."""
    return bearer_token() or session.get("page_token")


def sign_in_required(rule: str):
    """The API's 401 answer: why the token was refused (expired, revoked, unknown), else `rule`."""
    return refusal(401, "auth", g.get("token_refused") or rule)


def instructor_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not is_instructor():
            if request.blueprint == "api":
                return sign_in_required("instructor sign-in required")
            return redirect(url_for("auth.login", next=request.path))
        return view(*args, **kwargs)

    wrapped.caller = "instructor"
    return wrapped


def team_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_team() is None:
            if request.blueprint == "api":
                return sign_in_required("team sign-in required (join with your code)")
            return redirect(url_for("auth.join"))
        return view(*args, **kwargs)

    wrapped.caller = "team"
    return wrapped


def game_or_404(game_id: int) -> Game:
    game = get_db().get(Game, game_id)
    if game is None:
        abort(404)
    return game


def list_games(listed_only: bool = False) -> list[Game]:
    """Every game, newest first; `listed_only`: only those the instructor marked public."""
    q = select(Game).order_by(Game.id.desc())
    if listed_only:
        q = q.where(Game.public.is_(True))
    return list(get_db().scalars(q).all())


def note_team_seen(response):
    """After each request a signed-in team made and was answered (2xx): its last-seen time (the console's monitor).
    A refused request changes nothing, this included."""
    if not 200 <= response.status_code < 300 or request.endpoint in (None, "static") or not (session.get("grant") or bearer_token()):
        return response
    team = current_team()
    if team is not None:
        from crmsim.web.service import record_seen

        record_seen(get_db(), team)
    return response


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
    raw.update(v2_form_fields(form))
    return raw


def v2_form_fields(form: Any) -> dict[str, Any]:
    """The second version's levers as the form sends them (docs/rules.md section 7): ``activities.<client>``
    checkboxes (one value per activity), ``research.rivals`` checkboxes, ``research.survey``,
    ``research.forecast``, ``retention_budget`` and ``care_split.<tier>``. A field not on the form is left out,
    so a first-version scenario's decision carries none of them."""
    raw: dict[str, Any] = {}
    getlist = form.getlist if hasattr(form, "getlist") else (lambda k: [form[k]] if k in form else [])
    activities = {}
    for key in form.keys():
        if key.startswith("activities."):
            acts = [a.strip() for a in getlist(key) if a and a.strip()]
            if acts:
                activities[key.removeprefix("activities.")] = acts
    if activities:
        raw["activities"] = activities
    research: dict[str, Any] = {}
    rivals = [c.strip() for c in getlist("research.rivals") if c and c.strip()]
    if rivals:
        research["rivals"] = rivals
    survey = (form.get("research.survey") or "").strip()
    if survey:
        research["survey"] = survey
    if (form.get("research.forecast") or "").strip():
        research["forecast"] = True
    if research:
        raw["research"] = research
    retention = (form.get("retention_budget") or "").strip()
    if retention:
        raw["retention_budget"] = retention
    split = {k.removeprefix("care_split."): (v or "").strip() for k, v in form.items() if k.startswith("care_split.")}
    if any(split.values()):
        raw["care_split"] = {t: v or "0" for t, v in split.items()}
    return raw


# -- templates ------------------------------------------------------------------------


def money(v: Any, digits: int = 0) -> str:
    """Money on every page, one form: ¥1,234 and -¥1,234 (web.chartspec.format_value, as on the charts' axes);
    `digits` decimals for unit prices (¥96.50)."""
    from crmsim.web.chartspec import format_value

    if v is None or isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
        return "–"
    v = round(float(v), digits)  # what is shown: -0.4 is ¥0, not -¥0
    if digits:
        return ("-" if v < 0 else "") + f"¥{abs(v):,.{digits}f}"
    return format_value(v, "yuan")


def money2(v: Any) -> str:
    """A unit price: ¥ with two decimals (-¥1.50 for a negative one): money(v, 2)."""
    return money(v, 2)


def pct(v: Any, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{100 * v:.{digits}f}%"


def num(v: Any, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:,.{digits}f}"


def register_template_helpers(app: Flask) -> None:
    """Template filters and globals, and the error pages."""
    from crmsim.web import LANGUAGES
    from crmsim.scenarios.schema import STAGES
    from crmsim.web.i18n import (activity_name, band_name, bot_name, client_name, current_lang, metric_name, notice_text,
                                 reference_name, scenario_title, stage_name, statement_line, tender_label, void_reason_text)

    app.jinja_env.filters.update(money=money, money2=money2, pct=pct, num=num, stage_word=stage_name)
    app.jinja_env.globals.update(
        stage_name=stage_name,
        stage_names=STAGES,
        activity_name=activity_name,
        band_name=band_name,
        tender_label=tender_label,
        statement_line=statement_line,
        metric_name=metric_name,
        reference_name=reference_name,
        is_instructor=is_instructor,
        current_team=current_team,
        languages=LANGUAGES,
        current_lang=current_lang,
        client_name=client_name,
        void_reason_text=void_reason_text,
        bot_name=bot_name,
        notice_text=notice_text,
        scenario_title=scenario_title,
        team_announcements=team_announcements,
    )
    register_error_pages(app)


def team_announcements(team: Team) -> list:
    """The announcements a team's page shows (to every team and to this one), newest first
    (web/templates/team/_announcements.html)."""
    from crmsim.web.service import announcements_for

    return announcements_for(get_db(), team.game, team.firm_index)


def api_request() -> bool:
    return request.path.startswith("/api/")


def refusal(status: int, field: str, rule: str, value: Any = None, page: str | None = None):
    """The answer to a refused request: JSON for the API, the error page (in the visitor's language) otherwise."""
    if api_request():
        from crmsim.sim.decisions import Problem
        from crmsim.web.service import problem_json

        return jsonify(error=problem_json(Problem(field, rule, value))), status
    return render_template("error.html", code=status, message=page or f"{field}: {rule}"), status


def register_error_pages(app: Flask) -> None:
    """Every refusal is a clear 4xx (or 503 for a storage fault), as JSON on the API and as a page elsewhere."""
    from werkzeug.exceptions import HTTPException

    from crmsim.web.db import FAULT_RULES, recover_from, storage_fault
    from crmsim.web.guard import InputRefused
    from crmsim.web.service import ServiceError

    @app.errorhandler(404)
    def not_found(_e):
        return refusal(404, "path", "not found", request.path, page=_("Not found"))

    @app.errorhandler(403)
    def forbidden(_e):
        return refusal(403, "auth", "not allowed", request.path, page=_("Not allowed: this page is not yours to see yet."))

    @app.errorhandler(413)
    def too_large(_e):
        limit = int(current_app.config["MAX_CONTENT_LENGTH"])
        return refusal(413, "body", f"too large: the request body must be at most {limit} bytes", None,
                       page=_("Request too large: at most %(n)d bytes.", n=limit))

    @app.errorhandler(429)
    def too_many(e):
        body, status = refusal(429, "rate", f"too many requests: {e.description}", None,
                               page=_("Too many attempts; wait a minute and try again."))
        response = current_app.make_response((body, status))
        if getattr(e, "retry_after", None) is not None:  # the seconds until the window of failed guesses ends
            response.headers["Retry-After"] = str(e.retry_after)
        return response

    @app.errorhandler(InputRefused)
    def input_refused(exc: InputRefused):
        return refusal(400, exc.field, exc.rule, exc.value)

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError):
        from crmsim.web.service import problem_json

        if api_request():
            return jsonify(error=problem_json(exc.problem)), exc.status
        return refusal(exc.status, exc.problem.field, _(exc.problem.rule))

    @app.errorhandler(HTTPException)
    def other_http_error(e: HTTPException):
        if api_request():
            return refusal(e.code or 400, "request", e.description or e.name)
        return e

    def storage_error(exc: Exception):
        fault = storage_fault(exc)
        if fault is None:
            raise exc
        recover_from(fault)
        g.signed_in, g.team = (None, None), None  # the error page asks the database nothing
        app.logger.error("storage fault (%s) on %s %s: %s", fault, request.method, request.path, exc)
        answer, status = refusal(503, "database", FAULT_RULES[fault], fault, page=_(FAULT_RULES[fault]))
        return answer, status, {"Retry-After": "30"}

    from sqlalchemy.exc import DBAPIError

    app.register_error_handler(DBAPIError, storage_error)
    app.register_error_handler(OSError, storage_error)
