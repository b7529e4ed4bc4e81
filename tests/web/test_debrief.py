"""The debriefs: bonus and penalty reasons, team-debrief links a team may follow, and the final heading."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def room(app, helpers):
    ins = app.test_client()
    token = helpers.instructor_token(ins)
    game = helpers.api_create_game(ins, token, seed=2, bots={str(i): "balanced" for i in range(2, 6)})
    teams, headers = [], []
    for i in range(2):
        page = app.test_client()
        assert helpers.form_join(page, game["join_codes"][str(i)], with_csrf=False).status_code == 302
        teams.append(page)
    return {"ins": ins, "auth": helpers.bearer(token), "id": game["id"], "teams": teams, "codes": game["join_codes"]}


def room_code(room, seat: int) -> str:
    return room["codes"][str(seat)]


def resolve(room, period):
    r = room["ins"].post(f"/api/games/{room['id']}/resolve", json={"period": period}, headers=room["auth"])
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_bonus_or_penalty_reason_shows_in_both_debriefs_once_its_period_resolved(room):
    gid, ins, auth = room["id"], room["ins"], room["auth"]
    assert ins.post(f"/api/games/{gid}/adjust", json={"firm": 0, "amount": -2500, "reason": "late to class"}, headers=auth).status_code == 200
    assert "late to class" not in room["teams"][0].get(f"/debrief/{gid}").get_data(as_text=True)  # not booked yet
    resolve(room, 1)
    public = room["teams"][1].get(f"/debrief/{gid}").get_data(as_text=True)
    own = room["teams"][0].get(f"/debrief/{gid}/team/0").get_data(as_text=True)
    for html in (public, own):
        row = re.search(r'<table class="grid small" id="adjustments">.*?</table>', html, re.S).group(0)
        assert "late to class" in row and "-¥2,500" in row


def test_a_team_follows_its_own_debrief_link_and_sees_no_link_it_may_not_follow(room):
    gid = room["id"]
    resolve(room, 1)
    html = room["teams"][0].get(f"/debrief/{gid}").get_data(as_text=True)
    links = re.findall(rf'href="(/debrief/{gid}/team/\d+)"', html)
    assert links == [f"/debrief/{gid}/team/0"]
    assert all(room["teams"][0].get(link).status_code == 200 for link in links)
    assert room["teams"][0].get(f"/debrief/{gid}/team/1").status_code == 403
    assert room["teams"][1].get(f"/debrief/{gid}/team/1").status_code == 200


def test_after_the_last_period_every_team_debrief_is_open_and_the_ranking_is_final(room):
    gid = room["id"]
    periods = room["ins"].get(f"/api/games/{gid}").get_json()["periods"]
    for p in range(1, periods + 1):
        done = resolve(room, p)
    assert done["finished"]
    html = room["teams"][0].get(f"/debrief/{gid}").get_data(as_text=True)
    assert "Final ranking" in html and "Ranking after period" not in html
    links = re.findall(rf'href="(/debrief/{gid}/team/\d+)"', html)
    assert len(links) == 6 and all(room["teams"][0].get(link).status_code == 200 for link in links)


def test_a_team_re_scores_a_published_tender_with_its_bid_changed(room, helpers):
    gid = room["id"]
    resolve(room, 1)
    tenders = room["ins"].get(f"/api/games/{gid}/tenders").get_json()
    t = tenders["tenders"][0]
    winner = t["winner"]
    win_bid = next(b for b in tenders["bids"] if b["tender"] == t["tender"] and b["won"])
    team = room["teams"][0]
    # the team's page session carries no API token here: ask through the debrief page (a GET form)
    html = team.get(f"/debrief/{gid}/team/0", query_string={"wi_tender": f"1|{t['tender']}", "wi_price": str(round(win_bid["price"] - 1, 2)),
                                                             "wi_service": "1"}).get_data(as_text=True)
    assert 'id="what-if-result"' in html
    # the same question through the API, with the team's token: the answer names the winner and the margin
    h = helpers.bearer(helpers.api_join(team, room_code(room, 0))["token"])
    r = team.post(f"/api/games/{gid}/tenders/{t['tender']}/rescore", headers=h,
                  json={"price": round(win_bid["price"] - 1, 2), "promised_service": 1.0})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["firm"] == 0 and out["winner_before"] == winner
    assert out["winner"] == 0 and out["margin_points"] > 0 and out["won"]
    assert ("You would have won, by %.2f points" % out["margin_points"]) in html
    # another firm's what-if is not a team's to ask; an unresolved period's tender is not public
    assert team.post(f"/api/games/{gid}/tenders/{t['tender']}/rescore", headers=h,
                     json={"price": 50, "promised_service": 0.9, "firm": 1}).status_code == 403
    r = team.post(f"/api/games/{gid}/tenders/{t['tender']}/rescore", headers=h, json={"period": 2, "price": 50, "promised_service": 0.9})
    assert r.status_code == 400 and r.get_json()["error"]["field"] == "period"
    # a tender still open (period 2's) is not public: 404, and nothing about its bids
    open_tender = team.get("/api/team", headers=h).get_json()["tenders"][0]["id"]
    if open_tender not in {x["tender"] for x in tenders["tenders"]}:
        r = team.post(f"/api/games/{gid}/tenders/{open_tender}/rescore", headers=h, json={"price": 50, "promised_service": 0.9})
        assert r.status_code == 404 and r.get_json()["error"]["field"] == "tender"


def test_a_replay_is_refused_while_the_game_runs_and_set_side_by_side_after(room, helpers):
    gid = room["id"]
    h = helpers.bearer(helpers.api_join(room["teams"][0], room_code(room, 0))["token"])
    resolve(room, 1)
    r = room["teams"][0].post(f"/api/games/{gid}/replay", headers=h, json={"period": 1, "change": {"price": 90}})
    assert r.status_code == 409 and r.get_json()["error"]["field"] == "status"
    periods = room["ins"].get(f"/api/games/{gid}").get_json()["periods"]
    for p in range(2, periods + 1):
        resolve(room, p)
    r = room["teams"][0].post(f"/api/games/{gid}/replay", headers=h, json={"period": 2, "change": {"price": 90}})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    real = room["ins"].get(f"/api/games/{gid}/scoreboard").get_json()["ranking"]
    assert [(s["firm"], s["rank_real"], round(s["score_real"], 6)) for s in sorted(out["side_by_side"], key=lambda s: s["rank_real"])] == \
        [(r["firm"], r["rank"], round(r["score"], 6)) for r in real]
    assert out["decision"]["price"] == 90
    html = room["teams"][0].get(f"/debrief/{gid}/team/0", query_string={"rp_period": "2", "rp_field": "price", "rp_value": "90"}).get_data(as_text=True)
    table = re.search(r'<table class="grid small" id="replay-result">.*?</table>', html, re.S).group(0)
    mine = next(s for s in out["side_by_side"] if s["firm"] == 0)
    assert f"{mine['score_counterfactual']:,.1f}" in table and f"{mine['score_real']:,.1f}" in table


def test_after_the_last_period_the_team_page_offers_no_decision_and_a_bad_replay_period_reads_in_either_language(room, app):
    """A finished game's team page says no more decisions (not "Decision for period 13"); a replay of a period
    outside the log names the rule once, with the value, in the page's language."""
    gid = room["id"]
    periods = room["ins"].get(f"/api/games/{gid}").get_json()["periods"]
    for p in range(1, periods + 1):
        resolve(room, p)
    page = room["teams"][0].get("/team/?lang=en").get_data(as_text=True)
    assert "No more decisions: the game is finished" in page and "Decision for period" not in page
    assert 'id="churn-warning"' not in page and 'id="decision"' not in page
    zh = room["teams"][1].get("/team/?lang=zh_CN").get_data(as_text=True)
    assert "不再需要决策：游戏已结束" in zh and f"第 {periods + 1} 期决策" not in zh
    ask = {"rp_period": str(periods + 1), "rp_field": "price", "rp_value": "80"}
    en = room["teams"][0].get(f"/debrief/{gid}/team/0", query_string={**ask, "lang": "en"}).get_data(as_text=True)
    assert f"Period: must be a period of the log, 1 to {periods}; got {periods + 1}" in en and "; got 13; got" not in en
    zh = room["teams"][0].get(f"/debrief/{gid}/team/0", query_string={**ask, "lang": "zh_CN"}).get_data(as_text=True)
    assert f"期数：必须是已记录的一期：第 1 到第 {periods} 期（填写的是 {periods + 1}）" in zh


def test_a_what_if_bid_that_would_be_void_says_so_and_why(room):
    gid = room["id"]
    resolve(room, 1)
    t = room["ins"].get(f"/api/games/{gid}/tenders").get_json()["tenders"][0]
    html = room["teams"][0].get(f"/debrief/{gid}/team/0", query_string={"wi_tender": f"1|{t['tender']}", "wi_price": "100000",
                                                                        "wi_service": "1", "lang": "en"}).get_data(as_text=True)
    lead = re.search(r'<div id="what-if-result"[^>]*>\s*<p class="lead">(.*?)</p>', html, re.S).group(1)
    assert "Your bid would be void: price above the" in " ".join(lead.split()), lead
    assert "points behind" not in lead and re.search(r"would have won\.|would have failed", lead), lead
