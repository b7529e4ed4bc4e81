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
    return {"ins": ins, "auth": helpers.bearer(token), "id": game["id"], "teams": teams}


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
