"""The instructor console: create games, pace periods, fill seats with bots, adjust, resolve, export."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from crmsim.agents.bots import BOTS
from crmsim.scenarios import ScenarioError, list_scenarios, load_scenario
from crmsim.web import export
from crmsim.web.db import get_db
from crmsim.web.service import (
    ServiceError,
    add_adjustment,
    create_game,
    extend_deadline,
    fill_with_bots,
    pause,
    resolve,
    resume,
    seconds_left,
    set_deadline,
    snapshots,
    submission_status,
)
from crmsim.web.views import game_or_404, instructor_required, list_games

bp = Blueprint("instructor", __name__, url_prefix="/instructor")


@bp.route("/")
@instructor_required
def index():
    scenarios = [load_scenario(n) for n in list_scenarios()]
    return render_template("instructor/index.html", games=list_games(), scenarios=scenarios, bots=BOTS)


@bp.route("/games", methods=["POST"])
@instructor_required
def new_game():
    f = request.form
    try:
        sc = load_scenario(f.get("scenario", "classroom-v1"))
        names = [n.strip() for n in f.get("teams", "").splitlines() if n.strip()] or None
        bots = {}
        for i in range(sc.firms.count):
            b = f.get(f"bot_{i}", "")
            if b:
                bots[i] = b
        game = create_game(
            get_db(), sc, seed=int(f.get("seed") or 1), name=f.get("name") or None, team_names=names, bots=bots,
            period_minutes=float(f.get("period_minutes") or 15),
        )
    except (ServiceError, ScenarioError, ValueError) as exc:
        flash(_("Could not create the game: %(err)s", err=str(exc)), "error")
        return redirect(url_for("instructor.index"))
    flash(_("Game created. Give each team its join code."))
    return redirect(url_for("instructor.console", game_id=game.id))


@bp.route("/games/<int:game_id>")
@instructor_required
def console(game_id: int):
    db = get_db()
    game = game_or_404(game_id)
    return render_template(
        "instructor/console.html",
        game=game,
        status=submission_status(db, game),
        seconds_left=seconds_left(game),
        snaps=snapshots(db, game),
        bots=BOTS,
    )


ACTIONS = {
    "pause": lambda db, g, f: pause(db, g),
    "resume": lambda db, g, f: resume(db, g),
    "deadline": lambda db, g, f: set_deadline(db, g, float(f.get("minutes", "0") or 0)),
    "extend": lambda db, g, f: extend_deadline(db, g, float(f.get("minutes", "5") or 5)),
    "bots": lambda db, g, f: fill_with_bots(db, g, f.get("bot", "balanced"), only_absent=f.get("scope", "absent") == "absent"),
    "adjust": lambda db, g, f: add_adjustment(db, g, int(f.get("firm", "-1")), float(f.get("amount", "nan")), f.get("reason", "")),
}


@bp.route("/games/<int:game_id>/<action>", methods=["POST"])
@instructor_required
def act(game_id: int, action: str):
    db = get_db()
    game = game_or_404(game_id)
    try:
        if action == "resolve":
            period = request.form.get("period", "")
            r = resolve(db, game, expected_period=int(period) if period.isdigit() else None)
            flash(_("Period %(p)d resolved in %(s).2f s.", p=r.period, s=r.seconds))
        elif action in ACTIONS:
            ACTIONS[action](db, game, request.form)
            flash(_("Done."))
        else:
            flash(_("Unknown action: %(a)s", a=action), "error")
    except ServiceError as exc:
        flash(f"{exc.problem.field}: {_(exc.problem.rule)}", "error")
    except ValueError as exc:
        flash(str(exc), "error")
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
