"""Database set-up: SQLAlchemy engine and sessions, schema migrations with Alembic.

SQLite (a file under the instance folder) by default; PostgreSQL (the
``postgres`` extra) or any SQLAlchemy URL through DATABASE_URL.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from crmsim.extras import require_extra

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # concurrent readers with WAL; commits survive a killed process
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed server loses no commit
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("postgresql+psycopg://"):
        require_extra("postgres", f"the PostgreSQL database {make_url(url).render_as_string(hide_password=True)}")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the database schema to the latest migration."""
    command.upgrade(alembic_config(url), "head")


def init_app(app: Flask) -> None:
    """The app's engine, its sessions and its cache of rebuilt games (each session carries the cache in ``info``)."""
    from crmsim.web.service import GAME_CACHE, GameCache

    url = app.config["DATABASE_URL"]
    engine = make_engine(url)
    if app.config.get("AUTO_MIGRATE", True):
        upgrade(str(engine.url.render_as_string(hide_password=False)))
    games = GameCache()
    app.extensions["db_engine"] = engine
    app.extensions[GAME_CACHE] = games
    app.extensions["db_sessions"] = sessionmaker(engine, expire_on_commit=False, info={GAME_CACHE: games})
    app.teardown_appcontext(_close)


def get_db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["db_sessions"]()
    return g.db


def _close(_exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()
