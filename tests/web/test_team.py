"""The team's pages (web/team.py) and their API (decision support, drafts): the cockpit's bugs and its new parts.

Each test names the rule it checks and asserts on values the engine computes for the same game.
"""

from __future__ import annotations

import re
from html import unescape

import numpy as np
import pytest

from crmsim.web.views import money

BOTS = {str(i): "balanced" for i in range(1, 6)}


@pytest.fixture
def inst(client, helpers) -> dict[str, str]:
    return helpers.bearer(helpers.instructor_token(client))


def new_game(client, inst, helpers, scenario: str = "classroom-v1", seed: int = 3) -> dict:
    r = client.post("/api/games", json={"scenario": scenario, "seed": seed, "bots": BOTS}, headers=inst)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def team_client(app, helpers, game: dict, lang: str = "en"):
    """A browser-like client signed in as team 0 through the join form, in `lang`."""
    c = app.test_client()
    assert helpers.form_join(c, game["join_codes"]["0"], with_csrf=False).status_code == 302
    c.get(f"/?lang={'zh_CN' if lang == 'zh' else lang}")
    return c


def team_token(client, helpers, game: dict) -> dict[str, str]:
    return helpers.bearer(helpers.api_join(client, game["join_codes"]["0"])["token"])


def text_of(html: str) -> str:
    """The visible text of a page: scripts, styles and tags dropped, entities decoded."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


# ---------------------------------------------------------------------------
# bugs


def test_a_stale_form_is_refused_after_a_resolve_and_nothing_is_applied_twice(app, client, inst, helpers):
    """A form carries its period; after the instructor resolves it, submitting it is refused with
    "period 1 is closed: reload" and stores nothing: the hire it asks for is never applied in period 2."""
    g = new_game(client, inst, helpers)
    team = team_client(app, helpers, g)
    page = team.get("/team/").get_data(as_text=True)
    assert 'name="period" value="1"' in page
    form = {"period": "1", "price": "98", "service_level": "0.6", "hire_service": "2"}
    assert team.post("/team/", data=form).status_code == 302  # submitted for period 1
    assert client.post(f"/api/games/{g['id']}/resolve", json={}, headers=inst).status_code == 200
    staff_after_1 = client.get("/api/team", headers=team_token(client, helpers, g)).get_json()["service_staff"]

    r = team.post("/team/", data=form)  # the same, still-open period-1 form
    assert r.status_code == 409
    assert "period 1 is closed: reload" in text_of(r.get_data(as_text=True))
    html = r.get_data(as_text=True)  # the open period's form: the standing price kept, the hire not offered again
    assert 'name="period" value="2"' in html
    assert re.search(r'<input name="price"[^>]*value="98"', html) and re.search(r'<input name="hire_service"[^>]*value=""', html)
    api = team_token(client, helpers, g)
    assert client.get("/api/team", headers=api).get_json()["submitted"] is None  # nothing stored for period 2
    assert client.get(f"/api/games/{g['id']}/status", headers=inst).get_json()["teams"]["0"]["submissions"] == 0
    assert client.post(f"/api/games/{g['id']}/resolve", json={}, headers=inst).status_code == 200
    assert client.get("/api/team", headers=api).get_json()["service_staff"] == staff_after_1  # the hire applied once

    zh = team_client(app, helpers, g, lang="zh")
    r = zh.post("/team/", data={**form, "period": "2"})
    assert r.status_code == 409 and "第 2 期已结束：请重新加载" in text_of(r.get_data(as_text=True))


def test_the_api_refuses_a_decision_a_draft_and_a_preview_for_a_closed_period(client, inst, helpers):
    g = new_game(client, inst, helpers)
    api = team_token(client, helpers, g)
    client.post(f"/api/games/{g['id']}/resolve", json={}, headers=inst)
    r = client.post(f"/api/games/{g['id']}/decision?period=1", json={"hire_sales": 1}, headers=api)
    assert r.status_code == 409 and r.get_json()["error"]["rule"] == "period 1 is closed: reload"
    assert client.put("/api/team/draft?period=1", json={"price": 90}, headers=api).status_code == 409
    assert client.post("/api/team/preview?period=1", json={"price": 90}, headers=api).status_code == 409
    assert client.get("/api/team", headers=api).get_json()["submitted"] is None
    r = client.post(f"/api/games/{g['id']}/decision?period=2", json={"hire_sales": 1}, headers=api)
    assert r.status_code == 200 and r.get_json()["period"] == 2


def test_a_request_for_a_period_that_never_started_says_so_not_rolled_back(app, client, inst, helpers):
    """A decision, draft or preview for a later period that was never open is refused as not started yet (nothing
    was rolled back); once period 2 was resolved and rolled back, a period-3 form is refused as rolled back."""
    g = new_game(client, inst, helpers)
    api = team_token(client, helpers, g)
    for method, path, body in (("post", f"/api/games/{g['id']}/decision?period=5", {"price": 97}),
                               ("put", "/api/team/draft?period=3", {"price": 97}),
                               ("post", "/api/team/preview?period=4", {"price": 97})):
        r = getattr(client, method)(path, json=body, headers=api)
        period = int(path.rsplit("=", 1)[1])
        assert r.status_code == 409 and r.get_json()["error"] == {
            "field": "period", "rule": f"period {period} has not started: period 1 is open", "value": period,
            "message": f"period: period {period} has not started: period 1 is open; got {period}"}, (path, r.get_json())
    zh = team_client(app, helpers, g, lang="zh")
    r = zh.post("/team/", data={"period": "3", "price": "97"})
    assert r.status_code == 409 and "第 3 期尚未开始，现在开放的是第 1 期" in text_of(r.get_data(as_text=True))
    for _ in range(2):
        assert client.post(f"/api/games/{g['id']}/resolve", json={}, headers=inst).status_code == 200
    assert client.post(f"/api/games/{g['id']}/rollback", json={}, headers=inst).status_code == 200  # period 2 open again
    r = client.post(f"/api/games/{g['id']}/decision?period=3", json={"price": 97}, headers=api)
    assert r.get_json()["error"]["rule"] == "period 3 was rolled back: period 2 is open again; reload"
    r = client.post(f"/api/games/{g['id']}/decision?period=4", json={"price": 97}, headers=api)
    assert r.get_json()["error"]["rule"] == "period 4 has not started: period 2 is open"
    assert client.get("/api/team", headers=api).get_json()["submitted"] is None  # nothing stored
    # a game of teams only, where every team submitted: the resolution leaves no engine record, the rule holds
    r = client.post("/api/games", json={"scenario": "classroom-v1", "seed": 4}, headers=inst)
    solo = r.get_json()
    tokens = {i: helpers.bearer(helpers.api_join(client, code)["token"]) for i, code in solo["join_codes"].items()}
    for t in tokens.values():
        assert client.post(f"/api/games/{solo['id']}/decision?period=1", json={"price": 99}, headers=t).status_code == 200
    assert client.post(f"/api/games/{solo['id']}/resolve", json={}, headers=inst).status_code == 200
    assert client.post(f"/api/games/{solo['id']}/rollback", json={}, headers=inst).status_code == 200
    r = client.post(f"/api/games/{solo['id']}/decision?period=2", json={"price": 97}, headers=tokens["0"])
    assert r.get_json()["error"]["rule"] == "period 2 was rolled back: period 1 is open again; reload"
    r = client.post(f"/api/games/{solo['id']}/decision?period=3", json={"price": 97}, headers=tokens["0"])
    assert r.get_json()["error"]["rule"] == "period 3 has not started: period 1 is open"


def test_a_form_for_a_rolled_back_period_is_refused_as_rolled_back_in_both_languages(app, client, inst, helpers):
    """After the instructor rolls period 1 back, a period-2 form is refused saying period 2 was rolled back and
    period 1 is open again (the page's lock message says the same), not "must be the open period 1"."""
    g = new_game(client, inst, helpers)
    team = team_client(app, helpers, g)
    assert client.post(f"/api/games/{g['id']}/resolve", json={}, headers=inst).status_code == 200
    assert client.post(f"/api/games/{g['id']}/rollback", json={}, headers=inst).status_code == 200
    form = {"period": "2", "price": "97", "hire_sales": "1"}
    r = team.post("/team/", data=form)
    assert r.status_code == 409
    assert "period 2 was rolled back: period 1 is open again; reload" in text_of(r.get_data(as_text=True))
    html = r.get_data(as_text=True)  # the open period's form, the standing price carried over
    assert 'name="period" value="1"' in html and re.search(r'<input name="price"[^>]*value="97"', html)
    api = team_token(client, helpers, g)
    r = client.post(f"/api/games/{g['id']}/decision?period=2", json={"price": 97}, headers=api)
    assert r.status_code == 409 and r.get_json()["error"]["rule"] == "period 2 was rolled back: period 1 is open again; reload"
    zh = team_client(app, helpers, g, lang="zh")
    r = zh.post("/team/", data=form)
    assert "第 2 期已被教师回退，现在开放的是第 1 期：请重新加载" in text_of(r.get_data(as_text=True))
    assert client.get("/api/team", headers=api).get_json()["submitted"] is None  # nothing stored


def test_the_practice_periods_results_are_shown_to_the_team_marked_not_scored(app, client, inst, helpers):
    r = client.post("/api/games", json={"scenario": "classroom-v1", "seed": 3, "bots": BOTS, "practice": True}, headers=inst)
    g = r.get_json()
    team = team_client(app, helpers, g)
    page = text_of(team.get("/team/").get_data(as_text=True))
    assert "Practice period (not scored)" in page and "Decision for the practice period (not scored)" in page
    assert "Period 0" not in page
    r = team.post("/team/", data={"period": "0", "price": "111"})
    assert r.status_code == 302
    assert "Decision submitted for the practice period (not scored)" in text_of(team.get("/team/").get_data(as_text=True))
    assert client.post(f"/api/games/{g['id']}/resolve", json={"period": 0}, headers=inst).status_code == 200
    page = text_of(team.get("/team/").get_data(as_text=True))
    assert "Your private report, practice period (not scored)" in page and "Market report, practice period (not scored)" in page
    reports = team.get("/team/reports").get_data(as_text=True)
    practice_row = re.search(r'<tr class="practice"><th scope="row">([^<]*)</th><td class="num">([^<]*)</td>', reports)
    assert practice_row and practice_row.group(1) == "Practice (not scored)", reports[reports.find("<tbody>"):][:600]
    from crmsim.web.db import get_db
    from crmsim.web.service import practice_snapshot
    from crmsim.web.models import Game

    with app.app_context():
        snap = practice_snapshot(get_db(), get_db().get(Game, g["id"]))
        assert practice_row.group(2) == money(snap.firm_rows[0]["revenue"])
        assert snap.firm_rows[0]["price"] == 111
    zh = team_client(app, helpers, g, lang="zh")
    assert "练习期（不计分）" in text_of(zh.get("/team/reports").get_data(as_text=True))


def test_budget_fields_accept_ordinary_amounts_like_2500(app, client, inst, helpers):
    """No budget field steps in thousands: ¥2,500 of care, advertising, borrowing is accepted as typed."""
    g = new_game(client, inst, helpers)
    team = team_client(app, helpers, g)
    page = team.get("/team/").get_data(as_text=True)
    for name in ("care_budget", "advertising_budget", "borrow", "repay", "cultivation.mengniu"):
        tag = re.search(rf'<input name="{re.escape(name)}"[^>]*>', page).group(0)
        assert 'step="any"' in tag, tag
    r = team.post("/team/", data={"period": "1", "care_budget": "2500", "advertising_budget": "2500", "borrow": "2500"})
    assert r.status_code == 302
    sub = client.get("/api/team", headers=team_token(client, helpers, g)).get_json()["submitted"]
    assert (sub["care_budget"], sub["advertising_budget"], sub["borrow"]) == (2500.0, 2500.0, 2500.0)


def test_a_bonus_or_penalty_and_its_reason_show_in_the_teams_report(app, client, inst, helpers):
    g = new_game(client, inst, helpers)
    r = client.post(f"/api/games/{g['id']}/adjust", json={"firm": 0, "amount": -1500, "reason": "late to class"}, headers=inst)
    assert r.status_code == 200, r.get_json()
    team = team_client(app, helpers, g)
    text = text_of(team.get("/team/").get_data(as_text=True))
    assert "late to class" in text and "-¥1,500" in text
    client.post(f"/api/games/{g['id']}/resolve", json={}, headers=inst)
    text = text_of(team.get("/team/").get_data(as_text=True))
    assert "Bonus or penalty -¥1,500 — late to class" in text
    assert "late to class" in text_of(team.get("/team/reports").get_data(as_text=True))


def test_a_problem_with_a_field_not_on_the_form_is_shown_in_words(app, client, inst, helpers):
    g = new_game(client, inst, helpers)
    team = team_client(app, helpers, g)
    r = team.post("/team/", data={"period": "1", "bids.nowhere.price": "90", "bids.nowhere.promised_service": "0.6"})
    assert r.status_code == 400
    text = text_of(r.get_data(as_text=True))
    assert "Bid on nowhere: not a published tender (a scheduled one opens in its period); open now: " in text and "; got nowhere" in text
    zh = team_client(app, helpers, g, lang="zh")
    text = text_of(zh.post("/team/", data={"period": "1", "bids.nowhere.price": "90"}).get_data(as_text=True))
    assert "投标 nowhere：这次招标尚未发布（预告中的招标在其所在期才开放）" in text


def test_a_late_bid_is_refused_at_submit_and_nothing_is_stored(client, inst, helpers):
    g = new_game(client, inst, helpers)
    api = team_token(client, helpers, g)
    first = client.get("/api/team", headers=api).get_json()["tenders"][0]["id"]
    client.post(f"/api/games/{g['id']}/resolve", json={}, headers=inst)
    r = client.post(f"/api/games/{g['id']}/decision", json={"bids": {first: {"price": 90, "promised_service": 0.7}}}, headers=api)
    assert r.status_code == 400
    (p,) = r.get_json()["problems"]
    assert p["field"] == f"bids.{first}" and p["rule"].startswith("the tender is closed (LATE)")
    assert client.get("/api/team", headers=api).get_json()["submitted"] is None


def test_each_error_is_shown_once_beside_its_field(app, client, inst, helpers):
    g = new_game(client, inst, helpers)
    team = team_client(app, helpers, g)
    html = team.post("/team/", data={"period": "1", "price": "-5", "service_level": "0.5"}).get_data(as_text=True)
    assert html.count("Price: must be &gt; 0 and &lt;= 200; got -5") == 1
    assert 'id="f-price-err"' in html and 'aria-invalid="true"' in html
    assert 'data-for="service_level"' not in html  # a valid field carries no error


def test_negative_money_has_one_form_on_every_page():
    assert (money(-1234.4), money(1234.6), money(-13767), money(0)) == ("-¥1,234", "¥1,235", "-¥13,767", "¥0")
    assert money(-96.5, 2) == "-¥96.50" and money(None) == "–" and money(float("nan")) == "–"
    assert money(-0.4) == "¥0" and money(-0.004, 2) == "¥0.00" and money(np.int64(-2500)) == "-¥2,500"


# ---------------------------------------------------------------------------
# decision support


def test_the_preview_flags_a_bid_above_the_cap_with_the_cap_and_the_rules_that_depend_on_others(app, client, inst, helpers):
    """POST /api/team/preview returns the engine's preview, its notices in the user's words."""
    g = new_game(client, inst, helpers, scenario="classroom-v2")
    api = team_token(client, helpers, g)
    tenders = client.get("/api/team", headers=api).get_json()["tenders"]
    t = next(x for x in tenders if x["client"] == "mengniu")
    draft = {"price": 100, "bids": {t["id"]: {"price": 130, "promised_service": 0.6}}}
    p = client.post("/api/team/preview?period=1", json=draft, headers=api).get_json()
    assert p["ok"] is True and p["period"] == 1 and p["unit_cost"] == 55
    (b,) = p["bids"]
    assert b["void_reason"] == "ABOVE_CAP" and b["label"] == "Mengniu Dairy, period 1" + (" (re-issued)" if "r" in t["id"].split("-")[1] else "")
    texts = [n["text"] for n in b["notices"]]
    assert any("price ¥130.00 is above the price cap ¥115.00" in x for x in texts), texts
    p = client.post("/api/team/preview?period=1", json={"bids": {t["id"]: {"price": 110, "promised_service": 0.6}}}, headers=api).get_json()
    texts = [n["text"] for n in p["bids"][0]["notices"]]
    assert p["bids"][0]["void_reason"] is None
    assert any(f"fails (流标) unless it gets at least {t['min_valid_bids']} valid bids" in x for x in texts), texts
    assert any("a price below 80% of the other valid bids' mean is void" in x for x in texts), texts
    assert not any("ABOVE_CAP" in x for x in texts)  # codes stay in the JSON, never in the words
    assert {"net_profit", "cash_end", "break_even_price", "revenue"} <= set(p["projection"])
    assert p["costs"]["total"] > 0 and p["bids"][0]["delivery_cost"] > 0

    zh = app.test_client()
    zh.get("/?lang=zh_CN")
    draft = {"bids": {t["id"]: {"price": 100, "promised_service": 0.4}}}
    p = zh.post("/api/team/preview?period=1", json=draft, headers=api).get_json()
    texts = [n["text"] for n in p["bids"][0]["notices"]]
    assert p["bids"][0]["void_reason"] == "UNQUALIFIED"
    assert any("承诺服务 0.4 低于要求 0.5" in x for x in texts), texts
    p = zh.post("/api/team/preview?period=1", json={"bids": {t["id"]: {"price": 110, "promised_service": 0.6}}}, headers=api).get_json()
    texts = [n["text"] for n in p["bids"][0]["notices"]]
    assert any("低于其他有效投标均价的 80% 视为异常低价而无效" in x for x in texts), texts
    assert any(f"至少需要 {t['min_valid_bids']} 份有效投标，否则流标" in x for x in texts), texts


def test_the_preview_reports_problems_and_warnings_in_words(app, client, inst, helpers):
    g = new_game(client, inst, helpers, scenario="classroom-v2")
    api = team_token(client, helpers, g)
    zh = app.test_client()
    zh.get("/?lang=zh_CN")
    p = zh.post("/api/team/preview", json={"price": -1, "borrow": 0, "care_budget": 10_000_000}, headers=api).get_json()
    assert p["ok"] is False
    assert [x["text"] for x in p["problems"]] == ["价格：必须大于 0 且不超过 200（填写的是 -1）"]
    warn = {n["code"]: n["text"] for n in p["warnings"]}
    assert "CASH_NEGATIVE" in warn and "紧急贷款" in warn["CASH_NEGATIVE"] and "4%" in warn["CASH_NEGATIVE"]
    p = client.post("/api/team/preview", json={"fire_service": 9}, headers=api).get_json()
    warn = {n["code"]: n["text"] for n in p["warnings"]}
    assert "Service staff utilisation" in warn["UTILISATION_ABOVE_KNEE"] and "above 80%" in warn["UTILISATION_ABOVE_KNEE"]


def test_the_preview_warns_of_cultivating_a_client_the_firm_cannot_bid_for(client, inst, helpers):
    g = new_game(client, inst, helpers, scenario="classroom-v2")
    api = team_token(client, helpers, g)
    p = client.post("/api/team/preview", json={"activities": {"motorola": ["investigate"]}}, headers=api).get_json()
    assert p["ok"] is True
    cult = [n for n in p["warnings"] if n["code"].startswith("CULTIVATE_") and n["field"] == "activities.motorola"]
    assert cult and "Motorola invites firms from the evaluation stage; you are at the potential stage" in cult[0]["text"]
    assert (p["sales_hours"]["hours"], p["sales_hours"]["hours_available"]) == (8.0, 120.0)


# ---------------------------------------------------------------------------
# the v2 form, the dashboard, reports and rules


def test_the_v2_form_sends_activities_research_retention_and_care_split(app, client, inst, helpers):
    g = new_game(client, inst, helpers, scenario="classroom-v2")
    team = team_client(app, helpers, g)
    page = team.get("/team/").get_data(as_text=True)
    for part in ('name="activities.mengniu" value="investigate"', 'name="research.rivals" value="haier"', 'name="research.survey"',
                 'name="research.forecast"', 'name="retention_budget"', 'name="care_split.A"', 'id="hours-available">120<'):
        assert part in page, part
    assert 'name="activities.mengniu" value="call" data-hours="6.0" data-field="activities.mengniu"  disabled' in page  # not at potential
    form = {"period": "1", "activities.mengniu": "investigate", "activities.haier": "investigate", "research.rivals": ["haier", "lenovo"],
            "research.survey": "100", "research.forecast": "1", "retention_budget": "2500",
            "care_split.A": "0.5", "care_split.B": "0.3", "care_split.C": "0.2"}
    r = team.post("/team/", data=form)
    assert r.status_code == 302, text_of(r.get_data(as_text=True))[:2000]
    sub = client.get("/api/team", headers=team_token(client, helpers, g)).get_json()["submitted"]
    assert sub["activities"] == {"mengniu": ["investigate"], "haier": ["investigate"]}
    assert sub["research"] == {"rivals": ["haier", "lenovo"], "survey": 100, "forecast": True}
    assert sub["retention_budget"] == 2500 and sub["care_split"] == {"A": 0.5, "B": 0.3, "C": 0.2}
    page = team.get("/team/").get_data(as_text=True)  # the submitted decision is shown again as submitted
    assert re.search(r'name="activities.haier" value="investigate"[^>]*checked', page)
    assert re.search(r'name="research.rivals" value="lenovo"[^>]*checked', page)

    client.post(f"/api/games/{g['id']}/resolve", json={}, headers=inst)
    text = text_of(team.get("/team/").get_data(as_text=True))
    assert "Your market research" in text and "Survey of 100 customers" in text and "Tender forecast" in text
    assert "Churn warning" in text and "Tender calendar" in text and "Key clients: lifecycle stage" in text
    assert "Mengniu Dairy target" in text  # investigated at potential: one stage up


def test_a_v1_team_page_has_none_of_the_v2_fields(app, client, inst, helpers):
    g = new_game(client, inst, helpers)
    page = team_client(app, helpers, g).get("/team/").get_data(as_text=True)
    for name in ("activities.", "research.", "retention_budget", "care_split."):
        assert f'name="{name}' not in page
    assert 'name="cultivation.mengniu"' in page


def test_every_field_has_a_tooltip(app, client, inst, helpers):
    g = new_game(client, inst, helpers, scenario="classroom-v2")
    page = team_client(app, helpers, g).get("/team/").get_data(as_text=True)
    inputs = re.findall(r"<input (?![^>]*type=\"hidden\")[^>]*>", page)
    assert len(inputs) > 40
    untitled = [i for i in inputs if "title=" not in i and "activities." not in i and "research." not in i]
    assert untitled == []


def test_reports_show_statements_history_and_charts(app, client, inst, helpers):
    g = new_game(client, inst, helpers, scenario="classroom-v2")
    client.post(f"/api/games/{g['id']}/resolve", json={}, headers=inst)
    client.post(f"/api/games/{g['id']}/resolve", json={}, headers=inst)
    team = team_client(app, helpers, g)
    html = team.get("/team/reports").get_data(as_text=True)
    text = text_of(html)
    for part in ("Income statement", "Cash flow statement", "Balance sheet", "Net profit", "Cash at the end", "History"):
        assert part in text, part
    assert html.count('data-chart="chart-') == 7 and html.count('<details class="chart-table">') == 7
    assert 'id="history"' in html and html.count("<tr><th scope=\"row\">") >= 2
    assert "Financial statements, period 2" in text
    assert "Financial statements, period 1" in text_of(team.get("/team/reports?period=1").get_data(as_text=True))


def test_the_rules_page_has_this_scenarios_numbers_in_both_languages(app, client, inst, helpers):
    g = new_game(client, inst, helpers, scenario="classroom-v2")
    text = text_of(team_client(app, helpers, g).get("/team/rules").get_data(as_text=True))
    assert "Financial 40%" in text and "Customer 25%" in text and "Relationship 20%" in text and "Growth 15%" in text
    assert "below 80% of the mean of the other valid bids" in text
    assert "bid bond of 2.0% of its value" in text
    assert "Interest on an emergency loan, per period" in text and "Glossary" in text
    assert "Mengniu Dairy 3,000 ¥115.00 0.50" in text and "Wahaha" in text
    zh = text_of(team_client(app, helpers, g, lang="zh").get("/team/rules").get_data(as_text=True))
    assert "术语表" in zh and "内蒙古蒙牛" in zh and "40%" in zh


@pytest.mark.parametrize("scenario", ["classroom-v1", "classroom-v2"])
def test_a_chinese_team_page_shows_no_raw_codes_and_no_english_words(app, client, inst, helpers, scenario):
    """Chinese team pages (cockpit, reports, rules) in words: no void codes, ids or English outside an allow-list."""
    r = client.post("/api/games", json={"scenario": scenario, "seed": 4, "name": "二班", "teams": ["甲", "乙", "丙", "丁", "戊", "己"],
                                        "bots": BOTS}, headers=inst)
    g = r.get_json()
    client.post(f"/api/games/{g['id']}/adjust", json={"firm": 0, "amount": -800, "reason": "迟到"}, headers=inst)
    for _ in range(2):
        client.post(f"/api/games/{g['id']}/resolve", json={}, headers=inst)
    team = team_client(app, helpers, g, lang="zh")
    for path in ("/team/", "/team/reports", "/team/rules"):
        text = text_of(team.get(path).get_data(as_text=True))
        latin = set(re.findall(r"[A-Za-z][A-Za-z_\-]+", text)) - {"crmsim", "CRM", "ABC", "UTC", "English"}
        assert latin == set(), (path, sorted(latin))
        assert "-¥800" in text or path == "/team/rules"


def test_the_api_gives_a_team_its_own_statements_and_no_one_elses_while_the_game_runs(client, inst, helpers):
    g = new_game(client, inst, helpers, scenario="classroom-v2")
    api = team_token(client, helpers, g)
    assert client.get("/api/team/statements", headers=api).get_json() == {"statements": []}
    client.post(f"/api/games/{g['id']}/resolve", json={}, headers=inst)
    (s,) = client.get("/api/team/statements", headers=api).get_json()["statements"]
    row = client.get(f"/api/games/{g['id']}/scoreboard").get_json()["periods"][0]
    assert (s["period"], s["firm"]) == (1, 0)
    income = {x["key"]: x["amount"] for x in s["income"]}
    assert income["operating_profit"] == pytest.approx(row["operating_profit"])
    balance = {x["key"]: x["amount"] for x in s["balance"]}
    assert balance["cash"] == pytest.approx(client.get("/api/team", headers=api).get_json()["cash"])
    r = client.get("/api/team/statements?firm=1", headers=api)
    assert r.status_code == 403 and r.get_json()["error"]["field"] == "firm"
    assert client.get("/api/team/statements?firm=x", headers=api).status_code == 400


def test_a_period_that_is_not_a_plain_number_is_refused_naming_the_field(app, client, inst, helpers):
    g = new_game(client, inst, helpers)
    api = team_token(client, helpers, g)
    for bad in ("x", "²", "-1", "1.0"):
        r = client.post(f"/api/games/{g['id']}/decision?period={bad}", json={"price": 99}, headers=api)
        assert r.status_code == 400 and r.get_json()["error"]["field"] == "period", bad
    team = team_client(app, helpers, g)
    r = team.post("/team/", data={"period": "²", "price": "99"})
    assert r.status_code == 400 and "Period: must be a whole number" in text_of(r.get_data(as_text=True))
    assert client.get("/api/team", headers=api).get_json()["submitted"] is None


def test_the_team_pages_render_when_the_game_is_over(app, client, inst, helpers):
    toml = 'name = "short-v2"\nextends = "classroom-v2"\nperiods = 5\nevents = []\n'
    r = client.post("/api/games", json={"scenario_toml": toml, "seed": 2, "bots": BOTS}, headers=inst)
    assert r.status_code == 201, r.get_json()
    g = r.get_json()
    for _ in range(5):
        assert client.post(f"/api/games/{g['id']}/resolve", json={}, headers=inst).status_code == 200
    team = team_client(app, helpers, g)
    text = text_of(team.get("/team/").get_data(as_text=True))
    assert "The game is finished." in text and 'id="decision"' not in team.get("/team/").get_data(as_text=True)
    assert "Financial statements, period 5" in text_of(team.get("/team/reports").get_data(as_text=True))
    assert team.get("/team/rules").status_code == 200
    p = client.post("/api/team/preview", json={"price": 90}, headers=team_token(client, helpers, g)).get_json()
    assert p["ok"] is False and p["problems"][0]["field"] == "status" and "the game is over" in p["problems"][0]["text"]
    statements = client.get("/api/team/statements?firm=3", headers=team_token(client, helpers, g)).get_json()["statements"]
    assert [s["firm"] for s in statements] == [3] * 5  # another firm's books, once the game is over


def test_a_saved_draft_comes_back_into_the_v2_form(app, client, inst, helpers):
    """What the page script saves as the student types (web/static/app.js formToRaw) is shown again on reload."""
    g = new_game(client, inst, helpers, scenario="classroom-v2")
    api = team_token(client, helpers, g)
    draft = {"price": "97", "activities": {"wahaha": ["investigate"]}, "research": {"rivals": ["yili"], "survey": "50", "forecast": True},
             "retention_budget": "1200", "care_split": {"A": "0.6", "B": "0.4", "C": "0"}, "bids": {}}
    assert client.put("/api/team/draft?period=1", json=draft, headers=api).status_code == 200
    page = team_client(app, helpers, g).get("/team/").get_data(as_text=True)
    assert re.search(r'<input name="price"[^>]*value="97"', page)
    assert re.search(r'name="activities.wahaha" value="investigate"[^>]*checked', page)
    assert re.search(r'name="research.rivals" value="yili"[^>]*checked', page)
    assert re.search(r'name="research.forecast" value="1"[^>]*checked', page)
    assert re.search(r'<input name="research.survey"[^>]*value="50"', page)
    assert re.search(r'<input name="retention_budget"[^>]*value="1200"', page)
    assert re.search(r'<input name="care_split.A"[^>]*value="0.6"', page)
    assert not re.search(r'name="activities.mengniu" value="investigate"[^>]*checked', page)


def test_a_stored_whole_amount_shows_in_the_form_without_a_trailing_dot_zero():
    from crmsim.web.team import flat_values

    shown = flat_values({"advertising_budget": 10000.0, "price": 99.5, "care_budget": 2500})
    assert (shown["advertising_budget"], shown["price"], shown["care_budget"]) == ("10000", "99.5", "2500")


def test_an_unknown_field_lists_the_fields_a_team_may_send_without_the_servers_own(client, inst, helpers):
    """The engine lists every decision field (`late` included: a caller of the engine may set it); a team never
    sets `late`, so the web's refusal of an unknown field lists the team's fields only."""
    from crmsim.sim.decisions import DECISION_FIELDS, unknown_field_rule
    from crmsim.web.service import TEAM_FIELDS

    g = new_game(client, inst, helpers)
    r = client.post(f"/api/games/{g['id']}/decision", json={"price": 97, "prise": 98}, headers=team_token(client, helpers, g))
    assert r.status_code == 400
    (problem,) = r.get_json()["problems"]
    assert (problem["field"], problem["rule"], problem["value"]) == ("prise", unknown_field_rule(TEAM_FIELDS), 98)
    assert "late" in DECISION_FIELDS and "late" not in TEAM_FIELDS and "price" in TEAM_FIELDS
    assert "late" not in problem["rule"].split("allowed: ")[1].split(", ")


def test_the_form_says_an_empty_mass_market_field_keeps_last_periods_value(app, client, inst, helpers):
    """A field left empty keeps the standing decision (the engine's rule); the form says so in both languages."""
    g = new_game(client, inst, helpers)
    assert "A field left empty keeps last period's value." in team_client(app, helpers, g).get("/team/").get_data(as_text=True)
    assert "留空的字段沿用上一期的数值。" in team_client(app, helpers, g, lang="zh").get("/team/").get_data(as_text=True)
