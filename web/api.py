"""The JSON API: the same actions as the pages, for bots, scripts and tests.

Authentication: ``POST /api/login`` (instructor password) or ``POST /api/join``
(team code) returns a bearer token; send it as ``Authorization: Bearer TOKEN``.
Errors are ``{"error": {...}}`` or, for a rejected decision,
``{"problems": [{"field", "rule", "value", "message"}, ...]}``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request

from crmsim.agents.bots import BOTS
from crmsim.scenarios import ScenarioError, list_scenarios
from crmsim.sim.decisions import DecisionError
from crmsim.sim.observation import public_row
from crmsim.web import limiter
from crmsim.web.db import get_db
from crmsim.web.models import Game
from crmsim.web.service import (
    ServiceError,
    add_adjustment,
    create_game,
    extend_deadline,
    fill_with_bots,
    jsonable,
    latest_decisions,
    pause,
    preview,
    problem_json,
    rebuild,
    resolve,
    resume,
    save_draft,
    seconds_left,
    set_deadline,
    snapshots,
    submission_status,
    submit_decision,
    team_by_code,
    verify_rebuild,
)
from crmsim.web.views import check_password, current_team, game_or_404, instructor_required, list_games, make_token, team_required

bp = Blueprint("api", __name__, url_prefix="/api")


def _body(optional: bool = False) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None and optional and not request.get_data():
        return {}
    if not isinstance(data, dict):
        raise ServiceError("body", "must be a JSON object", request.get_data(as_text=True)[:200], 400)
    return data


def _number(body: dict[str, Any], key: str, default: Any, whole: bool = False) -> float | int:
    """A number from the JSON body, or a 400 naming the field."""
    value = body.get(key, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(value, str):
        try:
            value, ok = float(value), True
        except ValueError:
            ok = False
    if not ok or value != value or (whole and float(value) != int(value)):
        raise ServiceError(key, "must be a whole number" if whole else "must be a number", body.get(key, default), 400)
    return int(value) if whole else float(value)


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    return jsonify(error=problem_json(exc.problem)), exc.status


@bp.errorhandler(DecisionError)
def _decision_error(exc: DecisionError):
    return jsonify(problems=[problem_json(p) for p in exc.problems]), 400


@bp.errorhandler(ScenarioError)
def _scenario_error(exc: ScenarioError):
    return jsonify(error={"field": "scenario", "rule": "; ".join(exc.problems), "value": exc.source}), 400


def _auth_limit() -> str:
    return current_app.config["RATELIMIT_AUTH"]


@bp.post("/login")
@limiter.limit(_auth_limit)
def login():
    if not check_password(str(_body().get("password", ""))):
        return jsonify(error={"field": "password", "rule": "not correct", "value": None}), 401
    return jsonify(token=make_token("instructor"))


@bp.post("/join")
@limiter.limit(_auth_limit)
def join():
    team = team_by_code(get_db(), str(_body().get("code", "")))
    return jsonify(token=make_token("team", team.id), team=team.name, firm=team.firm_index, game=team.game_id)


def game_json(game: Game, private: bool = False) -> dict[str, Any]:
    out = {
        "id": game.id, "name": game.name, "scenario": game.scenario_name, "status": game.status, "period": game.period,
        "periods": game.scenario_json["periods"], "seconds_left": seconds_left(game), "version": game.version,
        "teams": [{"firm": t.firm_index, "name": t.name, "bot": t.bot} for t in game.teams],
    }
    if private:
        out["seed"] = game.seed
        out["join_codes"] = {t.firm_index: t.join_code for t in game.teams}
    return jsonable(out)


@bp.get("/scenarios")
def scenarios():
    return jsonify(scenarios=list_scenarios(), bots={k: v.description for k, v in BOTS.items()})


@bp.get("/games")
def games():
    return jsonify(games=[game_json(g) for g in list_games()])


@bp.post("/games")
@instructor_required
def new_game():
    b = _body()
    raw_bots = b.get("bots") or {}
    if not isinstance(raw_bots, dict) or not all(str(k).isdigit() for k in raw_bots):
        raise ServiceError("bots", "must map seat numbers to bot names", raw_bots, 400)
    teams = b.get("teams")
    if teams is not None and not (isinstance(teams, list) and all(isinstance(t, str) and t.strip() for t in teams)):
        raise ServiceError("teams", "must be a list of team names", teams, 400)
    name = b.get("name")
    if name is not None and not isinstance(name, str):
        raise ServiceError("name", "must be text", name, 400)
    game = create_game(get_db(), str(b.get("scenario", "classroom-v1")), seed=_number(b, "seed", 1, whole=True), name=name,
                       team_names=teams, bots={int(k): v for k, v in raw_bots.items()},
                       period_minutes=_number(b, "period_minutes", 15))
    return jsonify(game_json(game, private=True)), 201


@bp.get("/games/<int:game_id>")
def game(game_id: int):
    from crmsim.web.views import is_instructor

    return jsonify(game_json(game_or_404(game_id), private=is_instructor()))


@bp.get("/games/<int:game_id>/version")
def version(game_id: int):
    g = game_or_404(game_id)
    return jsonify(version=g.version, period=g.period, status=g.status, seconds_left=seconds_left(g))


@bp.get("/games/<int:game_id>/scoreboard")
def scoreboard(game_id: int):
    g = game_or_404(game_id)
    snaps = snapshots(get_db(), g)
    rows = [public_row(r, game_over=g.status == "finished") for s in snaps for r in s.firm_rows]
    ranking = sorted(rows[-len(g.teams):], key=lambda r: r["rank"]) if rows else []
    return jsonify(jsonable({"game": game_json(g), "ranking": ranking, "periods": rows}))


@bp.get("/games/<int:game_id>/tenders")
def tenders(game_id: int):
    """Published tender results: every bid's breakdown, void reasons, min-to-win (after each award only)."""
    g = game_or_404(game_id)
    snaps = snapshots(get_db(), g)
    return jsonify(jsonable({"tenders": [t for s in snaps for t in s.tender_rows], "bids": [b for s in snaps for b in s.bid_rows]}))


@bp.get("/games/<int:game_id>/status")
@instructor_required
def status(game_id: int):
    g = game_or_404(game_id)
    return jsonify(jsonable({"game": game_json(g, private=True), "teams": submission_status(get_db(), g)}))


@bp.get("/games/<int:game_id>/rebuild-check")
@instructor_required
def rebuild_check(game_id: int):
    g = game_or_404(game_id)
    bad = verify_rebuild(get_db(), g)
    return jsonify(ok=not bad, differing_periods=bad)


@bp.post("/games/<int:game_id>/<action>")
@instructor_required
def act(game_id: int, action: str):
    db, g = get_db(), game_or_404(game_id)
    b = _body(optional=True)
    if action == "resolve":
        expected = _number(b, "period", None, whole=True) if b.get("period") is not None else None
        r = resolve(db, g, expected_period=expected)
        return jsonify(period=r.period, seconds=r.seconds, finished=r.finished, game=game_json(g))
    if action == "pause":
        pause(db, g)
    elif action == "resume":
        resume(db, g)
    elif action == "deadline":
        set_deadline(db, g, _number(b, "minutes", 0))
    elif action == "extend":
        extend_deadline(db, g, _number(b, "minutes", 5))
    elif action == "bots":
        filled = fill_with_bots(db, g, str(b.get("bot", "balanced")), only_absent=b.get("scope", "absent") == "absent")
        return jsonify(filled=filled, game=game_json(g))
    elif action == "adjust":
        reason = b.get("reason", "")
        if not isinstance(reason, str):
            raise ServiceError("reason", "must be text", reason, 400)
        add_adjustment(db, g, _number(b, "firm", -1, whole=True), _number(b, "amount", None), reason)
    else:
        abort(404)
    return jsonify(game=game_json(g))


# -- team endpoints ------------------------------------------------------------------


@bp.get("/team")
@team_required
def team_state():
    db = get_db()
    team = current_team()
    g = team.game
    model = rebuild(db, g)
    firm = model.state.firms[team.firm_index]
    snaps = snapshots(db, g)
    sub = latest_decisions(db, g).get(team.firm_index)
    ids = model.scenario.client_ids
    return jsonify(jsonable({
        "game": game_json(g),
        "firm": team.firm_index,
        "team": team.name,
        "cash": firm.cash, "debt": firm.debt, "equity": firm.equity, "bankrupt": firm.bankrupt,
        "sales_staff": firm.sales_staff, "service_staff": firm.service_staff, "unit_cost": firm.unit_cost,
        "customers": int((model.state.population.supplier == team.firm_index).sum()),
        "relationships": {c: float(model.state.relationship[team.firm_index, k]) for k, c in enumerate(ids)},
        "standing": firm.standing.to_dict(),
        "tenders": [t.to_dict() for t in model.state.tenders],
        "last": snaps[-1].firm_rows[team.firm_index] if snaps else None,
        "submitted": sub.payload if sub else None,
    }))


@bp.post("/games/<int:game_id>/decision")
@team_required
def decision(game_id: int):
    db, g = get_db(), game_or_404(game_id)
    team = current_team()
    if team.game_id != g.id:
        raise ServiceError("game", "your team does not play in this game", game_id, 403)
    d = submit_decision(db, g, team, _body(), source="api")
    return jsonify(ok=True, period=g.period, decision=jsonable(d.to_dict()))


@bp.put("/team/draft")
@team_required
def draft():
    team = current_team()
    save_draft(get_db(), team.game, team, _body())
    return jsonify(ok=True)


@bp.post("/team/preview")
@team_required
def cost_preview():
    team = current_team()
    return jsonify(preview(get_db(), team.game, team, _body()))
