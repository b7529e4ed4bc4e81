"""The JSON API: the same actions as the pages, for bots, scripts and tests.

Authentication: ``POST /api/login`` (instructor password) or ``POST /api/join``
(team code) returns a bearer token; send it as ``Authorization: Bearer TOKEN``.
Errors are ``{"error": {...}}`` or, for a rejected decision,
``{"problems": [{"field", "rule", "value", "message"}, ...]}``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from crmsim.agents.bots import BOTS
from crmsim.scenarios import ScenarioError, list_scenarios
from crmsim.sim.decisions import DecisionError
from crmsim.sim.observation import public_row
from crmsim.sim.statements import statements_history
from crmsim.web import grants
from crmsim.web.actions import GAME_ACTIONS, GameAction
from crmsim.web.db import get_db
from crmsim.web.i18n import localise_preview
from crmsim.web.guesses import JOIN_CODE, PASSWORD, guesses
from crmsim.web.models import Game
from crmsim.web.schemas import DecisionBody, DraftBody, JoinBody, LoginBody, NewGameBody, NoBody, ReplayBody, RescoreBody, accepts
from crmsim.web.service import (
    PRACTICE_PERIOD,
    ServiceError,
    announcements_for,
    chosen_scenario,
    period_mismatch,
    create_game,
    jsonable,
    latest_decisions,
    missing_teams,
    preview,
    problem_json,
    rebuild,
    replay_change,
    resolve_if_due,
    save_draft,
    scenario_text_error,
    seconds_left,
    snapshots,
    submission_status,
    submit_decision,
    team_by_code,
    verify_rebuild,
    what_if_bid,
)
from crmsim.web.views import (
    bearer_token,
    check_password,
    current_team,
    game_or_404,
    instructor_required,
    is_instructor,
    list_games,
    make_token,
    sign_in_required,
    signed_in,
    team_required,
)

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    return jsonify(error=problem_json(exc.problem)), exc.status


@bp.errorhandler(DecisionError)
def _decision_error(exc: DecisionError):
    return jsonify(problems=[problem_json(p) for p in exc.problems]), 400


@bp.errorhandler(ScenarioError)
def _scenario_error(exc: ScenarioError):
    return jsonify(error=problem_json(scenario_text_error("scenario", exc.problems).problem)), 400


@bp.get("/openapi.json")
def openapi():
    """This API's OpenAPI document."""
    from crmsim.web.openapi import openapi_document

    doc = current_app.extensions.get("openapi")
    if doc is None:
        doc = current_app.extensions["openapi"] = openapi_document(current_app)
    return jsonify(doc)


@bp.post("/login")
@accepts(LoginBody)
def login(body: LoginBody):
    """Sign in as the instructor: a token for the instructor's calls."""
    guesses().allow(PASSWORD)
    if not check_password(body.password):
        guesses().failed(PASSWORD)
        raise ServiceError("password", "not correct", None, 401)
    return jsonify(token=make_token(grants.INSTRUCTOR))


@bp.post("/join")
@accepts(JoinBody)
def join(body: JoinBody):
    """Join as a team with its code: a token for the team's calls."""
    guesses().allow(JOIN_CODE)
    try:
        team = team_by_code(get_db(), body.code)
    except ServiceError as exc:
        if exc.status == 404:
            guesses().failed(JOIN_CODE)
        raise
    return jsonify(token=make_token(grants.TEAM, team.id), team=team.name, firm=team.firm_index, game=team.game_id)


@bp.post("/logout")
@accepts(NoBody)
def logout(body: NoBody):
    """Revoke the token this request carries (and any token issued under it)."""
    if not any(signed_in()):
        return sign_in_required("sign-in required: send the token to revoke")
    grants.revoke(get_db(), bearer_token())
    return jsonify(ok=True)


def game_json(game: Game, private: bool = False) -> dict[str, Any]:
    out = {
        "id": game.id, "name": game.name, "scenario": game.scenario_name, "status": game.status, "period": game.period,
        "periods": game.scenario_json["periods"], "seconds_left": seconds_left(game), "version": game.version,
        "practice": game.period == PRACTICE_PERIOD, "public": game.public, "auto_resolve": game.auto_resolve,
        "teams": [{"firm": t.firm_index, "name": t.name, "bot": t.bot} for t in game.teams],
    }
    if private:
        out["seed"] = game.seed
        out["join_codes"] = {t.firm_index: t.join_code for t in game.teams}
    return jsonable(out)


@bp.get("/scenarios")
def scenarios():
    """The catalogue of scenarios and the bots."""
    return jsonify(scenarios=list_scenarios(), bots={k: v.description for k, v in BOTS.items()})


@bp.get("/games")
def games():
    """The games listed publicly (the instructor: every game), public fields only."""
    return jsonify(games=[game_json(g) for g in list_games(listed_only=not is_instructor())])


@bp.post("/games")
@instructor_required
@accepts(NewGameBody)
def new_game(body: NewGameBody):
    """Create a game from a catalogue scenario or an uploaded one; the answer has the join codes."""
    game = create_game(get_db(), chosen_scenario(body.scenario, body.scenario_toml), seed=body.seed, name=body.name,
                       team_names=body.teams, bots={int(k): v for k, v in body.bots.items()}, period_minutes=body.period_minutes,
                       practice=body.practice, public=body.public, auto_resolve=body.auto_resolve)
    return jsonify(game_json(game, private=True)), 201


@bp.get("/games/<int:game_id>")
def game(game_id: int):
    """One game (the instructor also gets the seed and the join codes)."""
    return jsonify(game_json(game_or_404(game_id), private=is_instructor()))


@bp.get("/games/<int:game_id>/version")
def version(game_id: int):
    """What the live pages poll: version, period, status, seconds left. A game that resolves at its deadline is
    resolved here once the deadline has passed (docs/deploy.md, "Automatic resolve")."""
    g = game_or_404(game_id)
    resolve_if_due(get_db(), g)
    return jsonify(version=g.version, period=g.period, status=g.status, seconds_left=seconds_left(g))


@bp.get("/games/<int:game_id>/scoreboard")
def scoreboard(game_id: int):
    """The ranking and every resolved period's public firm rows."""
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
    """The submission monitor: who joined and when, who submitted (how many times, last when), when each team was
    last seen, and which teams the resolution still waits for."""
    g = game_or_404(game_id)
    db = get_db()
    return jsonify(jsonable({"game": game_json(g, private=True), "teams": submission_status(db, g),
                             "missing": [t.firm_index for t in missing_teams(db, g)]}))


@bp.get("/games/<int:game_id>/rebuild-check")
@instructor_required
def rebuild_check(game_id: int):
    """Rebuild the game from its log and compare every period with the stored snapshot."""
    g = game_or_404(game_id)
    bad = verify_rebuild(get_db(), g)
    return jsonify(ok=not bad, differing_periods=bad)


def game_action_view(action: GameAction):
    """The API's view of one of the instructor's actions: ``POST /api/games/<id>/<action>`` with its body."""

    def view(game_id: int, body: Any):
        g = game_or_404(game_id)
        done = action.run(get_db(), g, body)
        return jsonify(**done, game=game_json(g))

    view.__name__, view.__doc__ = action.name, action.summary
    return instructor_required(accepts(action.body)(view))


for _action in GAME_ACTIONS.values():
    bp.add_url_rule(f"/games/<int:game_id>/{_action.name}", endpoint=_action.name, view_func=game_action_view(_action), methods=["POST"])


# -- team endpoints ------------------------------------------------------------------


@bp.get("/team")
@team_required
def team_state():
    """The team's own position, its open tenders and the decision it submitted."""
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


@bp.get("/team/statements")
@team_required
def team_statements():
    """The team's income statement, cash flow statement, balance sheet and changes in equity for each resolved
    period; once the game is over, ``?firm=N`` gives another firm's (books are private while it runs)."""
    team = current_team()
    g = team.game
    firm = team.firm_index
    asked = request.args.get("firm")
    if asked is not None:
        if not (asked.isascii() and asked.isdigit()) or int(asked) >= len(g.teams):
            raise ServiceError("firm", f"must be a firm index 0 to {len(g.teams) - 1}", asked[:20], 400)
        if int(asked) != firm and g.status != "finished":
            raise ServiceError("firm", "another firm's books are private until the game is over", int(asked), 403)
        firm = int(asked)
    model = rebuild(get_db(), g)
    return jsonify(statements=[s.to_dict() for s in statements_history(model.results, firm, model.scenario)])


@bp.post("/games/<int:game_id>/decision")
@team_required
@accepts(DecisionBody)
def decision(game_id: int, body: DecisionBody):
    """Submit (or replace) the team's decision for the open period."""
    db, g = get_db(), game_or_404(game_id)
    team = current_team()
    if team.game_id != g.id:
        raise ServiceError("game", "your team does not play in this game", game_id, 403)
    d = submit_decision(db, g, team, body.root, source="api", period=asked_period())
    return jsonify(ok=True, period=g.period, decision=jsonable(d.to_dict()))


def asked_period() -> int | None:
    """The period a team's request is for (``?period=N``: what its form was made for), or None when not said."""
    period = request.args.get("period")
    if period is None:
        return None
    if not (period.isascii() and period.isdigit()):
        raise ServiceError("period", "must be a whole number (the period the decision is for)", period[:20], 400)
    return int(period)


def require_open_period(game: Game) -> None:
    """Refuse a team's request made for a period that is no longer open (a form left open across a resolution)."""
    period = asked_period()
    if period is not None and period != game.period:
        raise ServiceError("period", period_mismatch(get_db(), game, period), period, 409)


@bp.put("/team/draft")
@team_required
@accepts(DraftBody)
def draft(body: DraftBody):
    """Save an unsubmitted draft of the decision form."""
    team = current_team()
    require_open_period(team.game)
    save_draft(get_db(), team.game, team, body.root, max_bytes=current_app.config["DRAFT_MAX_BYTES"])
    return jsonify(ok=True)


@bp.post("/team/preview")
@team_required
@accepts(DecisionBody)
def cost_preview(body: DecisionBody):
    """Decision support, stored nowhere: the engine's preview of the draft (bid checks with their limits, the
    rules that depend on the other teams' bids, unit cost, projected profit and cash, break-even price,
    warnings), every notice and problem with a ``text`` in the user's language."""
    team = current_team()
    require_open_period(team.game)
    return jsonify(localise_preview(preview(get_db(), team.game, team, body.root), team.game.scenario_json))


@bp.get("/team/announcements")
@team_required
def team_announcements():
    """The instructor's announcements to every team and to this team, newest first."""
    team = current_team()
    return jsonify(announcements=[announcement_json(a) for a in announcements_for(get_db(), team.game, team.firm_index)])


def announcement_json(a) -> dict[str, Any]:
    return {"id": a.id, "period": a.period, "to": "all" if a.firm_index is None else "team", "text": a.text,
            "at": a.created_at.isoformat() + "Z"}


def asking_firm(g: Game, firm: int | None) -> int:
    """Whose counterfactual: a team asks about its own firm, the instructor names one (any, since all is theirs)."""
    if is_instructor():
        if firm is None:
            raise ServiceError("firm", "the instructor names the seat to ask about", None, 400)
        return firm
    team = current_team()
    if team is None:
        raise ServiceError("auth", "team or instructor sign-in required", None, 401)
    if team.game_id != g.id:
        raise ServiceError("game", "your team does not play in this game", g.id, 403)
    if firm is not None and firm != team.firm_index:
        raise ServiceError("firm", "a team asks about its own firm only", firm, 403)
    return team.firm_index


@bp.post("/games/<int:game_id>/tenders/<tender>/rescore")
@accepts(RescoreBody)
def rescore(game_id: int, tender: str, body: RescoreBody):
    """After the award: re-score the tender with the firm's bid changed: who would have won, by how many points."""
    g = game_or_404(game_id)
    firm = asking_firm(g, body.firm)
    return jsonify(what_if_bid(get_db(), g, firm, body.period, tender, body.price, body.promised_service))


@bp.post("/games/<int:game_id>/replay")
@accepts(ReplayBody)
def replay(game_id: int, body: ReplayBody):
    """After the game: replay it with one past decision of the firm changed; final standings side by side."""
    g = game_or_404(game_id)
    firm = asking_firm(g, body.firm)
    return jsonify(replay_change(get_db(), g, firm, body.period, body.change))


rescore.caller = replay.caller = "team"  # or the instructor, naming the firm (web/openapi.py: signed in)
