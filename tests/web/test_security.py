"""Security rules of the web app: CSRF on forms, cookie flags, no default password, rate limits, privacy."""

from __future__ import annotations

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
    r = inst.post(f"/instructor/games/{gid}/resolve", data={"csrf_token": helpers.csrf_token(console)})
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


def test_no_default_instructor_password_the_first_visit_sets_one(make_app, helpers):
    app = make_app(INSTRUCTOR_PASSWORD=None, WTF_CSRF_ENABLED=True)
    c = app.test_client()
    r = c.get("/login")
    assert r.status_code == 302 and r.headers["Location"].endswith("/setup")
    assert c.get("/instructor/").status_code == 302
    for guess in ("", "admin", "password", "secret-pass", "crmsim"):
        assert c.post("/api/login", json={"password": guess}).status_code == 401
    page = c.get("/setup").get_data(as_text=True)
    token = helpers.csrf_token(page)
    r = c.post("/setup", data={"password": "short", "again": "short", "csrf_token": token})
    assert r.status_code == 200 and "at least 8" in r.get_data(as_text=True)
    r = c.post("/setup", data={"password": "long enough 1", "again": "long enough 2", "csrf_token": token})
    assert r.status_code == 200 and "differ" in r.get_data(as_text=True)
    assert c.get("/login").status_code == 302  # still no password
    r = c.post("/setup", data={"password": "long enough 1", "again": "long enough 1", "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/instructor/")
    assert c.get("/instructor/").status_code == 200
    # the password is set once: /setup cannot overwrite it, and the new one works
    other = app.test_client()
    assert other.get("/setup").status_code == 302
    token = helpers.csrf_token(other.get("/login").get_data(as_text=True))
    r = other.post("/setup", data={"password": "takeover!!", "again": "takeover!!", "csrf_token": token})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert other.post("/api/login", json={"password": "takeover!!"}).status_code == 401
    assert other.post("/api/login", json={"password": "long enough 1"}).status_code == 200


def test_login_redirects_only_to_local_paths(app, helpers):
    c = app.test_client()
    r = c.post("/login?next=//evil.example/x", data={"password": helpers.password})
    assert r.status_code == 302 and r.headers["Location"] == "/instructor/"
    r = c.post("/login?next=https://evil.example/x", data={"password": helpers.password})
    assert r.headers["Location"] == "/instructor/"
    r = c.post("/login?next=/instructor/games/1", data={"password": helpers.password})
    assert r.headers["Location"] == "/instructor/games/1"


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
    assert "<th>Cash</th>" not in anyone.get(f"/scoreboard/{gid}?lang=en").get_data(as_text=True)
    for _ in range(11):
        assert inst.post(f"/api/games/{gid}/resolve", headers=helpers.bearer(token)).status_code == 200
    final = anyone.get(f"/api/games/{gid}/scoreboard").get_json()["ranking"]
    assert all({"cash", "debt", "emergency_debt", "equity"} <= set(r) for r in final)
    assert anyone.get(f"/scoreboard/{gid}/chart/cash.svg").status_code == 200
    assert "<th>Cash</th>" in anyone.get(f"/scoreboard/{gid}?lang=en").get_data(as_text=True)


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
