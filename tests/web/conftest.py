"""Fixtures for the web app: one app per test on SQLite (a temp file) and on PostgreSQL (a fresh schema).

PostgreSQL: the server named by CRMSIM_TEST_POSTGRES_URL (default: the local
server on 127.0.0.1:5432, database ``test``, user ``postgres`` then ``root``).
Each test session creates its own database and each test its own schema in it,
so tests never see each other's data. When no server answers, the PostgreSQL
half of the suite is skipped with the reason, except under CI (CI=true),
where it fails instead.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

PG_DEFAULT_URLS = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://root@127.0.0.1:5432/test")
INSTRUCTOR_PASSWORD = "secret-pass"
ENV_VARS = ("DATABASE_URL", "CRMSIM_SECRET_KEY", "CRMSIM_INSTRUCTOR_PASSWORD", "CRMSIM_RATELIMIT_AUTH", "RATELIMIT_STORAGE_URI",
            "CRMSIM_TOKEN_HOURS", "CRMSIM_TRUSTED_PROXIES", "CRMSIM_MAX_REQUEST_BYTES")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


# ---------------------------------------------------------------------------
# PostgreSQL: one database per test session, one schema per test


def _pg_connect(url: str):
    import psycopg

    # commits need not wait for the disk: the tests never crash the server
    return psycopg.connect(url, autocommit=True, connect_timeout=3, options="-c synchronous_commit=off")


def _with_database(url: str, dbname: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + dbname
    return base + ("?" + query if query else "")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a PostgreSQL database created for this test session (dropped at the end)."""
    configured = os.environ.get("CRMSIM_TEST_POSTGRES_URL")
    candidates = (configured,) if configured else PG_DEFAULT_URLS
    errors = []
    server = None
    for url in candidates:
        try:
            _pg_connect(url).close()
            server = url
            break
        except Exception as exc:  # noqa: BLE001 - any failure means "no usable server"
            errors.append(f"{url}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
    if server is None:
        reason = "no PostgreSQL server answers (" + "; ".join(errors) + "); set CRMSIM_TEST_POSTGRES_URL to test on PostgreSQL"
        if in_ci():
            pytest.fail("CI=true requires PostgreSQL: " + reason, pytrace=False)
        pytest.skip(reason)
    dbname = f"crmsim_test_{os.getpid()}_{secrets.token_hex(4)}"
    with _pg_connect(server) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    try:
        yield _with_database(server, dbname)
    finally:
        with _pg_connect(server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database: str) -> Iterator[str]:
    """A URL whose connections use a fresh, empty schema (search_path) of the session database."""
    schema = f"t_{secrets.token_hex(6)}"
    with _pg_connect(pg_database) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in pg_database else "?"
    yield pg_database + sep + "options=" + quote(f"-csearch_path={schema} -csynchronous_commit=off", safe="")
    with _pg_connect(pg_database) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# ---------------------------------------------------------------------------
# the app


SHM = Path("/dev/shm")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """The database under test: a temp SQLite file (in memory-backed /dev/shm where there is one: the
    app's fsync on every commit is slow on disk), or a fresh PostgreSQL schema."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_url")
        return
    if SHM.is_dir() and os.access(SHM, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="crmsim-test-", dir=SHM))
        yield f"sqlite:///{folder / 'crmsim.db'}"
        shutil.rmtree(folder, ignore_errors=True)
    else:
        yield f"sqlite:///{tmp_path / 'crmsim.db'}"


@pytest.fixture
def make_app(database_url: str, tmp_path, monkeypatch) -> Iterator[Callable[..., Any]]:
    """Factory: ``make_app(**config)`` builds an app on the test's database (CSRF off, rate limits off by default)."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CRMSIM_INSTANCE", str(tmp_path / "instance"))
    apps = []

    def factory(**overrides: Any):
        from crmsim.web import create_app

        config = {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test",
            "INSTRUCTOR_PASSWORD": INSTRUCTOR_PASSWORD,
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False,
        }
        config.update(overrides)
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions["db_engine"].dispose()


@pytest.fixture
def app(make_app):
    """The app with CSRF and rate limits off (form tests post without tokens)."""
    return make_app()


@pytest.fixture
def csrf_app(make_app):
    """The app as deployed: CSRF protection on."""
    return make_app(WTF_CSRF_ENABLED=True)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    """A database session inside an app context."""
    from crmsim.web.db import get_db

    with app.app_context():
        yield get_db()


class Clock:
    """The game service's clock, stopped: a test moves it by hand instead of sleeping or allowing a time window."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Stop the server's clocks (the game service's and the sign-in grants': crmsim.web.service.utcnow and
    crmsim.web.grants.utcnow) at 2026-03-02 09:00 UTC; ``clock.advance(s)`` moves them."""
    from crmsim.web import grants, service

    stopped = Clock(datetime(2026, 3, 2, 9, 0, 0))
    monkeypatch.setattr(service, "utcnow", stopped)
    monkeypatch.setattr(grants, "utcnow", stopped)
    return stopped


# ---------------------------------------------------------------------------
# helpers for HTTP tests


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def instructor_token(client) -> str:
    r = client.post("/api/login", json={"password": INSTRUCTOR_PASSWORD})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["token"]


def api_create_game(client, token: str, **body: Any) -> dict[str, Any]:
    body = {"scenario": "classroom-v1", "seed": 1, **body}
    r = client.post("/api/games", json=body, headers=bearer(token))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def api_join(client, code: str) -> dict[str, Any]:
    r = client.post("/api/join", json={"code": code})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "the page has no csrf_token field"
    return m.group(1)


def form_join(client, code: str, with_csrf: bool = True):
    """Join as a team through the HTML form (the browser's way); returns the response."""
    data = {"code": code}
    if with_csrf:
        data["csrf_token"] = csrf_token(client.get("/join").get_data(as_text=True))
    return client.post("/join", data=data)


def decision_to_form(raw: dict[str, Any]) -> dict[str, str]:
    """A raw decision as the team form's fields (what web.views.form_to_raw reads back)."""
    form: dict[str, str] = {}
    for k, v in raw.items():
        if k == "cultivation":
            for c, amount in v.items():
                form[f"cultivation.{c}"] = str(amount)
        elif k == "bids":
            for t, b in v.items():
                form[f"bids.{t}.price"] = str(b["price"])
                if b.get("promised_service") is not None:
                    form[f"bids.{t}.promised_service"] = str(b["promised_service"])
        elif v is not None:
            form[k] = str(v)
    return form


@pytest.fixture(scope="session")
def helpers():
    """The HTTP helpers above, for test modules (conftest modules are not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        bearer=bearer, instructor_token=instructor_token, api_create_game=api_create_game, api_join=api_join,
        csrf_token=csrf_token, form_join=form_join, decision_to_form=decision_to_form, password=INSTRUCTOR_PASSWORD,
    )


# ---------------------------------------------------------------------------
# the security suite's figure (README): requests tried, 5xx answers, wrong accepts, leaks


def _tally():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from probe import TALLY

    return TALLY


def pytest_sessionfinish(session) -> None:
    """An xdist worker hands its tally to the controller."""
    if hasattr(session.config, "workeroutput"):
        from dataclasses import asdict

        session.config.workeroutput["security_tally"] = asdict(_tally())


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """The controller adds up its workers' tallies."""
    _tally().add(getattr(node, "workeroutput", {}).get("security_tally"))


def pytest_terminal_summary(terminalreporter) -> None:
    tally = _tally()
    if tally.requests:
        terminalreporter.write_line(tally.line())
        for problem in tally.problems[:20]:
            terminalreporter.write_line(f"  {problem}")
