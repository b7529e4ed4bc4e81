"""The JSON API (web/api.py): bearer tokens, who may do what, errors that name field, rule and value."""

from __future__ import annotations

import io
import json
import zipfile

import pytest


@pytest.fixture
def inst(client, helpers) -> dict[str, str]:
    """The instructor's Authorization header."""
    return helpers.bearer(helpers.instructor_token(client))


@pytest.fixture
def game(client, inst, helpers) -> dict:
    """A classroom-v1 game created over the API (the instructor's view, with join codes)."""
    return helpers.api_create_game(client, inst["Authorization"].removeprefix("Bearer "), seed=4)


def join(client, helpers, game: dict, firm: int) -> dict[str, str]:
    return helpers.bearer(helpers.api_join(client, game["join_codes"][str(firm)])["token"])


# ---------------------------------------------------------------------------
# tokens


def test_login_with_the_instructor_password_returns_a_token_and_a_wrong_one_is_refused(client, helpers):
    r = client.post("/api/login", json={"password": "wrong"})
    assert r.status_code == 401
    # every error has the same four keys, a wrong password's and the refusals' (401, 404) alike
    assert r.get_json()["error"] == {"field": "password", "rule": "not correct", "value": None, "message": "password: not correct; got None"}
    r = client.post("/api/login", json={"password": helpers.password})
    token = r.get_json()["token"]
    r = client.get("/api/games/1/status", headers=helpers.bearer(token))
    assert r.status_code == 404 and set(r.get_json()["error"]) == {"field", "rule", "value", "message"}  # authorised, no game
    r = client.get("/api/games/1/status", headers=helpers.bearer(token + "x"))
    assert r.status_code == 401 and set(r.get_json()["error"]) == {"field", "rule", "value", "message"}


def test_join_with_a_code_returns_a_team_token(client, game, helpers):
    r = client.post("/api/join", json={"code": game["join_codes"]["3"].lower()})
    body = r.get_json()
    assert r.status_code == 200
    assert (body["team"], body["firm"], body["game"]) == ("Delta", 3, game["id"])
    me = client.get("/api/team", headers=helpers.bearer(body["token"])).get_json()
    assert (me["firm"], me["team"], me["game"]["id"]) == (3, "Delta", game["id"])


def test_join_with_an_unknown_code_or_a_bot_seat_is_refused_naming_the_code(client, inst, helpers):
    r = client.post("/api/join", json={"code": "ZZZZZZ"})
    assert r.status_code == 404
    assert r.get_json()["error"]["field"] == "code" and r.get_json()["error"]["value"] == "ZZZZZZ"
    g = helpers.api_create_game(client, inst["Authorization"][7:], bots={"1": "premium"})
    assert [t["bot"] for t in g["teams"]] == [None, "premium", None, None, None, None]
    r = client.post("/api/join", json={"code": g["join_codes"]["1"]})
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "code"


# ---------------------------------------------------------------------------
# errors name the field, the rule and the value


def test_a_rejected_decision_lists_every_problem_with_field_rule_and_value(client, game, helpers):
    team = join(client, helpers, game, 0)
    r = client.post(f"/api/games/{game['id']}/decision", headers=team,
                    json={"price": -5, "service_level": 2, "hire_sales": "many", "prise": 1})
    assert r.status_code == 400
    problems = {p["field"]: p for p in r.get_json()["problems"]}
    assert set(problems) == {"price", "service_level", "hire_sales", "prise"}
    assert problems["price"]["value"] == -5 and "> 0" in problems["price"]["rule"]
    assert problems["service_level"]["value"] == 2 and "<= 1" in problems["service_level"]["rule"]
    assert problems["hire_sales"]["value"] == "many" and "number" in problems["hire_sales"]["rule"]
    assert "unknown field" in problems["prise"]["rule"]
    assert all(p["message"].startswith(f"{f}: ") for f, p in problems.items())
    assert client.get("/api/team", headers=team).get_json()["submitted"] is None


def test_a_bad_tender_bid_is_named_by_its_path(client, game, helpers):
    team = join(client, helpers, game, 0)
    tender = client.get("/api/team", headers=team).get_json()["tenders"][0]
    r = client.post(f"/api/games/{game['id']}/decision", headers=team,
                    json={"bids": {tender["id"]: {"price": "cheap", "promised_service": 0.7}, "no-such-tender": {"price": 10, "promised_service": 0.5}}})
    assert r.status_code == 400
    fields = {p["field"] for p in r.get_json()["problems"]}
    assert any(f.startswith(f"bids.{tender['id']}") for f in fields), fields
    assert any("no-such-tender" in f for f in fields), fields


BAD_INSTRUCTOR_INPUT = [
    ("/api/games", {"scenario": "no-such-scenario"}, "scenario"),
    ("/api/games", {"bots": {"0": "genius"}}, "bots.0"),
    ("/api/games", {"seed": -3}, "seed"),
    ("/api/games", {"period_minutes": 0}, "period_minutes"),
    ("/api/games/{id}/deadline", {"minutes": -1}, "minutes"),
    ("/api/games/{id}/adjust", {"firm": 1, "amount": "lots", "reason": "x"}, "amount"),
    ("/api/games/{id}/adjust", {"firm": 1, "amount": 10, "reason": ""}, "reason"),
    ("/api/games/{id}/adjust", {"firm": 7, "amount": 10, "reason": "x"}, "firm"),
    ("/api/games/{id}/bots", {"bot": "genius"}, "bot"),
]


def test_bad_instructor_input_is_a_400_naming_the_field(client, inst, game):
    for path, body, field in BAD_INSTRUCTOR_INPUT:
        r = client.post(path.format(id=game["id"]), json=body, headers=inst)
        assert r.status_code == 400, (path, body, r.get_data(as_text=True))
        err = r.get_json()["error"]
        assert err["field"] == field and err["rule"] and "value" in err, (path, body, err)
    assert len(client.get("/api/games", headers=inst).get_json()["games"]) == 1


def test_a_body_that_is_not_a_json_object_is_a_400_naming_the_body(client, game, helpers):
    team = join(client, helpers, game, 0)
    r = client.post(f"/api/games/{game['id']}/decision", headers={**team, "Content-Type": "application/json"}, data="[1, 2]")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "body"
    r = client.post("/api/join", data="code=ABC")
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "body"


MALFORMED_INSTRUCTOR_INPUT = [
    ("/api/games", {"seed": "abc"}, "seed"),  # int("abc"): ValueError
    ("/api/games", {"period_minutes": "soon"}, "period_minutes"),  # float("soon"): ValueError
    ("/api/games", {"bots": {"first": "balanced"}}, "bots"),  # int("first"): ValueError
    ("/api/games", {"bots": ["balanced"]}, "bots"),  # list.items(): AttributeError
    ("/api/games/{id}/deadline", {"minutes": "ten"}, "minutes"),  # float("ten"): ValueError
    ("/api/games/{id}/extend", {"minutes": None}, "minutes"),  # float(None): TypeError
    ("/api/games/{id}/adjust", {"firm": "Aurora", "amount": 10, "reason": "x"}, "firm"),  # int("Aurora"): ValueError
    ("/api/games/{id}/adjust", {"firm": 0, "amount": 10, "reason": None}, "reason"),  # str(None) == "None" is accepted
    ("/api/games/{id}/deadline", [10], "body"),  # list.get(): AttributeError
]


def test_malformed_instructor_input_is_a_400_naming_the_field(client, inst, game):
    for path, body, field in MALFORMED_INSTRUCTOR_INPUT:
        r = client.post(path.format(id=game["id"]), json=body, headers=inst)
        assert r.status_code == 400, (path, body)
        assert r.get_json()["error"]["field"] == field, (path, body)


# ---------------------------------------------------------------------------
# who may do what

INSTRUCTOR_ONLY = [
    ("post", "/api/games", {"scenario": "classroom-v1"}),
    ("get", "/api/games/{id}/status", None),
    ("get", "/api/games/{id}/rebuild-check", None),
    ("post", "/api/games/{id}/resolve", {}),
    ("post", "/api/games/{id}/pause", {}),
    ("post", "/api/games/{id}/deadline", {"minutes": 0}),
    ("post", "/api/games/{id}/extend", {"minutes": 5}),
    ("post", "/api/games/{id}/bots", {"bot": "balanced"}),
    ("post", "/api/games/{id}/adjust", {"firm": 0, "amount": 1e6, "reason": "we deserve it"}),
]


def test_instructor_only_endpoints_refuse_teams_and_anonymous_users(client, game, helpers):
    forged = helpers.bearer("eyJrIjoiaW5zdHJ1Y3RvciIsImkiOjB9.forged")  # {"k": "instructor"} with a made-up signature
    who = {"anonymous": {}, "team": join(client, helpers, game, 0), "forged": forged}

    def public_state():
        games = [client.get(f"/api/games/{game['id']}").get_json(), *client.get("/api/games").get_json()["games"]]
        for g in games:
            g.pop("seconds_left")  # the clock runs; the deadline itself is compared through the version
        return games

    before = public_state()
    for method, path, body in INSTRUCTOR_ONLY:
        for name, headers in who.items():
            r = getattr(client, method)(path.format(id=game["id"]), json=body, headers=headers)
            assert r.status_code == 401, (name, method, path, r.status_code)
            assert r.get_json()["error"]["field"] == "auth"
    assert public_state() == before  # nothing happened: version, deadline, period, teams, games


@pytest.mark.parametrize(
    ("method", "path"), [("get", "/api/team"), ("post", "/api/games/{id}/decision"), ("put", "/api/team/draft"), ("post", "/api/team/preview")]
)
def test_team_endpoints_refuse_anonymous_users_and_the_instructor(client, game, inst, method, path):
    for headers in ({}, inst):
        r = getattr(client, method)(path.format(id=game["id"]), json={"price": 100}, headers=headers)
        assert r.status_code == 401 and r.get_json()["error"]["field"] == "auth"


def test_a_team_cannot_submit_to_another_game(client, inst, game, helpers):
    other = helpers.api_create_game(client, inst["Authorization"][7:], seed=9)
    team = join(client, helpers, game, 2)
    r = client.post(f"/api/games/{other['id']}/decision", json={"price": 100}, headers=team)
    assert r.status_code == 403
    assert r.get_json()["error"]["field"] == "game" and r.get_json()["error"]["value"] == other["id"]
    status = client.get(f"/api/games/{other['id']}/status", headers=inst).get_json()["teams"]
    assert all(s["submissions"] == 0 for s in status.values())
    r = client.post("/api/games/999/decision", json={"price": 100}, headers=team)
    assert r.status_code == 404


def test_join_codes_and_the_seed_are_shown_to_the_instructor_only(client, inst, game, helpers):
    team = join(client, helpers, game, 0)
    for headers in ({}, team):
        body = client.get(f"/api/games/{game['id']}", headers=headers).get_json()
        text = json.dumps(body) + client.get("/api/games", headers=headers).get_data(as_text=True)
        assert "join_codes" not in body and "seed" not in body
        assert not any(code in text for code in game["join_codes"].values())
    body = client.get(f"/api/games/{game['id']}", headers=inst).get_json()
    assert body["join_codes"] == game["join_codes"] and body["seed"] == 4


def test_a_team_sees_only_its_own_submitted_decision(client, game, helpers):
    me, rival = join(client, helpers, game, 0), join(client, helpers, game, 1)
    tender = client.get("/api/team", headers=me).get_json()["tenders"][0]
    bid = {tender["id"]: {"price": round(tender["price_cap"] * 0.9137, 2), "promised_service": 0.8123}}
    assert client.post(f"/api/games/{game['id']}/decision", json={"price": 101.25, "care_budget": 4444}, headers=me).status_code == 200
    r = client.post(f"/api/games/{game['id']}/decision", json={"price": 137.77, "care_budget": 98765, "bids": bid}, headers=rival)
    assert r.status_code == 200
    mine = client.get("/api/team", headers=me)
    assert mine.get_json()["submitted"]["price"] == 101.25 and mine.get_json()["submitted"]["bids"] == {}
    text = mine.get_data(as_text=True)
    for secret in ("137.77", "98765", str(bid[tender["id"]]["price"]), "0.8123"):
        assert secret not in text
    public = "".join(client.get(p).get_data(as_text=True) for p in (
        f"/api/games/{game['id']}", f"/api/games/{game['id']}/scoreboard", f"/api/games/{game['id']}/tenders", f"/api/games/{game['id']}/version"))
    for secret in ("137.77", "98765", str(bid[tender["id"]]["price"]), "0.8123", "101.25"):
        assert secret not in public


def test_rivals_bids_are_published_only_after_the_award(client, inst, game, helpers):
    gid = game["id"]
    teams = [join(client, helpers, game, i) for i in range(3)]
    tender = client.get("/api/team", headers=teams[0]).get_json()["tenders"][0]
    prices = {}
    for i, h in enumerate(teams):
        prices[i] = round(tender["price_cap"] * (0.90 + 0.01 * i), 2)
        bid = {tender["id"]: {"price": prices[i], "promised_service": max(0.8, tender["required_service"])}}
        assert client.post(f"/api/games/{gid}/decision", json={"bids": bid}, headers=h).status_code == 200
    before = client.get(f"/api/games/{gid}/tenders").get_json()
    assert before == {"tenders": [], "bids": []}
    assert client.post(f"/api/games/{gid}/resolve", headers=inst).status_code == 200
    after = client.get(f"/api/games/{gid}/tenders").get_json()
    mine = [b for b in after["bids"] if b["tender"] == tender["id"]]
    assert sorted((b["firm"], b["price"]) for b in mine) == sorted(prices.items())
    assert all(b["period"] == 1 for b in after["bids"])
    # period 2 is open: a new bid is not published
    t2 = client.get("/api/team", headers=teams[0]).get_json()["tenders"][0]
    secret = round(t2["price_cap"] * 0.9321, 2)
    client.post(f"/api/games/{gid}/decision", json={"bids": {t2["id"]: {"price": secret, "promised_service": 0.9}}}, headers=teams[0])
    again = client.get(f"/api/games/{gid}/tenders").get_json()
    assert again == after and all(b["period"] < 2 for b in again["bids"])


PUBLIC_COLUMNS = ["period", "firm", "name", "bankrupt", "bankrupt_period", "price", "service_level", "customers",
                  "market_share_customers", "market_share_revenue", "avg_satisfaction", "revenue", "operating_profit",
                  "tenders_won", "score", "score_financial", "score_customer", "score_relationship", "score_growth", "rank"]


def test_the_public_scoreboard_shows_only_public_columns(client, inst, game):
    """During the game the scoreboard API shows every firm's public columns and no firm's books (cash, debt, equity)."""
    client.post(f"/api/games/{game['id']}/resolve", headers=inst)
    body = client.get(f"/api/games/{game['id']}/scoreboard").get_json()
    assert [r["rank"] for r in body["ranking"]] == list(range(1, 7))
    assert all(sorted(r) == sorted(PUBLIC_COLUMNS) for r in body["ranking"] + body["periods"])


# ---------------------------------------------------------------------------
# the instructor's actions over the API


def test_the_instructor_paces_the_period_over_the_api(clock, client, inst, game, helpers):
    gid = game["id"]
    team = join(client, helpers, game, 0)
    r = client.post(f"/api/games/{gid}/deadline", json={"minutes": 0}, headers=inst)
    assert r.status_code == 200 and r.get_json()["game"]["seconds_left"] == 0
    r = client.post(f"/api/games/{gid}/decision", json={"price": 100}, headers=team)
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "deadline"
    r = client.post(f"/api/games/{gid}/extend", json={"minutes": 5}, headers=inst)
    assert r.get_json()["game"]["seconds_left"] == 5 * 60
    clock.advance(60)
    r = client.post(f"/api/games/{gid}/pause", headers=inst)
    frozen = r.get_json()["game"]["seconds_left"]
    assert r.get_json()["game"]["status"] == "paused" and frozen == 4 * 60
    clock.advance(600)
    assert client.get(f"/api/games/{gid}/version").get_json()["seconds_left"] == frozen
    r = client.post(f"/api/games/{gid}/decision", json={"price": 100}, headers=team)
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "status"
    assert client.post(f"/api/games/{gid}/pause", headers=inst).status_code == 409
    r = client.post(f"/api/games/{gid}/resume", headers=inst)
    assert r.get_json()["game"]["status"] == "open" and r.get_json()["game"]["seconds_left"] == frozen
    assert client.post(f"/api/games/{gid}/decision", json={"price": 100}, headers=team).status_code == 200
    r = client.post(f"/api/games/{gid}/bots", json={"bot": "balanced"}, headers=inst)
    assert r.get_json()["filled"] == [1, 2, 3, 4, 5]
    assert client.post(f"/api/games/{gid}/adjust", json={"firm": 0, "amount": 500, "reason": "tidy"}, headers=inst).status_code == 200
    status = client.get(f"/api/games/{gid}/status", headers=inst).get_json()
    assert status["teams"]["0"]["submitted"] and status["teams"]["0"]["joined"] and status["teams"]["0"]["submissions"] == 1
    r = client.post(f"/api/games/{gid}/resolve", headers=inst)
    assert (r.get_json()["period"], r.get_json()["game"]["period"]) == (1, 2)
    assert client.get(f"/api/games/{gid}/scoreboard").get_json()["periods"][0]["price"] == 100
    assert client.get(f"/api/games/{gid}/rebuild-check", headers=inst).get_json() == {"ok": True, "differing_periods": []}
    assert client.post(f"/api/games/{gid}/no-such-action", headers=inst).status_code == 404


def test_a_finished_game_refuses_decisions_and_resolutions(client, inst, game, helpers):
    gid = game["id"]
    team = join(client, helpers, game, 0)
    for _ in range(game["periods"]):
        r = client.post(f"/api/games/{gid}/resolve", headers=inst)
        assert r.status_code == 200
    assert r.get_json()["finished"] and r.get_json()["game"]["status"] == "finished"
    r = client.post(f"/api/games/{gid}/resolve", headers=inst)
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "status"
    r = client.post(f"/api/games/{gid}/decision", json={"price": 100}, headers=team)
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "status"
    assert len(client.get(f"/api/games/{gid}/scoreboard").get_json()["periods"]) == 6 * game["periods"]


def test_a_repeated_resolve_request_for_the_same_period_resolves_it_once(client, inst, game):
    gid = game["id"]
    assert client.post(f"/api/games/{gid}/resolve", json={"period": 1}, headers=inst).status_code == 200
    r = client.post(f"/api/games/{gid}/resolve", json={"period": 1}, headers=inst)
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "period"
    assert client.get(f"/api/games/{gid}").get_json()["period"] == 2


def test_preview_and_draft_store_no_decision(client, inst, game, helpers):
    gid = game["id"]
    team = join(client, helpers, game, 0)
    r = client.post("/api/team/preview", json={"price": 100, "hire_service": 2, "care_budget": 5000}, headers=team)
    body = r.get_json()
    assert body["ok"] and body["costs"]["care"] == 5000
    r = client.post("/api/team/preview", json={"price": -1}, headers=team)
    assert r.get_json()["ok"] is False and r.get_json()["problems"][0]["field"] == "price"
    assert client.put("/api/team/draft", json={"price": "97"}, headers=team).get_json() == {"ok": True}
    assert client.get("/api/team", headers=team).get_json()["submitted"] is None
    assert client.get(f"/api/games/{gid}/status", headers=inst).get_json()["teams"]["0"]["submissions"] == 0


# ---------------------------------------------------------------------------
# the instructor's pages and exports


def test_the_instructor_downloads_exports_and_a_team_cannot(app, game, helpers):
    inst = app.test_client()
    r = inst.post("/login", data={"password": helpers.password})
    assert r.status_code == 302
    gid = game["id"]
    inst.post(f"/instructor/games/{gid}/resolve")
    r = inst.get(f"/instructor/games/{gid}/export.zip")
    assert r.status_code == 200 and r.mimetype == "application/zip"
    assert "results.csv" in zipfile.ZipFile(io.BytesIO(r.data)).namelist()
    r = inst.get(f"/instructor/games/{gid}/export.xlsx")
    assert r.status_code == 200 and r.data[:2] == b"PK"
    team = app.test_client()
    assert helpers.form_join(team, game["join_codes"]["0"], with_csrf=False).status_code == 302
    for path in (f"/instructor/games/{gid}/export.zip", f"/instructor/games/{gid}/export.xlsx", f"/instructor/games/{gid}", "/instructor/"):
        r = team.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"]
