"""The classroom web app: instructor console, team pages, live scoreboard, debrief and a JSON API.

Thin layer over the engine: views validate, call one service function and
render. ``create_app(config=None)`` follows Flask's application-factory
pattern. Deployment (SQLite, PostgreSQL, several processes, a reverse proxy,
Redis): docs/deploy.md. The JSON API's OpenAPI document: ``GET /api/openapi.json``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from crmsim import InputError
from crmsim.extras import require_extra
from crmsim.web.grants import DEFAULT_TOKEN_HOURS

LANGUAGES = {"en": "English", "zh_CN": "中文"}
csrf = CSRFProtect()


def select_locale() -> str:
    lang = request.args.get("lang")
    if lang in LANGUAGES:
        session["lang"] = lang
    if session.get("lang") in LANGUAGES:
        return session["lang"]
    best = request.accept_languages.best_match(["en", "zh_CN", "zh"], default="en")
    return "zh_CN" if best.startswith("zh") else "en"


def _secret_key(instance: Path) -> str:
    """SECRET_KEY from the environment, else a random key kept in the instance folder (never in the repo)."""
    if os.environ.get("CRMSIM_SECRET_KEY"):
        return os.environ["CRMSIM_SECRET_KEY"]
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def env_whole(name: str, default: int) -> int:
    """A whole-number setting from the environment, or `default`; a bad value names the variable."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise InputError(f"{name}={text!r}: must be a whole number >= 0")
    return value


def check_settings(config: Mapping[str, Any]) -> None:
    """Refuse, at start-up, settings that would weaken the server."""
    from crmsim.web.views import MIN_PASSWORD

    password = config.get("INSTRUCTOR_PASSWORD")
    if password and len(password) < MIN_PASSWORD:
        raise InputError(f"CRMSIM_INSTRUCTOR_PASSWORD: must have at least {MIN_PASSWORD} characters; got {len(password)}")
    for key in ("TRUSTED_PROXIES", "MAX_CONTENT_LENGTH", "DRAFT_MAX_BYTES"):
        if not isinstance(config.get(key), int) or config[key] < 0:
            raise InputError(f"{key}: must be a whole number >= 0; got {config.get(key)!r}")
    if not float(config["TOKEN_HOURS"]) > 0:
        raise InputError(f"CRMSIM_TOKEN_HOURS: must be > 0; got {config['TOKEN_HOURS']!r}")


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed session cookie, marked Secure whenever the request came over HTTPS: directly, or through a
    reverse proxy the app trusts (TRUSTED_PROXIES) that says so in X-Forwarded-Proto."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


def check_rate_limit_store(uri: str) -> None:
    """A Redis store (redis://, rediss://, redis+sentinel://...) needs the redis package: say so at start-up."""
    if "redis" in uri.partition("://")[0]:
        require_extra("redis", f"RATELIMIT_STORAGE_URI={uri.partition('://')[0]}://...")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Config comes from environment variables, overridden by `config` (tests, ``crmsim serve``).

    Environment (and the config key each sets):
        DATABASE_URL: SQLAlchemy URL (default: SQLite in the instance folder).
        CRMSIM_SECRET_KEY (SECRET_KEY): session signing key (default: generated once per instance).
        CRMSIM_INSTRUCTOR_PASSWORD (INSTRUCTOR_PASSWORD): the instructor's password, at least 8 characters (else
            set at first run by whoever has the one-time setup token the server prints in its terminal).
        RATELIMIT_STORAGE_URI: e.g. redis://127.0.0.1:6379, shared by several processes (default: in memory;
            Redis needs ``pip install 'crmsim[redis]'``).
        CRMSIM_RATELIMIT_AUTH (RATELIMIT_AUTH): failed sign-in guesses per address, for the password and for join
            codes, pages and API together (default: 10 per minute).
        CRMSIM_TOKEN_HOURS (TOKEN_HOURS): how long a sign-in lasts, browser session or API token (default: 12).
        CRMSIM_TRUSTED_PROXIES (TRUSTED_PROXIES): reverse proxies in front whose X-Forwarded-For and
            X-Forwarded-Proto headers the app believes (default: 0, none).
        CRMSIM_MAX_REQUEST_BYTES (MAX_CONTENT_LENGTH): the largest request body (default: 1 MiB); DRAFT_MAX_BYTES
            the largest saved draft (default: 64 KiB). Larger ones get 413.
        CRMSIM_INSTANCE: the instance folder (the SQLite file, the generated secret key).

    Raises:
        crmsim.extras.MissingExtra: the database or the rate-limit store needs an extra that is not installed.
        crmsim.InputError: a setting breaks a rule (e.g. an instructor password shorter than 8 characters).
    """
    from crmsim.web.guard import DEFAULT_DRAFT_MAX_BYTES, DEFAULT_MAX_REQUEST_BYTES, DatabaseId, check_form_and_query

    app = Flask(__name__, instance_path=os.environ.get("CRMSIM_INSTANCE") or None, instance_relative_config=True)
    app.url_map.converters["int"] = DatabaseId  # ids a database can hold: a larger one is a 404, never an overflow
    app.session_interface = SessionCookies()
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        SECRET_KEY=None,
        DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'crmsim.db'}",
        INSTRUCTOR_PASSWORD=os.environ.get("CRMSIM_INSTRUCTOR_PASSWORD"),
        RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        RATELIMIT_AUTH=os.environ.get("CRMSIM_RATELIMIT_AUTH", "10 per minute"),
        RATELIMIT_ENABLED=True,
        TOKEN_HOURS=env_whole("CRMSIM_TOKEN_HOURS", DEFAULT_TOKEN_HOURS),
        TRUSTED_PROXIES=env_whole("CRMSIM_TRUSTED_PROXIES", 0),
        MAX_CONTENT_LENGTH=env_whole("CRMSIM_MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES),
        DRAFT_MAX_BYTES=DEFAULT_DRAFT_MAX_BYTES,
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        BABEL_DEFAULT_LOCALE="en",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        POLL_SECONDS=3,
    )
    if config:
        app.config.update(config)
    app.config["MAX_FORM_MEMORY_SIZE"] = app.config["MAX_CONTENT_LENGTH"]  # one limit for every kind of body
    check_settings(app.config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key(instance)
    check_rate_limit_store(app.config["RATELIMIT_STORAGE_URI"])
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    from crmsim.web import db, guesses

    db.init_app(app)
    guesses.init_app(app)
    csrf.init_app(app)
    Babel(app, locale_selector=select_locale)
    app.before_request(check_form_and_query)

    from crmsim.web import api, auth, instructor, scoreboard, team

    app.register_blueprint(auth.bp)
    app.register_blueprint(instructor.bp)
    app.register_blueprint(team.bp)
    app.register_blueprint(scoreboard.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the API authenticates with bearer tokens, never cookies

    from crmsim.web.views import note_team_seen, register_template_helpers

    app.after_request(note_team_seen)
    register_template_helpers(app)
    auth.announce_first_run(app)
    return app
