"""The bot play-test (oTree style): six strategy bots play a whole classroom-v1 game over HTTP.

Half the teams submit through the JSON API, half through the HTML decision
form. Every period each team reads its state (GET /api/team), its bot decides
from the same observation a local engine-only replica gives it, and the team
submits that decision. Submissions that must fail are tried every period
(bad values, another game, after the deadline, a bankrupt firm). At the end
the web game must equal the engine-only run with the same seed and decisions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from crmsim.scenarios import load_scenario
from crmsim.sim.model import CRMModel
from crmsim.web.service import jsonable

SCENARIO = "classroom-v1"
SEED = 7  # with this seed the random bot goes bankrupt mid-game, so the bankrupt path is played too
LINEUP = ["balanced", "price_cutter", "premium", "relationship", "adaptive", "random"]  # the random bot goes bankrupt


@dataclass
class Player:
    firm: int
    bot: str
    auth: dict[str, str]  # the team's bearer token
    via: str  # "api" or "form"
    browser: Any = None  # the team's own test client (session cookie), for the form


class SubmissionMustFail(AssertionError):
    pass


def must_fail(response, status: int, field: str) -> None:
    """oTree's SubmissionMustFail: the response is refused with `status` and names `field`."""
    if response.status_code != status:
        raise SubmissionMustFail(f"expected {status} naming {field!r}; got {response.status_code}: {response.get_data(as_text=True)[:300]}")
    if response.is_json:
        body = response.get_json()
        fields = [p["field"] for p in body.get("problems", [])] + ([body["error"]["field"]] if "error" in body else [])
    else:
        fields = [field] if f'data-for="{field}"' in response.get_data(as_text=True) else []  # the page names it in words beside it
    if field not in fields:
        raise SubmissionMustFail(f"expected a problem naming {field!r}; got {fields}")


class Classroom:
    """The instructor's and the teams' HTTP clients for one game."""

    def __init__(self, app, helpers):
        self.app, self.h = app, helpers
        self.http = app.test_client()
        self.inst = helpers.bearer(helpers.instructor_token(self.http))

    def submit(self, player: Player, gid: int, raw: dict[str, Any]):
        if player.via == "api":
            return self.http.post(f"/api/games/{gid}/decision", json=raw, headers=player.auth)
        page = player.browser.get("/team/")
        assert page.status_code == 200
        form = {**self.h.decision_to_form(raw), "csrf_token": self.h.csrf_token(page.get_data(as_text=True))}
        return player.browser.post("/team/", data=form)

    def team_state(self, player: Player) -> dict[str, Any]:
        r = self.http.get("/api/team", headers=player.auth)
        assert r.status_code == 200
        return r.get_json()


@pytest.mark.parametrize("seed", [SEED])
def test_six_bots_play_a_whole_game_over_http_and_match_the_engine(make_app, helpers, seed):
    app = make_app(WTF_CSRF_ENABLED=True)
    room = Classroom(app, helpers)
    http, inst = room.http, room.inst
    token = inst["Authorization"].removeprefix("Bearer ")
    game = helpers.api_create_game(http, token, scenario=SCENARIO, seed=seed, name="play-test")
    other = helpers.api_create_game(http, token, scenario=SCENARIO, seed=seed + 1, name="the class next door")
    gid, periods = game["id"], game["periods"]

    players = []
    for i, bot in enumerate(LINEUP):
        code = game["join_codes"][str(i)]
        joined = helpers.api_join(http, code)
        assert (joined["firm"], joined["game"]) == (i, gid)
        player = Player(i, bot, helpers.bearer(joined["token"]), "api" if i % 2 == 0 else "form")
        if player.via == "form":
            player.browser = app.test_client()
            r = helpers.form_join(player.browser, code)
            assert r.status_code == 302 and r.headers["Location"].endswith("/team/")
        players.append(player)
    neighbour = helpers.bearer(helpers.api_join(http, other["join_codes"]["0"])["token"])
    api_player = next(p for p in players if p.via == "api")
    form_player = next(p for p in players if p.via == "form")

    replica = CRMModel(load_scenario(SCENARIO), seed=seed, strategies=LINEUP)  # engine only, same seed
    bankrupt_seen = False
    for period in range(1, periods + 1):
        # -- submissions that must fail (nothing is stored) --
        must_fail(http.post(f"/api/games/{gid}/decision", json={"price": -10, "service_level": 0.5}, headers=api_player.auth), 400, "price")
        if not replica.state.firms[form_player.firm].bankrupt:
            must_fail(room.submit(form_player, gid, {"price": -10}), 400, "price")
        must_fail(http.post(f"/api/games/{gid}/decision", json={"price": 100}, headers=neighbour), 403, "game")
        must_fail(http.post(f"/api/games/{other['id']}/decision", json={"price": 100}, headers=api_player.auth), 403, "game")

        # -- every team reads its state and submits its bot's decision --
        decisions = {}
        for p in players:
            me = room.team_state(p)
            firm = replica.state.firms[p.firm]
            assert (me["game"]["period"], me["firm"], me["bankrupt"]) == (period, p.firm, firm.bankrupt)
            assert me["cash"] == pytest.approx(firm.cash, rel=1e-12, abs=1e-9)
            assert [t["id"] for t in me["tenders"]] == [t.id for t in replica.state.tenders]
            raw = replica.firm_agents[p.firm].decide(replica.observation(p.firm))
            if raw is None:  # a bankrupt firm takes no decisions
                assert firm.bankrupt
                bankrupt_seen = True
                must_fail(http.post(f"/api/games/{gid}/decision", json={"price": 100}, headers=p.auth), 400, "firm")
                continue
            decisions[p.firm] = replica.submit(p.firm, raw)
            r = room.submit(p, gid, raw)
            assert r.status_code == (200 if p.via == "api" else 302), r.get_data(as_text=True)[:500]

        # -- after the deadline nothing is accepted; the instructor extends it --
        r = http.post(f"/api/games/{gid}/deadline", json={"minutes": 0}, headers=inst)
        assert r.status_code == 200
        must_fail(http.post(f"/api/games/{gid}/decision", json={"price": 99}, headers=api_player.auth), 409, "deadline")
        if not replica.state.firms[form_player.firm].bankrupt:
            assert room.submit(form_player, gid, {"price": 99}).status_code == 409
        assert http.post(f"/api/games/{gid}/extend", json={"minutes": 10}, headers=inst).status_code == 200

        # -- expect: the server holds exactly one submission per live team, the bot's --
        status = http.get(f"/api/games/{gid}/status", headers=inst).get_json()["teams"]
        assert {int(f): s["submissions"] for f, s in status.items()} == {p.firm: int(p.firm in decisions) for p in players}
        for p in players:
            if p.firm in decisions:
                assert room.team_state(p)["submitted"] == jsonable(decisions[p.firm].to_dict())

        # -- the instructor resolves; the period's results equal the engine's --
        r = http.post(f"/api/games/{gid}/resolve", headers=inst)
        assert r.status_code == 200 and r.get_json()["period"] == period
        replica.step()
        rows = [row for row in http.get(f"/api/games/{gid}/scoreboard").get_json()["periods"] if row["period"] == period]
        expected = replica.results[-1].firm_rows
        assert [(row["firm"], row["rank"], row["bankrupt"]) for row in rows] == [(e["firm"], e["rank"], e["bankrupt"]) for e in expected]
        assert [row["score"] for row in rows] == pytest.approx([e["score"] for e in expected], abs=1e-9)
        assert [row["customers"] for row in rows] == pytest.approx([e["customers"] for e in expected], rel=1e-12, abs=1e-9)
        if http.get(f"/api/games/{gid}").get_json()["status"] != "finished":  # a firm's books are private until the end
            assert not any(k in row for row in rows for k in ("cash", "debt", "equity"))
        else:
            assert [row["cash"] for row in rows] == pytest.approx([e["cash"] for e in expected], rel=1e-12, abs=1e-9)

    assert bankrupt_seen, "the play-test should have played a bankrupt seat; pick another seed"
    assert http.get(f"/api/games/{gid}").get_json()["status"] == "finished"

    # -- expect: the final standings equal the engine-only run with the same seed and decisions --
    ranking = http.get(f"/api/games/{gid}/scoreboard").get_json()["ranking"]
    engine_only = CRMModel(load_scenario(SCENARIO), seed=seed, strategies=LINEUP).run().standings()
    for reference in (replica.standings(), engine_only):
        assert [r["firm"] for r in ranking] == reference["firm"].tolist()
        assert [r["rank"] for r in ranking] == reference["rank"].tolist() == list(range(1, 7))
        assert [r["score"] for r in ranking] == pytest.approx(reference["score"].tolist(), abs=1e-9)
        assert [r["cash"] for r in ranking] == pytest.approx(reference["cash"].tolist(), rel=1e-12, abs=1e-9)
        assert [r["bankrupt"] for r in ranking] == reference["bankrupt"].tolist()
    # the scorecard's rule: live firms by score, bankrupt firms last
    live = [r for r in ranking if not r["bankrupt"]]
    assert ranking[: len(live)] == live and [r["score"] for r in live] == sorted((r["score"] for r in live), reverse=True)

    # -- expect: the decision log rebuilds every published period --
    assert http.get(f"/api/games/{gid}/rebuild-check", headers=inst).get_json() == {"ok": True, "differing_periods": []}
    from crmsim.web.db import get_db
    from crmsim.web.models import Game
    from crmsim.web.service import verify_rebuild

    with app.app_context():
        db = get_db()
        assert verify_rebuild(db, db.get(Game, gid)) == []
