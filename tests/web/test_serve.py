"""`crmsim serve` and the app's start-up: the configuration goes to create_app, a busy port is a clear error
before anything is written, and a setting that needs an extra names the extra to install."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import free_port  # noqa: E402

from crmsim.cli import main  # noqa: E402
from crmsim.extras import MissingExtra  # noqa: E402

SERVER_ENV = ("DATABASE_URL", "CRMSIM_SECRET_KEY", "CRMSIM_INSTRUCTOR_PASSWORD", "RATELIMIT_STORAGE_URI", "CRMSIM_RATELIMIT_AUTH")


@pytest.fixture
def server_env(tmp_path, monkeypatch) -> Path:
    """No server settings from the environment; the instance folder under tmp_path."""
    for var in SERVER_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CRMSIM_INSTANCE", str(tmp_path / "instance"))
    return tmp_path


def test_serve_passes_its_settings_to_create_app_and_leaves_the_environment_alone(server_env, monkeypatch, capsys):
    """--database reaches the app's config (not os.environ); --demo writes the demo game into that database."""
    import waitress

    from crmsim.web.views import list_games

    served = {}
    monkeypatch.setattr(waitress, "serve", lambda app, **options: served.update(app=app, **options))
    url, port = f"sqlite:///{server_env / 'class.db'}", free_port()
    assert main(["serve", "--database", url, "--port", str(port), "--threads", "3", "--demo"]) == 0
    app = served["app"]
    assert app.config["DATABASE_URL"] == url
    assert "DATABASE_URL" not in os.environ
    assert (served["host"], served["port"], served["threads"]) == ("127.0.0.1", port, 3)
    assert "trusted_proxy" not in served  # no proxy named: forwarded headers are not trusted
    with app.app_context():
        assert [(g.id, g.name, g.scenario_name, g.public) for g in list_games()] == [(1, "Demo game · 演示", "classroom-v2", True)]
        assert "Demo game" in app.test_client().get("/").get_data(as_text=True)  # a newcomer's home page lists the demo
    text = " ".join(capsys.readouterr().out.split())
    assert f"crmsim classroom server on http://127.0.0.1:{port}/" in text and f"database: {url}" in text
    assert f"scoreboard: http://127.0.0.1:{port}/scoreboard/1" in text
    app.extensions["db_engine"].dispose()


def test_serve_behind_a_reverse_proxy_takes_client_addresses_from_it(server_env, monkeypatch):
    import waitress

    served = {}
    monkeypatch.setattr(waitress, "serve", lambda app, **options: served.update(app=app, **options))
    assert main(["serve", "--port", str(free_port()), "--trusted-proxy", "127.0.0.1",
                 "--database", f"sqlite:///{server_env / 'class.db'}"]) == 0
    assert (served["trusted_proxy"], served["trusted_proxy_count"]) == ("127.0.0.1", 1)
    assert served["trusted_proxy_headers"] == {"x-forwarded-for", "x-forwarded-proto"}
    served["app"].extensions["db_engine"].dispose()


def test_serve_on_a_busy_port_says_so_before_writing_anything(server_env, capsys):
    database = server_env / "class.db"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--port", str(port), "--database", f"sqlite:///{database}", "--demo"]) == 2
    assert capsys.readouterr().out.strip() == f"error: port {port} is in use: choose another with --port"
    assert not database.exists()  # no demo game, no database


STARTS_WITHOUT = "import sys; sys.modules[{module!r}] = None; from crmsim.cli import main; sys.exit(main({argv!r}))"


@pytest.mark.parametrize(("setting", "value", "module", "extra", "what"), [
    ("DATABASE_URL", "postgresql://teacher:pw@127.0.0.1:5432/class", "psycopg", "postgres",
     "the PostgreSQL database postgresql+psycopg://teacher:***@127.0.0.1:5432/class"),
    ("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379", "redis", "redis", "RATELIMIT_STORAGE_URI=redis://..."),
])
def test_serve_without_the_extra_a_setting_needs_names_the_extra(server_env, setting, value, module, extra, what):
    """A base install lacks the extra (simulated: its module cannot be imported): one line, exit 2, no traceback."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV}
    env[setting] = value
    argv = ["serve", "--port", str(free_port())]
    done = subprocess.run([sys.executable, "-c", STARTS_WITHOUT.format(module=module, argv=argv)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert " ".join(done.stdout.split()) == f"error: {what} needs the {extra} extra: pip install 'crmsim[{extra}]' (missing: {module})"
    assert "Traceback" not in done.stderr and "pw" not in done.stdout


def test_create_app_refuses_a_redis_store_without_the_redis_package(server_env, monkeypatch):
    """A WSGI server that calls create_app itself gets the same message, at start-up rather than at the first sign-in."""
    from crmsim.web import create_app

    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(MissingExtra) as err:
        create_app({"DATABASE_URL": f"sqlite:///{server_env / 'class.db'}", "RATELIMIT_STORAGE_URI": "rediss://cache:6380/0"})
    assert str(err.value) == "RATELIMIT_STORAGE_URI=rediss://... needs the redis extra: pip install 'crmsim[redis]' (missing: redis)"
    assert err.value.extra == "redis"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_answers(), reason="no Redis server on 127.0.0.1:6379")
def test_sign_in_attempts_are_counted_in_redis_when_it_is_the_store(server_env):
    """With the [redis] extra, RATELIMIT_STORAGE_URI=redis://... keeps the counts in Redis, where every process sees them."""
    import redis

    from crmsim.web import create_app

    prefix = f"crmsim-test-{secrets.token_hex(4)}"
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": f"sqlite:///{server_env / 'class.db'}",
                      "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379", "RATELIMIT_KEY_PREFIX": prefix,
                      "RATELIMIT_ENABLED": True, "RATELIMIT_AUTH": "3 per minute", "WTF_CSRF_ENABLED": False})
    client, store = app.test_client(), redis.Redis(host="127.0.0.1", port=6379)
    try:
        assert [client.post("/api/join", json={"code": "WRONG1"}).status_code for _ in range(4)] == [404, 404, 404, 429]
        keys = [k.decode() for k in store.keys(f"*{prefix}*")]
        assert keys == [f"LIMITS:LIMITER/{prefix}/127.0.0.1/join-code/3/1/minute"]  # one count for the page and the API
        assert int(store.get(keys[0])) == 3  # the failed guesses; the refused fourth was not checked, so not a guess
    finally:
        for key in store.keys(f"*{prefix}*"):
            store.delete(key)
        app.extensions["db_engine"].dispose()


def test_serve_without_a_password_prints_a_one_time_setup_link_and_limits_bodies(tmp_path):
    """As Jupyter does: the terminal shows /setup?token=...; without it, nobody becomes the instructor. A body over
    the limit is refused by the served app (413, JSON on the API) however it is sent."""
    import http.client
    import http.cookiejar
    import json
    import re
    import urllib.error
    import urllib.parse
    import urllib.request

    from server import LiveServer

    with LiveServer(tmp_path / "instance", env={"CRMSIM_INSTRUCTOR_PASSWORD": ""}) as srv:
        found = re.findall(r"/setup\?token=([A-Za-z0-9_-]+)", srv.log())
        assert len(found) == 1, srv.log()
        token = found[0]
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

        def post_setup(form: dict[str, str], page: str) -> int:
            with browser.open(srv.url + page, timeout=30) as r:  # the page's hidden fields, as a browser sends them
                hidden = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', r.read().decode()))
            data = urllib.parse.urlencode({**hidden, **form}).encode()
            try:
                with browser.open(urllib.request.Request(srv.url + "/setup", data=data), timeout=30) as r:
                    return r.status
            except urllib.error.HTTPError as exc:
                return exc.code

        password = {"password": "chosen at first run", "again": "chosen at first run"}
        assert post_setup(password, "/setup") == 403  # no token
        assert post_setup({**password, "token": "guess"}, "/setup") == 403
        assert post_setup(password, f"/setup?token={token}") == 200  # set; redirected to the console
        with browser.open(srv.url + "/instructor/", timeout=30) as r:
            assert r.geturl().endswith("/instructor/")

        host, port = "127.0.0.1", srv.port
        big = b'{"password": "' + b"x" * (2**20 + 1) + b'"}'
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("POST", "/api/login", body=big, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        assert r.status == 413 and json.loads(r.read())["error"]["field"] == "body"
        conn.close()
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("POST", "/api/login", body=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                     headers={"Content-Type": "application/json"}, encode_chunked=True)
        r = conn.getresponse()
        assert r.status == 413 and json.loads(r.read())["error"]["field"] == "body"
        conn.close()
