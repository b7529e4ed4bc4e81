"""The classroom web app: instructor console, team pages, live scoreboard, debrief and a JSON API.

Thin layer over the engine: views validate, call one service function and
render. ``create_app(config=None)`` follows Flask's application-factory
pattern. Deployment (SQLite, PostgreSQL, several processes, Redis): docs/deploy.md.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

from crmsim.extras import require_extra

LANGUAGES = {"en": "English", "zh_CN": "中文"}
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address, default_limits=[])


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


def check_rate_limit_store(uri: str) -> None:
    """A Redis store (redis://, rediss://, redis+sentinel://...) needs the redis package: say so at start-up."""
    if "redis" in uri.partition("://")[0]:
        require_extra("redis", f"RATELIMIT_STORAGE_URI={uri.partition('://')[0]}://...")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. Config comes from environment variables, overridden by `config` (tests, ``crmsim serve``).

    Environment (and the config key each sets):
        DATABASE_URL: SQLAlchemy URL (default: SQLite in the instance folder).
        CRMSIM_SECRET_KEY (SECRET_KEY): session signing key (default: generated once per instance).
        CRMSIM_INSTRUCTOR_PASSWORD (INSTRUCTOR_PASSWORD): the instructor's password (else set at first visit).
        RATELIMIT_STORAGE_URI: e.g. redis://127.0.0.1:6379, shared by several processes (default: in memory;
            Redis needs ``pip install 'crmsim[redis]'``).
        CRMSIM_RATELIMIT_AUTH (RATELIMIT_AUTH): sign-in attempts per address (default: 10 per minute).
        CRMSIM_INSTANCE: the instance folder (the SQLite file, the generated secret key).

    Raises:
        crmsim.extras.MissingExtra: the database or the rate-limit store needs an extra that is not installed.
    """
    app = Flask(__name__, instance_path=os.environ.get("CRMSIM_INSTANCE") or None, instance_relative_config=True)
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        SECRET_KEY=None,
        DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'crmsim.db'}",
        INSTRUCTOR_PASSWORD=os.environ.get("CRMSIM_INSTRUCTOR_PASSWORD"),
        RATELIMIT_STORAGE_URI=os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        RATELIMIT_AUTH=os.environ.get("CRMSIM_RATELIMIT_AUTH", "10 per minute"),
        BABEL_TRANSLATION_DIRECTORIES=str(Path(__file__).parent / "translations"),
        BABEL_DEFAULT_LOCALE="en",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,
        POLL_SECONDS=3,
    )
    if config:
        app.config.update(config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _secret_key(instance)
    check_rate_limit_store(app.config["RATELIMIT_STORAGE_URI"])

    from crmsim.web import db

    db.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    Babel(app, locale_selector=select_locale)

    from crmsim.web import api, auth, instructor, scoreboard, team

    app.register_blueprint(auth.bp)
    app.register_blueprint(instructor.bp)
    app.register_blueprint(team.bp)
    app.register_blueprint(scoreboard.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the API authenticates with bearer tokens, never cookies

    from crmsim.web.views import register_template_helpers

    register_template_helpers(app)
    return app
