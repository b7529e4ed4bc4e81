"""Storage faults (issue 10, finding 9): a full disk or a database made read-only is a 503 with the reason, as JSON
on the API; the server notices without a restart, recovers when the fault is mended, and loses nothing.

SQLite's disk is filled with ``PRAGMA max_page_count`` (SQLite then answers
"database or disk is full", as on a full disk) and made read-only with
``chmod a-w``; PostgreSQL is made read-only with ``default_transaction_read_only``
and its connections dropped, as a fail-over to a read-only server would.
"""

from __future__ import annotations

import stat

import pytest
from sqlalchemy import event, select

from crmsim.web.db import FULL, READ_ONLY, sqlite_file
from crmsim.web.models import DecisionRecord

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
POSTGRESQL_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def first_decision(app, helpers):
    """A game, team 0's token, and the team's first acknowledged decision (price 101): (client, game id, headers)."""
    c = app.test_client()
    inst = helpers.bearer(helpers.instructor_token(c))
    game = helpers.api_create_game(c, inst["Authorization"][7:], seed=3)
    token = helpers.bearer(helpers.api_join(c, game["join_codes"]["0"])["token"])
    assert c.post(f"/api/games/{game['id']}/decision", json={"price": 101}, headers=token).status_code == 200
    return c, game["id"], token


def acknowledged(app) -> list[float]:
    from crmsim.web.db import get_db

    with app.app_context():
        return [r.payload["price"] for r in get_db().scalars(select(DecisionRecord).order_by(DecisionRecord.id))]


def assert_fault(r, fault: str) -> None:
    assert r.status_code == 503, (r.status_code, r.get_data(as_text=True)[:300])
    err = r.get_json()["error"]
    assert (err["field"], err["value"]) == ("database", fault)
    assert "nothing was saved" in err["rule"]


@SQLITE_ONLY  # a full disk is simulated with SQLite's max_page_count; PostgreSQL's error code is mapped below
def test_a_full_disk_is_a_503_with_a_json_reason_and_nothing_is_lost(make_app, helpers):
    app = make_app()
    c, gid, token = first_decision(app, helpers)
    engine = app.extensions["db_engine"]

    def no_room(conn, _record):
        conn.execute("PRAGMA max_page_count = 1")  # SQLite keeps it at the current size: no page more

    event.listen(engine, "connect", no_room)
    engine.dispose()
    big = {"note": "x" * 40_000}
    assert_fault(c.put("/api/team/draft", json=big, headers=token), FULL)
    r = c.post(f"/api/games/{gid}/decision", json={"price": 102}, headers=token)
    assert r.status_code in (200, 503)  # a small row may still fit in a page
    if r.status_code == 503:
        assert_fault(r, FULL)
    event.remove(engine, "connect", no_room)
    engine.dispose()
    assert c.put("/api/team/draft", json=big, headers=token).status_code == 200  # mended: no restart
    assert acknowledged(app)[:1] == [101.0]
    assert acknowledged(app) == [101.0] + ([102.0] if r.status_code == 200 else [])


@SQLITE_ONLY
def test_a_sqlite_file_made_read_only_while_running_is_noticed_at_once(make_app, helpers):
    app = make_app()
    c, gid, token = first_decision(app, helpers)
    path = sqlite_file(app.config["DATABASE_URL"])
    mode = path.stat().st_mode
    path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        assert_fault(c.post(f"/api/games/{gid}/decision", json={"price": 102}, headers=token), READ_ONLY)
        assert_fault(c.put("/api/team/draft", json={"price": "103"}, headers=token), READ_ONLY)
        assert c.get(f"/api/games/{gid}").status_code == 200  # reading still works
        page = app.test_client()
        r = page.post("/login", data={"password": helpers.password})  # a sign-in writes its session row
        assert r.status_code == 503 and "read-only" in r.get_data(as_text=True)
    finally:
        path.chmod(mode)
    assert c.post(f"/api/games/{gid}/decision", json={"price": 104}, headers=token).status_code == 200
    assert acknowledged(app) == [101.0, 104.0]


@POSTGRESQL_ONLY
def test_a_postgresql_database_turned_read_only_is_a_503_and_recovers_without_a_restart(make_app, helpers, database_url):
    import psycopg

    from crmsim.web.db import make_engine

    app = make_app()
    c, gid, token = first_decision(app, helpers)
    dbname = make_engine(database_url).url.database
    admin = psycopg.connect(database_url.rsplit("/", 1)[0] + "/test", autocommit=True)

    def drop_connections():
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [dbname])

    try:
        admin.execute(f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = on')
        drop_connections()  # as a fail-over or a restart of the database server would
        assert_fault(c.post(f"/api/games/{gid}/decision", json={"price": 102}, headers=token), READ_ONLY)
        assert c.get(f"/api/games/{gid}").status_code == 200
    finally:
        admin.execute(f'ALTER DATABASE "{dbname}" RESET default_transaction_read_only')
        admin.close()
    assert c.post(f"/api/games/{gid}/decision", json={"price": 104}, headers=token).status_code == 200  # no restart
    assert acknowledged(app) == [101.0, 104.0]


@pytest.mark.parametrize(("sqlstate", "fault"), [("DiskFull", FULL), ("ReadOnlySqlTransaction", READ_ONLY)])
def test_postgresql_storage_faults_are_503_with_a_json_reason(app, helpers, monkeypatch, sqlstate, fault):
    """PostgreSQL's disk-full and read-only errors (SQLSTATE 53100, 25006) as psycopg raises them through SQLAlchemy."""
    import psycopg.errors
    from sqlalchemy.exc import InternalError, OperationalError

    from crmsim.web import service

    c, _, token = first_decision(app, helpers)
    error = getattr(psycopg.errors, sqlstate)("could not extend file" if fault == FULL else "cannot execute INSERT in a read-only transaction")
    wrapper = OperationalError if fault == FULL else InternalError

    def failing(*args, **kwargs):
        raise wrapper("INSERT INTO drafts ...", {}, error)

    monkeypatch.setattr(service, "save_draft", failing)
    monkeypatch.setattr("crmsim.web.api.save_draft", failing)
    assert_fault(c.put("/api/team/draft", json={"price": "99"}, headers=token), fault)
    monkeypatch.undo()
    assert c.put("/api/team/draft", json={"price": "99"}, headers=token).status_code == 200


def test_an_unknown_database_error_is_still_a_server_error(app, helpers, monkeypatch):
    """Only storage faults become 503: a database error that means a bug is not dressed up as one."""
    from sqlalchemy.exc import ProgrammingError

    c, gid, token = first_decision(app, helpers)

    def failing(*args, **kwargs):
        raise ProgrammingError("SELECT nonsense", {}, Exception("syntax error"))

    monkeypatch.setattr("crmsim.web.api.save_draft", failing)
    with pytest.raises(ProgrammingError):  # TESTING propagates it; a deployed server answers 500
        c.put("/api/team/draft", json={"price": "99"}, headers=token)
