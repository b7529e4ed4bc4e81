"""Database set-up: SQLAlchemy engine and sessions, schema migrations with Alembic, and storage faults.

SQLite (a file under the instance folder) by default; PostgreSQL (the
``postgres`` extra) or any SQLAlchemy URL through DATABASE_URL.

A storage fault (the disk is full, the database was made read-only, the
database server is down) is not a bug: :func:`storage_fault` names it, and the
app answers 503 with the reason, having stored nothing. A SQLite file made
read-only while the server runs is noticed at the next request (its
connections are switched to read-only), and a database that turned read-only
or went away gets fresh connections, so the server recovers without a restart
when the fault is mended.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from crmsim.extras import require_extra

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


# what each storage fault means for the people in the room; nothing was stored when one is reported
FULL, READ_ONLY, UNAVAILABLE = "full", "read-only", "unavailable"
FAULT_RULES = {
    FULL: "the database's disk is full: nothing was saved; free some space and try again",
    READ_ONLY: "the database is read-only: nothing was saved; make it writable again (no restart needed)",
    UNAVAILABLE: "the database cannot be reached or is busy: nothing was saved; try again in a moment",
}
SQLITE_FAULTS = {13: FULL, 8: READ_ONLY, 5: UNAVAILABLE, 6: UNAVAILABLE, 10: UNAVAILABLE, 14: UNAVAILABLE}  # FULL, READONLY, BUSY, LOCKED, IOERR, CANTOPEN
POSTGRES_FAULTS = {"53100": FULL, "53000": FULL, "25006": READ_ONLY, "57P01": UNAVAILABLE, "57P02": UNAVAILABLE,
                   "57P03": UNAVAILABLE, "53300": UNAVAILABLE, "40P01": UNAVAILABLE}  # disk full, read-only transaction, shutdown...
SUSPECT = "db_suspect"  # app.extensions: a storage fault was seen and no transaction has committed since
OS_FAULTS = {errno.ENOSPC: FULL, errno.EDQUOT: FULL, errno.EROFS: READ_ONLY, errno.EACCES: READ_ONLY}


def storage_fault(exc: BaseException) -> str | None:
    """FULL, READ_ONLY or UNAVAILABLE if `exc` is a storage fault rather than a bug, else None."""
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            return SQLITE_FAULTS.get(code & 0xFF)  # extended codes keep the primary code in the low byte
        state = getattr(orig, "sqlstate", None) or ""
        if state in POSTGRES_FAULTS:
            return POSTGRES_FAULTS[state]
        if state.startswith("08") or (exc.connection_invalidated and not state):  # connection exceptions
            return UNAVAILABLE
        return None
    if isinstance(exc, OSError):
        return OS_FAULTS.get(exc.errno)
    return None


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None for an in-memory database)."""
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" and not database.startswith("file::memory:") else None


def file_is_read_only(path: Path) -> bool:
    """True when the file has no write permission for its owner, group or others, or this process cannot write it.

    The mode bits count even for root, who could write anyway: an administrator
    who makes the file read-only (``chmod a-w``) means it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    return not (mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) or not os.access(path, os.W_OK)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        path = sqlite_file(url)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # concurrent readers with WAL; commits survive a killed process
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed server loses no commit
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "checkout")
        def _follow_the_file_mode(conn, _record, _proxy):  # a file made read-only is read-only from the next request on
            if path is not None:
                conn.execute(f"PRAGMA query_only = {int(file_is_read_only(path))}")

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
    sessions = sessionmaker(engine, expire_on_commit=False, info={GAME_CACHE: games})
    app.extensions["db_sessions"] = sessions
    app.extensions[SUSPECT] = False

    @event.listens_for(sessions, "after_commit")
    def _writable_again(_session):
        app.extensions[SUSPECT] = False

    app.teardown_appcontext(_close)


def recover_from(fault: str) -> None:
    """After a storage fault: end the request's transaction. A database that turned read-only or went away
    keeps its settings in the connections made meanwhile (PostgreSQL's default_transaction_read_only), so until
    a transaction commits again, no connection is pooled: each request connects afresh and sees the database
    as it is then, and the server recovers by itself once the fault is mended."""
    db = g.get("db")
    if db is not None:
        try:
            db.rollback()
        except DBAPIError:
            pass
    if fault in (READ_ONLY, UNAVAILABLE):
        current_app.extensions[SUSPECT] = True
        current_app.extensions["db_engine"].dispose()


def get_db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["db_sessions"]()
    return g.db


def _close(_exc: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()
        if current_app.extensions.get(SUSPECT):  # no connection made while the database was read-only or away is kept
            current_app.extensions["db_engine"].dispose()
