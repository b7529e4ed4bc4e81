"""Security rules of the web app: CSRF on forms, cookie flags, no default password, rate limits, privacy."""

from __future__ import annotations

import logging
import re

import pytest

from crmsim.web.service import create_game


def new_game(app, **kw):
    from crmsim.web.db import get_db

    with app.app_context():
        g = create_game(get_db(), "classroom-v1", seed=kw.pop("seed", 2), **kw)
        return g.id, {t.firm_index: t.join_code for t in g.teams}


def signed_in_instructor(app, helpers):
    c = app.test_client()
    token = helpers.csrf_token(c.get("/login").get_data(as_text=True))
    assert c.post("/login", data={"password": helpers.password, "csrf_token": token}).status_code == 302
    return c


# ---------------------------------------------------------------------------
# CSRF


def test_a_form_post_without_the_csrf_token_is_rejected(csrf_app, helpers):
    from crmsim.web.db import get_db
    from crmsim.web.models import DecisionRecord

    gid, codes = new_game(csrf_app)
    c = csrf_app.test_client()
    # joining, signing in and submitting a decision are all refused without a valid token
    assert helpers.form_join(c, codes[0], with_csrf=False).status_code == 400
    assert c.post("/login", data={"password": helpers.password}).status_code == 400
    assert helpers.form_join(c, codes[0]).status_code == 302
    page = c.get("/team/").get_data(as_text=True)
    assert c.post("/team/", data={"price": "120"}).status_code == 400
    assert c.post("/team/", data={"price": "120", "csrf_token": "forged"}).status_code == 400
    with csrf_app.app_context():
        assert get_db().query(DecisionRecord).count() == 0
    assert c.post("/team/", data={"price": "120", "csrf_token": helpers.csrf_token(page)}).status_code == 302
    with csrf_app.app_context():
        assert [r.payload["price"] for r in get_db().query(DecisionRecord)] == [120.0]


def test_instructor_actions_need_the_csrf_token(csrf_app, helpers):
    gid, _ = new_game(csrf_app)
    inst = signed_in_instructor(csrf_app, helpers)
    console = inst.get(f"/instructor/games/{gid}").get_data(as_text=True)
    for action in ("resolve", "pause", "deadline", "bots"):
        assert inst.post(f"/instructor/games/{gid}/{action}").status_code == 400, action
    assert inst.post("/instructor/games", data={"scenario": "classroom-v1"}).status_code == 400
    assert inst.post("/logout").status_code == 400
    assert inst.get(f"/api/games/{gid}").get_json()["period"] == 1
    r = inst.post(f"/instructor/games/{gid}/resolve", data={"csrf_token": helpers.csrf_token(console), "confirm_missing": "true"})
    assert r.status_code == 302
    assert inst.get(f"/api/games/{gid}").get_json()["period"] == 2


def test_the_csrf_exempt_api_does_not_accept_the_session_cookie(csrf_app, helpers):
    gid, codes = new_game(csrf_app)
    inst = signed_in_instructor(csrf_app, helpers)
    r = inst.post(f"/api/games/{gid}/resolve")  # cookie only: no bearer token, no CSRF token
    assert r.status_code == 401
    team = csrf_app.test_client()
    helpers.form_join(team, codes[0])
    r = team.post(f"/api/games/{gid}/decision", json={"price": 150})
    assert r.status_code == 401


# ---------------------------------------------------------------------------
# cookies and passwords


def test_the_session_cookie_is_httponly_and_samesite(csrf_app, helpers):
    c = csrf_app.test_client()
    r = c.get("/login")
    token = helpers.csrf_token(r.get_data(as_text=True))
    r = c.post("/login", data={"password": helpers.password, "csrf_token": token})
    cookies = [h for h in r.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert cookies, r.headers
    for h in cookies:
        flags = {part.strip().split("=")[0].lower(): part.strip() for part in h.split(";")[1:]}
        assert "httponly" in flags
        assert flags.get("samesite", "").lower() == "samesite=lax"


def setup_token_from_the_log(caplog) -> str:
    """The one-time first-run token, as the server prints it in its terminal."""
    found = re.findall(r"/setup\?token=([A-Za-z0-9_-]+)", caplog.text)
    assert found, f"no setup token in the log: {caplog.text!r}"
    return found[-1]


def test_no_default_instructor_password_the_first_visit_sets_one(make_app, helpers, caplog):
    caplog.set_level(logging.WARNING)
    app = make_app(INSTRUCTOR_PASSWORD=None, WTF_CSRF_ENABLED=True)
    setup = setup_token_from_the_log(caplog)
    c = app.test_client()
    r = c.get("/login")
    assert r.status_code == 302 and r.headers["Location"].endswith("/setup")
    assert c.get("/instructor/").status_code == 302
    for guess in ("", "admin", "password", "secret-pass", "crmsim"):
        assert c.post("/api/login", json={"password": guess}).status_code == 401
    page = c.get(f"/setup?token={setup}").get_data(as_text=True)
    token = helpers.csrf_token(page)
    r = c.post("/setup", data={"password": "short", "again": "short", "csrf_token": token, "token": setup})
    assert r.status_code == 400 and "at least 8" in r.get_data(as_text=True)
    r = c.post("/setup", data={"password": "long enough 1", "again": "long enough 2", "csrf_token": token, "token": setup})
    assert r.status_code == 400 and "differ" in r.get_data(as_text=True)
    assert c.get("/login").status_code == 302  # still no password
    r = c.post("/setup", data={"password": "long enough 1", "again": "long enough 1", "csrf_token": token, "token": setup})
    assert r.status_code == 302 and r.headers["Location"].endswith("/instructor/")
    assert c.get("/instructor/").status_code == 200
    # the password is set once: /setup cannot overwrite it, and the new one works
    other = app.test_client()
    assert other.get("/setup").status_code == 302
    token = helpers.csrf_token(other.get("/login").get_data(as_text=True))
    r = other.post("/setup", data={"password": "takeover!!", "again": "takeover!!", "csrf_token": token, "token": setup})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert other.post("/api/login", json={"password": "takeover!!"}).status_code == 401
    assert other.post("/api/login", json={"password": "long enough 1"}).status_code == 200


def test_first_run_setup_needs_the_one_time_token_printed_in_the_terminal(make_app, helpers, caplog):
    """An anonymous visitor without the token cannot become the instructor (finding 3)."""
    caplog.set_level(logging.WARNING)
    app = make_app(INSTRUCTOR_PASSWORD=None)
    setup = setup_token_from_the_log(caplog)
    c = app.test_client()
    form = {"password": "takeover!!", "again": "takeover!!"}
    for token in (None, "", "wrong", setup[:-1], setup + "x"):
        r = c.post("/setup", data=form if token is None else {**form, "token": token})
        assert r.status_code == 403, (token, r.status_code)
        assert c.get("/instructor/").status_code == 302
    assert "token" in c.get("/setup").get_data(as_text=True).lower()  # the page says where the token is
    assert c.post("/api/login", json={"password": "takeover!!"}).status_code == 401
    r = c.post("/setup", data={**form, "token": setup})
    assert r.status_code == 302 and c.get("/instructor/").status_code == 200
    # used once: the token is gone with the first password
    assert c.post("/setup", data={"password": "another one", "again": "another one", "token": setup}).status_code == 302
    assert c.post("/api/login", json={"password": "another one"}).status_code == 401


def test_every_process_on_one_database_prints_the_same_setup_token(make_app, caplog):
    """Several processes share one database: any of them accepts the token that any of them printed."""
    caplog.set_level(logging.WARNING)
    make_app(INSTRUCTOR_PASSWORD=None)
    first = setup_token_from_the_log(caplog)
    caplog.clear()
    second_app = make_app(INSTRUCTOR_PASSWORD=None)
    assert setup_token_from_the_log(caplog) == first
    r = second_app.test_client().post("/setup", data={"password": "long enough", "again": "long enough", "token": first})
    assert r.status_code == 302


@pytest.mark.parametrize("password", ["a", "1234567", "       "])
def test_an_environment_password_shorter_than_8_characters_is_refused_at_start_up(make_app, password):
    from crmsim import InputError

    with pytest.raises(InputError) as err:
        make_app(INSTRUCTOR_PASSWORD=password)
    assert "CRMSIM_INSTRUCTOR_PASSWORD" in str(err.value) and "at least 8" in str(err.value)
    if len(password.strip()) > 3:
        assert password not in str(err.value)  # the password itself is never printed


def test_login_redirects_only_to_local_paths(app, helpers):
    c = app.test_client()
    r = c.post("/login?next=//evil.example/x", data={"password": helpers.password})
    assert r.status_code == 302 and r.headers["Location"] == "/instructor/"
    r = c.post("/login?next=https://evil.example/x", data={"password": helpers.password})
    assert r.headers["Location"] == "/instructor/"
    r = c.post("/login?next=/instructor/games/1", data={"password": helpers.password})
    assert r.headers["Location"] == "/instructor/games/1"


@pytest.mark.parametrize("target", ["/%09/evil.example", "/%0a/evil.example", "/%0d%0a/evil.example", "/%5Cevil.example",
                                    "%5C%5Cevil.example", "/%09%09/evil.example/x", "%2F%2Fevil.example", "///evil.example",
                                    "/\\evil.example", "javascript:alert(1)", "http:evil.example", " //evil.example"])
def test_login_never_redirects_off_site_whatever_the_browser_strips(app, helpers, target):
    """Browsers drop tabs and newlines from a URL and read a backslash as a slash: `/\t/evil.example` is `//evil.example`."""
    r = app.test_client().post(f"/login?next={target}", data={"password": helpers.password})
    assert r.status_code == 302 and r.headers["Location"] == "/instructor/", (target, r.headers["Location"])


# ---------------------------------------------------------------------------
# rate limits


@pytest.mark.parametrize("path", ["/api/join", "/join", "/api/login", "/login"])
def test_sign_in_attempts_are_rate_limited(make_app, path):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_AUTH="3 per minute")
    c = app.test_client()
    api = path.startswith("/api/")
    field = "code" if "join" in path else "password"

    def attempt():
        return c.post(path, json={field: "WRONG1"}) if api else c.post(path, data={field: "WRONG1"})

    for _ in range(3):
        assert attempt().status_code in (200, 401, 404)
    r = attempt()
    assert r.status_code == 429
    if api:
        assert r.get_json()["error"]["field"] == "rate"
    # GET pages and other endpoints are not counted
    assert c.get("/join" if "join" in path else "/login").status_code == 200
    assert c.get("/api/games").status_code == 200


# ---------------------------------------------------------------------------
# privacy between teams


def test_a_team_cannot_see_another_teams_debrief_while_the_game_runs(app, helpers):
    gid, codes = new_game(app, period_minutes=1)
    me = app.test_client()
    helpers.form_join(me, codes[0], with_csrf=False)
    assert me.get(f"/debrief/{gid}/team/0").status_code == 200
    assert me.get(f"/debrief/{gid}/team/1").status_code == 403
    assert app.test_client().get(f"/debrief/{gid}/team/1").status_code == 403
    inst = app.test_client()
    token = helpers.instructor_token(inst)
    assert inst.get(f"/debrief/{gid}/team/1", headers=helpers.bearer(token)).status_code == 200
    assert me.get(f"/debrief/{gid}/team/1", headers=helpers.bearer(helpers.api_join(me, codes[0])["token"])).status_code == 403
    for _ in range(12):
        assert inst.post(f"/api/games/{gid}/resolve", headers=helpers.bearer(token)).status_code == 200
    assert me.get(f"/debrief/{gid}/team/1").status_code == 200  # published when the game is over


def test_no_firms_books_are_public_until_the_game_is_over(app, helpers):
    """Rivals' cash, debt and equity are private during the game: not in the scoreboard API, the scoreboard page
    or its charts; once the game is over the scoreboard and the cash chart show them."""
    gid, _ = new_game(app, period_minutes=1)
    inst, anyone = app.test_client(), app.test_client()
    token = helpers.instructor_token(inst)
    assert inst.post(f"/api/games/{gid}/resolve", headers=helpers.bearer(token)).status_code == 200
    rows = anyone.get(f"/api/games/{gid}/scoreboard").get_json()["periods"]
    assert rows and not any(k in r for r in rows for k in ("cash", "debt", "emergency_debt", "equity"))
    assert anyone.get(f"/scoreboard/{gid}/chart/cash.svg").status_code == 404
    assert anyone.get(f"/scoreboard/{gid}/chart/revenue.svg").status_code == 200
    assert ">Cash</th>" not in anyone.get(f"/scoreboard/{gid}?lang=en").get_data(as_text=True)
    for _ in range(11):
        assert inst.post(f"/api/games/{gid}/resolve", headers=helpers.bearer(token)).status_code == 200
    final = anyone.get(f"/api/games/{gid}/scoreboard").get_json()["ranking"]
    assert all({"cash", "debt", "emergency_debt", "equity"} <= set(r) for r in final)
    assert anyone.get(f"/scoreboard/{gid}/chart/cash.svg").status_code == 200
    assert ">Cash</th>" in anyone.get(f"/scoreboard/{gid}?lang=en").get_data(as_text=True)


def test_a_team_page_shows_no_rival_decision(app, helpers):
    gid, codes = new_game(app)
    me, rival = app.test_client(), app.test_client()
    helpers.form_join(me, codes[0], with_csrf=False)
    helpers.form_join(rival, codes[1], with_csrf=False)
    assert rival.post("/team/", data={"price": "187.65", "care_budget": "76543"}).status_code == 302
    assert me.post("/team/", data={"price": "111.5"}).status_code == 302
    page = me.get("/team/").get_data(as_text=True)
    assert "111.5" in page
    assert "187.65" not in page and "76543" not in page
    assert rival.get("/team/").status_code == 200 and "187.65" in rival.get("/team/").get_data(as_text=True)


# ---------------------------------------------------------------------------
# request size (finding 1)


def test_a_request_body_over_the_limit_is_refused_with_413_and_a_clear_message(app, helpers):
    from crmsim.web.db import get_db
    from crmsim.web.models import Setting

    limit = app.config["MAX_CONTENT_LENGTH"]
    assert 64 * 1024 <= limit <= 16 * 2**20
    c = app.test_client()
    body = b'{"password": "' + b"x" * (limit + 1) + b'"}'
    r = c.post("/api/login", data=body, content_type="application/json")
    assert r.status_code == 413
    err = r.get_json()["error"]
    assert err["field"] == "body" and f"at most {limit} bytes" in err["rule"]
    r = c.post("/join", data={"code": "x" * (limit + 1)})
    assert r.status_code == 413 and "too large" in r.get_data(as_text=True).lower()
    with app.app_context():
        assert get_db().query(Setting).count() == 0


def test_a_draft_over_the_draft_limit_is_refused_and_not_stored(app, helpers):
    from crmsim.web.db import get_db
    from crmsim.web.models import Draft

    gid, codes = new_game(app)
    c = app.test_client()
    team = helpers.bearer(helpers.api_join(c, codes[0])["token"])
    limit = app.config["DRAFT_MAX_BYTES"]
    assert limit < app.config["MAX_CONTENT_LENGTH"]
    r = c.put("/api/team/draft", json={"price": "97", "note": "x" * limit}, headers=team)
    assert r.status_code == 413
    err = r.get_json()["error"]
    assert err["field"] == "draft" and f"at most {limit} bytes" in err["rule"]
    assert c.put("/api/team/draft", json={"price": "97"}, headers=team).status_code == 200
    with app.app_context():
        assert [d.payload for d in get_db().query(Draft)] == [{"price": "97"}]


# ---------------------------------------------------------------------------
# the seed (finding 2)


def test_the_seed_is_shown_to_the_instructor_only_until_the_game_ends(app, helpers):
    seed = 918273
    gid, codes = new_game(app, seed=seed)
    team, anonymous, inst = app.test_client(), app.test_client(), signed_in_instructor(app, helpers)
    helpers.form_join(team, codes[0], with_csrf=False)
    pages = (f"/debrief/{gid}", f"/debrief/{gid}/team/0", f"/scoreboard/{gid}", f"/api/games/{gid}", "/api/games", "/")
    for who in (team, anonymous):
        for page in pages:
            assert str(seed) not in who.get(page).get_data(as_text=True), page
    assert str(seed) in inst.get(f"/debrief/{gid}").get_data(as_text=True)
    token = helpers.bearer(helpers.instructor_token(inst))
    for _ in range(12):
        assert inst.post(f"/api/games/{gid}/resolve", headers=token).status_code == 200
    assert str(seed) in anonymous.get(f"/debrief/{gid}").get_data(as_text=True)  # published with the results


# ---------------------------------------------------------------------------
# sessions and tokens (finding 7)


def test_signing_out_invalidates_a_copy_of_the_instructor_cookie(app, helpers):
    inst = signed_in_instructor(app, helpers)
    copied = inst.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/instructor/").status_code == 200
    assert inst.post("/logout").status_code == 302
    assert inst.get("/instructor/").status_code == 302
    r = thief.get("/instructor/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_signing_out_invalidates_a_copy_of_a_team_cookie(app, helpers):
    gid, codes = new_game(app)
    me = app.test_client()
    assert helpers.form_join(me, codes[0], with_csrf=False).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", me.get_cookie("session").value)
    assert thief.get("/team/").status_code == 200
    me.post("/logout")
    assert thief.get("/team/").status_code == 302
    assert thief.post("/team/", data={"price": "120"}).status_code == 302  # to the join page: nothing stored
    with app.app_context():
        from crmsim.web.db import get_db
        from crmsim.web.models import DecisionRecord

        assert get_db().query(DecisionRecord).count() == 0


def test_api_tokens_expire(app, helpers, clock):
    gid, codes = new_game(app)
    c = app.test_client()
    inst = helpers.bearer(helpers.instructor_token(c))
    team = helpers.bearer(helpers.api_join(c, codes[0])["token"])
    hours = app.config["TOKEN_HOURS"]
    assert 1 <= hours <= 48
    clock.advance(hours * 3600 - 60)
    assert c.get(f"/api/games/{gid}/status", headers=inst).status_code == 200
    assert c.get("/api/team", headers=team).status_code == 200
    clock.advance(120)
    for r in (c.get(f"/api/games/{gid}/status", headers=inst), c.get("/api/team", headers=team)):
        assert r.status_code == 401
        assert "expired" in r.get_json()["error"]["rule"]


def test_expired_sign_ins_are_cleared_away_a_day_later(app, helpers, clock):
    from crmsim.web.db import get_db
    from crmsim.web.models import Grant

    c = app.test_client()
    old = helpers.instructor_token(c)
    clock.advance(app.config["TOKEN_HOURS"] * 3600 + 1)
    assert c.get("/api/games", headers=helpers.bearer(old)).status_code == 200  # public: the token is not needed
    assert "expired" in c.post("/api/logout", headers=helpers.bearer(old)).get_json()["error"]["rule"]
    helpers.instructor_token(c)
    with app.app_context():
        assert get_db().query(Grant).count() == 2  # the expired one is kept a day, to say "expired"
    clock.advance(24 * 3600)
    helpers.instructor_token(c)
    with app.app_context():
        assert get_db().query(Grant).count() == 2  # the first is gone; the second (expired now too) is kept a day
    assert "not recognised" in c.post("/api/logout", headers=helpers.bearer(old)).get_json()["error"]["rule"]


def test_an_api_token_can_be_revoked(app, helpers):
    gid, codes = new_game(app)
    c = app.test_client()
    inst = helpers.bearer(helpers.instructor_token(c))
    other = helpers.bearer(helpers.instructor_token(c))
    team = helpers.bearer(helpers.api_join(c, codes[0])["token"])
    assert c.post("/api/logout", headers=inst).get_json() == {"ok": True}
    assert c.get(f"/api/games/{gid}/status", headers=inst).status_code == 401
    assert c.get(f"/api/games/{gid}/status", headers=other).status_code == 200  # another sign-in keeps its token
    assert c.post("/api/logout", headers=team).status_code == 200
    assert c.get("/api/team", headers=team).status_code == 401
    assert c.post("/api/logout").status_code == 401


def test_the_team_pages_api_token_dies_with_the_team_session(app, helpers):
    gid, codes = new_game(app)
    me = app.test_client()
    helpers.form_join(me, codes[0], with_csrf=False)
    page = me.get("/team/").get_data(as_text=True)
    token = re.search(r'data-token="([^"]+)"', page).group(1)
    api = app.test_client()
    assert api.put("/api/team/draft", json={"price": "99"}, headers=helpers.bearer(token)).status_code == 200
    me.post("/logout")
    assert api.put("/api/team/draft", json={"price": "98"}, headers=helpers.bearer(token)).status_code == 401


def _session_cookie_flags(response) -> dict[str, str]:
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert cookies, response.headers
    return {part.strip().split("=")[0].lower(): part.strip() for part in cookies[-1].split(";")[1:]}


def test_cookies_are_secure_behind_an_https_proxy_the_app_is_told_to_trust(make_app, helpers):
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    trusting = make_app(TRUSTED_PROXIES=1).test_client()
    r = trusting.post("/login", data={"password": helpers.password}, headers=https)
    assert "secure" in _session_cookie_flags(r)
    r = trusting.post("/login", data={"password": helpers.password})  # plain HTTP through the proxy
    assert "secure" not in _session_cookie_flags(r)
    untrusting = make_app().test_client()  # no proxy configured: a client cannot claim HTTPS
    r = untrusting.post("/login", data={"password": helpers.password}, headers=https)
    assert "secure" not in _session_cookie_flags(r)
    direct = make_app().test_client()
    r = direct.post("/login", data={"password": helpers.password}, base_url="https://localhost")
    assert "secure" in _session_cookie_flags(r)


def test_the_proxy_count_comes_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("CRMSIM_TRUSTED_PROXIES", "2")
    assert make_app().config["TRUSTED_PROXIES"] == 2
    monkeypatch.setenv("CRMSIM_TRUSTED_PROXIES", "many")
    from crmsim import InputError

    with pytest.raises(InputError, match="CRMSIM_TRUSTED_PROXIES"):
        make_app()


# ---------------------------------------------------------------------------
# brute force (finding 8)


def _guess(c, path: str, value: str):
    field = "code" if "join" in path else "password"
    return c.post(path, json={field: value}) if path.startswith("/api/") else c.post(path, data={field: value})


def test_failed_join_code_guesses_are_counted_across_the_page_and_the_api(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_AUTH="3 per minute")
    c = app.test_client()
    assert [_guess(c, p, "WRONG1").status_code for p in ("/join", "/api/join", "/join")] == [404, 404, 404]
    r = _guess(c, "/api/join", "WRONG2")
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60  # when the window of guesses ends
    r = _guess(c, "/join", "WRONG3")
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    assert _guess(c, "/api/login", "wrong password").status_code == 401  # password guesses are counted apart


def test_failed_password_guesses_are_counted_across_the_page_and_the_api(make_app, helpers):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_AUTH="3 per minute")
    c = app.test_client()
    assert [_guess(c, p, "wrong").status_code for p in ("/login", "/api/login", "/login")] == [401, 401, 401]
    assert _guess(c, "/api/login", helpers.password).status_code == 429  # even the right one, until the window ends
    assert _guess(c, "/login", "wrong").status_code == 429


def test_a_classroom_behind_one_address_joins_without_being_throttled(make_app, helpers):
    """Twelve teams joining from one NAT address within a minute all get in: only failed guesses count."""
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_AUTH="10 per minute")
    codes = list(new_game(app)[1].values()) + list(new_game(app)[1].values())
    assert len(codes) == 12
    for i, code in enumerate(codes):
        c = app.test_client()
        r = _guess(c, "/join" if i % 2 else "/api/join", code)
        assert r.status_code in (200, 302), (i, r.status_code)
    assert _guess(app.test_client(), "/api/login", helpers.password).status_code == 200


# ---------------------------------------------------------------------------
# exports and scenarios (finding 10)

FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(1,1)", "-2+3", "@SUM(1)", "=HYPERLINK(\"http://evil.example\")", "\t=1+1", "\r=1+1"]


def test_exports_neutralise_spreadsheet_formulas(app, helpers):
    import csv
    import io
    import zipfile

    import openpyxl

    gid, _ = new_game(app, team_names=["=HYPERLINK(\"http://evil.example\")", "B", "C", "D", "E", "F"])
    inst = signed_in_instructor(app, helpers)
    token = helpers.bearer(helpers.instructor_token(inst))
    for i, reason in enumerate(FORMULAS):
        r = inst.post(f"/api/games/{gid}/adjust", json={"firm": i % 6, "amount": 10, "reason": reason}, headers=token)
        assert r.status_code == 200, r.get_json()
    inst.post(f"/api/games/{gid}/resolve", headers=token)
    archive = zipfile.ZipFile(io.BytesIO(inst.get(f"/instructor/games/{gid}/export.zip").data))
    cells = [cell for name in archive.namelist() for row in csv.reader(io.StringIO(archive.read(name).decode())) for cell in row]
    book = openpyxl.load_workbook(io.BytesIO(inst.get(f"/instructor/games/{gid}/export.xlsx").data))
    xcells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in xcells)
    values = cells + [str(c.value) for c in xcells if isinstance(c.value, str)]
    for text in values:
        assert not text[:1] in ("=", "+", "@", "\t", "\r") and not (text[:1] == "-" and not _is_number(text)), text
    # the reasons as the adjustments file keeps them (the team named like a formula is in the results' name column too)
    adjusted = [row for row in csv.reader(io.StringIO(archive.read("adjustments.csv").decode()))]
    reasons = [c for row in adjusted for c in row if c.lstrip("'") in [f.strip() for f in FORMULAS]]
    assert sorted(reasons) == sorted("'" + f.strip() for f in FORMULAS)  # kept, shown as text
    assert "'=HYPERLINK(\"http://evil.example\")" in cells


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_the_scenario_field_takes_only_catalogue_names_never_a_server_path(app, helpers):
    from pathlib import Path

    import crmsim.scenarios

    c = app.test_client()
    token = helpers.instructor_token(c)
    shipped = str(Path(crmsim.scenarios.__file__).parent / "classroom-v1.toml")
    pyproject = str(Path(crmsim.scenarios.__file__).resolve().parents[1] / "pyproject.toml")
    for value in ("/etc/passwd", "/etc/hostname", shipped, pyproject, "../scenarios/classroom-v1", "classroom-v1.toml", ".", ""):
        r = c.post("/api/games", json={"scenario": value, "seed": 1}, headers=helpers.bearer(token))
        assert r.status_code == 400, (value, r.status_code)
        err = r.get_json()["error"]
        assert err["field"] == "scenario" and "classroom-v1" in err["rule"]
        text = r.get_data(as_text=True)
        assert "root:" not in text and "setuptools" not in text and "[market]" not in text
    assert c.get("/api/games", headers=helpers.bearer(token)).get_json()["games"] == []


def test_an_uploaded_scenario_is_validated_as_a_scenario(app, helpers):
    c = app.test_client()
    auth = helpers.bearer(helpers.instructor_token(c))
    text = 'extends = "classroom-v1"\nname = "my-class-v1"\nperiods = 8\n'
    r = c.post("/api/games", json={"scenario_toml": text, "seed": 3}, headers=auth)
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["scenario"], r.get_json()["periods"]) == ("my-class-v1", 8)
    bad = [
        ('extends = "/etc/passwd"\nname = "x-v1"\n', "extends"),
        ('extends = "../pyproject"\nname = "x-v1"\n', "extends"),
        ('name = "x-v1"\nperiods = -1\n', "periods"),
        ("periods = [\n", "TOML"),
        ('extends = "classroom-v1"\nname = "' + "a" * 200 + '-v1"\n', "name"),
    ]
    for body, word in bad:
        r = c.post("/api/games", json={"scenario_toml": body, "seed": 3}, headers=auth)
        assert r.status_code == 400, (body, r.get_json())
        err = r.get_json()["error"]
        assert err["field"] == "scenario_toml" and word in err["rule"], err
        assert "root:" not in r.get_data(as_text=True)
    # each rule said once, with its key, and the value given as a value (not "got 5; got None")
    r = c.post("/api/games", json={"scenario_toml": 'extends = "classroom-v1"\nname = "x-v1"\n[market]\ncustomers = 5\n', "seed": 3},
               headers=auth)
    err = r.get_json()["error"]
    assert (err["field"], err["value"]) == ("scenario_toml", 5) and err["rule"].startswith("market.customers: ")
    assert "got" not in err["rule"] and err["message"] == f"scenario_toml: {err['rule']}; got 5"
    r = c.post("/api/games", json={"scenario_toml": 'extends = "classroom-v1"\nname = "x-v1"\nperiods = 0\n[market]\ncustomers = 5\n',
                                   "seed": 3}, headers=auth)
    err = r.get_json()["error"]
    assert "periods: " in err["rule"] and "market.customers: " in err["rule"] and sorted(err["value"]) == [0, 5]
    r = c.post("/api/games", json={"scenario": "classroom-v1", "scenario_toml": text}, headers=auth)
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "scenario"
    assert len(c.get("/api/games", headers=auth).get_json()["games"]) == 1
