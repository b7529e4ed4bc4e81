"""The instructor console: create games, pace periods, fill seats with bots, adjust, resolve, export."""

from __future__ import annotations

import re

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from crmsim.agents.bots import BOTS
from crmsim.scenarios import list_scenarios, load_scenario
from crmsim.web import export
from crmsim.web.actions import GAME_ACTIONS
from crmsim.web.db import get_db
from crmsim.web.guard import InputRefused
from crmsim.web.schemas import NewGameBody, read_form, validated
from crmsim.web.service import ServiceError, chosen_scenario, create_game, seconds_left, snapshots, submission_status
from crmsim.web.views import game_or_404, instructor_required, list_games

bp = Blueprint("instructor", __name__, url_prefix="/instructor")
BOT_SEAT = re.compile(r"^bot_([0-9]+)$")


def index_page(status: int = 200):
    scenarios = [load_scenario(n) for n in list_scenarios()]
    return render_template("instructor/index.html", games=list_games(), scenarios=scenarios, bots=BOTS), status


@bp.route("/")
@instructor_required
def index():
    return index_page()


def new_game_form() -> NewGameBody:
    """The new-game form as the API's body: team names one per line, bots from the seat selects (bot_0, bot_1...)."""
    f = request.form
    body = {k: f[k] for k in ("scenario_toml", "seed", "name", "period_minutes") if f.get(k, "").strip()}
    if "scenario" in f:  # blank: the pasted scenario file (or nothing chosen)
        body["scenario"] = f["scenario"]
    names = [n.strip() for n in f.get("teams", "").splitlines() if n.strip()]
    if names:
        body["teams"] = names
    body["bots"] = {m.group(1): v for k, v in f.items() if (m := BOT_SEAT.match(k)) and v}
    return validated(NewGameBody, body)


@bp.route("/games", methods=["POST"])
@instructor_required
def new_game():
    try:
        b = new_game_form()
        game = create_game(get_db(), chosen_scenario(b.scenario, b.scenario_toml), seed=b.seed, name=b.name, team_names=b.teams,
                           bots={int(k): v for k, v in b.bots.items()}, period_minutes=b.period_minutes)
    except InputRefused as exc:
        flash(_("Could not create the game: %(err)s", err=str(exc)), "error")
        return index_page(400)
    except ServiceError as exc:
        flash(_("Could not create the game: %(err)s", err=f"{exc.problem.field}: {_(exc.problem.rule)}"), "error")
        return index_page(exc.status)
    flash(_("Game created. Give each team its join code."))
    return redirect(url_for("instructor.console", game_id=game.id))


def console_page(game, status: int = 200):
    db = get_db()
    return render_template(
        "instructor/console.html",
        game=game,
        status=submission_status(db, game),
        seconds_left=seconds_left(game),
        snaps=snapshots(db, game),
        bots=BOTS,
    ), status


@bp.route("/games/<int:game_id>")
@instructor_required
def console(game_id: int):
    return console_page(game_or_404(game_id))


@bp.route("/games/<int:game_id>/<action>", methods=["POST"])
@instructor_required
def act(game_id: int, action: str):
    """A console button: the form read by the action's model (web/actions.py), one service call."""
    db = get_db()
    game = game_or_404(game_id)
    if action not in GAME_ACTIONS:
        flash(_("Unknown action: %(a)s", a=action), "error")
        return console_page(game, 404)
    try:
        done = GAME_ACTIONS[action].run(db, game, read_form(GAME_ACTIONS[action].body))
    except InputRefused as exc:
        flash(str(exc), "error")
        return console_page(game, 400)
    except ServiceError as exc:
        flash(f"{exc.problem.field}: {_(exc.problem.rule)}", "error")
        db.rollback()
        return console_page(game, exc.status)
    if "seconds" in done:
        flash(_("Period %(p)d resolved in %(s).2f s.", p=done["period"], s=done["seconds"]))
    else:
        flash(_("Done."))
    return redirect(url_for("instructor.console", game_id=game.id))


@bp.route("/games/<int:game_id>/export.zip")
@instructor_required
def export_zip(game_id: int):
    game = game_or_404(game_id)
    data = export.csv_zip(get_db(), game)
    return Response(data, mimetype="application/zip", headers={"Content-Disposition": f"attachment; filename=crmsim-game-{game.id}.zip"})


@bp.route("/games/<int:game_id>/export.xlsx")
@instructor_required
def export_xlsx(game_id: int):
    game = game_or_404(game_id)
    data = export.excel(get_db(), game)
    return Response(
        data,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=crmsim-game-{game.id}.xlsx"},
    )
